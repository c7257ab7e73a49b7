/**
 * ISO 3166-1 alpha-2 country code → continent code (AF AN AS EU NA OC SA), for databases that
 * carry only a country (the flat ip-location-db / DB-IP schema `{ country_code }`), and for
 * records that leave the continent out.
 *
 * The assignment follows GeoNames' countryInfo.txt, which is what MaxMind's continent.code uses,
 * so a flat DB and a GeoIP2 DB agree: e.g. TR, AM, AZ, GE → AS; CY, RU → EU; EG → AF;
 * PA and the Caribbean → NA; TL, CX → OC; the uninhabited southern territories (AQ BV GS HM TF) → AN.
 * All 249 officially assigned codes, plus XK (Kosovo, user-assigned but used by MaxMind and the RIRs),
 * plus LEGACY_CODES below, which RIR-derived data still carries.
 */

/** The seven continent codes MaxMind uses, with their English names. */
export const CONTINENT_NAMES: Readonly<Record<string, string>> = Object.freeze({
  AF: 'Africa',
  AN: 'Antarctica',
  AS: 'Asia',
  EU: 'Europe',
  NA: 'North America',
  OC: 'Oceania',
  SA: 'South America',
});

// One line per continent, sorted, so a reviewer can check it against GeoNames at a glance.
const TABLE: Readonly<Record<string, string>> = {
  AF: 'AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ ' + 'NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW',
  AN: 'AQ BV GS HM TF',
  AS: 'AE AF AM AZ BD BH BN BT CC CN GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY ' + 'NP OM PH PK PS QA SA SG SY TH TJ TM TR TW UZ VN YE',
  EU: 'AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ' + 'ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK',
  NA: 'AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX ' + 'TC TT US VC VG VI',
  OC: 'AS AU CK CX FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TL TO TV UM VU WF WS',
  SA: 'AR BO BR CL CO EC FK GF GY PE PY SR UY VE',
};

/**
 * Codes that are not (or no longer) ISO 3166-1 but occur in RIR-derived databases:
 * AN (Netherlands Antilles, withdrawn 2010; geo-whois-asn-country 2.3.2026061719 still has it),
 * EU and AP (RIR delegations to "Europe" and "Asia/Pacific" as a whole), CS and YU (Serbia and
 * Montenegro / Yugoslavia), UK (an alias of GB some sources use).
 */
export const LEGACY_CODES: Readonly<Record<string, string>> = Object.freeze({
  AN: 'NA',
  AP: 'AS',
  CS: 'EU',
  EU: 'EU',
  UK: 'EU',
  YU: 'EU',
});

/** Country code → continent code: 250 current codes (249 ISO 3166-1 + XK) and LEGACY_CODES. */
export const COUNTRY_CONTINENT: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  for (const [continent, countries] of Object.entries(TABLE)) {
    for (const country of countries.split(' ')) map.set(country, continent);
  }
  for (const [country, continent] of Object.entries(LEGACY_CODES)) map.set(country, continent);
  return map;
})();

/** The continent of an ISO 3166-1 alpha-2 code (case-insensitive), or null when unknown. */
export function continentOfCountry(country: string | null | undefined): string | null {
  if (!country) return null;
  return COUNTRY_CONTINENT.get(country.toUpperCase()) ?? null;
}

/**
 * The country whose address the status page shows for each continent, when the database has
 * one (a large hub of that continent); else the first address the database places there.
 */
export const SAMPLE_COUNTRIES: Readonly<Record<string, string>> = Object.freeze({
  AF: 'NG',
  AN: 'AQ',
  AS: 'SG',
  EU: 'DE',
  NA: 'US',
  OC: 'AU',
  SA: 'BR',
});
