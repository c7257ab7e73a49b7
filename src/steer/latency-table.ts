/**
 * The static latency table of a policy file: estimated RTT (ms) from a client network to each
 * region. Rows are keyed by CIDR, ASN, country or continent; a lookup takes the most specific
 * row that matches the client *and* has a figure for the region, in the order
 * longest-prefix CIDR > ASN > country > continent (as Route 53's latency records fall back
 * from the measured network to coarser data). Pure: compiled once at load, read per query.
 */
import { clientNetworkPrefix, commonPrefixLength, parseCidr, type Cidr } from './cidr.js';
import { parseAddress, type Family, type IpAddress } from '../net/ip-parse.js';
import { SPECIFICITY, type ClientInfo, type LatencyEstimate, type LatencyTable } from './types.js';

/** One row as written in the policy file: exactly one of cidr, asn, country, continent. */
export interface LatencyRow {
  cidr?: string;
  asn?: number;
  country?: string;
  continent?: string;
  /** region -> ms */
  rtt: Record<string, number>;
}

interface Row {
  readonly rtt: ReadonlyMap<string, number>;
  /** For explain: "cidr 81.2.0.0/16", "asn 2856", "country GB", "continent EU". */
  readonly matched: string;
  readonly specificity: number;
}

/** All CIDR rows of one prefix length, by network: a longest-prefix match is one map probe per distinct length. */
interface PrefixLevel {
  readonly prefix: number;
  readonly mask: bigint;
  readonly rows: Map<bigint, Row[]>;
}

/** Compiles the rows; throws on a malformed row (the policy loader reports it with the file position). */
export function compileLatencyTable(rows: readonly LatencyRow[]): LatencyTable {
  const levels: Record<Family, PrefixLevel[]> = { 4: [], 6: [] };
  const allCidrs: Record<Family, { cidr: Cidr; rtt: ReadonlyMap<string, number> }[]> = { 4: [], 6: [] };
  const byAsn = new Map<number, Row[]>();
  const byCountry = new Map<string, Row[]>();
  const byContinent = new Map<string, Row[]>();
  const add = <K>(map: Map<K, Row[]>, key: K, row: Row): void => {
    const list = map.get(key);
    if (list) list.push(row);
    else map.set(key, [row]);
  };

  rows.forEach((r, i) => {
    const kinds = (['cidr', 'asn', 'country', 'continent'] as const).filter((k) => r[k] !== undefined);
    if (kinds.length !== 1) throw new Error(`latency row ${i}: needs exactly one of cidr, asn, country, continent`);
    // A Map, not the Record: a region named "constructor" must not find Object's.
    const rtt = new Map<string, number>();
    for (const [region, ms] of Object.entries(r.rtt)) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`latency row ${i}: rtt.${region} must be a number of milliseconds >= 0`);
      rtt.set(region, ms);
    }
    if (r.cidr !== undefined) {
      const cidr = parseCidr(r.cidr);
      allCidrs[cidr.family].push({ cidr, rtt });
      const family = levels[cidr.family];
      let level = family.find((l) => l.prefix === cidr.prefix);
      if (!level) family.push((level = { prefix: cidr.prefix, mask: cidr.mask, rows: new Map() }));
      add(level.rows, cidr.network, { rtt, matched: `cidr ${cidr.text}`, specificity: SPECIFICITY.network(cidr.prefix) });
    } else if (r.asn !== undefined) {
      add(byAsn, r.asn, { rtt, matched: `asn ${r.asn}`, specificity: SPECIFICITY.asn });
    } else if (r.country !== undefined) {
      const cc = r.country.toUpperCase();
      add(byCountry, cc, { rtt, matched: `country ${cc}`, specificity: SPECIFICITY.country });
    } else {
      const cont = r.continent!.toUpperCase();
      add(byContinent, cont, { rtt, matched: `continent ${cont}`, specificity: SPECIFICITY.continent });
    }
  });
  levels[4].sort((a, b) => b.prefix - a.prefix);
  levels[6].sort((a, b) => b.prefix - a.prefix);

  /** The first row (file order) of a list that has the region. */
  const pick = (list: readonly Row[] | undefined, region: string, scopePrefix: number): LatencyEstimate | null => {
    if (list === undefined) return null;
    for (const row of list) {
      const ms = row.rtt.get(region);
      if (ms !== undefined) return { ms, scopePrefix, matched: row.matched, specificity: row.specificity };
    }
    return null;
  };

  // The latency filter asks once per target for the same client: parse its address once.
  let lastText: string | null = null;
  let lastAddress: IpAddress | null = null;

  /**
   * A figure from a row holds for the client's network only while that network contains no
   * more specific CIDR row with a figure for the region: lengthen the scope until it excludes the nearest one (as the geo
   * filter does), so a resolver never reuses it inside such a row.
   */
  const excludingNested = (client: ClientInfo, region: string, est: LatencyEstimate | null): LatencyEstimate | null => {
    if (est === null) return null;
    const address = parseAddress(client.address);
    if (address === null) return est;
    let scope = est.scopePrefix;
    for (const { cidr, rtt } of allCidrs[address.family]) {
      if (cidr.prefix <= est.scopePrefix || !rtt.has(region)) continue;
      const common = commonPrefixLength(address, cidr);
      if (common >= est.scopePrefix) scope = Math.max(scope, Math.min(cidr.prefix, common + 1));
    }
    scope = Math.min(scope, client.sourcePrefix);
    return scope === est.scopePrefix ? est : { ...est, scopePrefix: scope };
  };

  const table: LatencyTable = {
    size: rows.length,
    lookup: (client, region) => excludingNested(client, region, table.lookupRow(client, region)),
    narrow: excludingNested,
    lookupRow(client: ClientInfo, region: string): LatencyEstimate | null {
      if (levels[4].length + levels[6].length > 0) {
        if (client.address !== lastText) {
          lastText = client.address;
          lastAddress = parseAddress(client.address);
        }
        const address = lastAddress;
        if (address !== null) {
          for (const level of levels[address.family]) {
            // Bits past the ECS source prefix are padding: a longer block cannot be said to hold the client.
            if (level.prefix > client.sourcePrefix) continue;
            const found = pick(level.rows.get(address.value & level.mask), region, level.prefix);
            if (found) return found;
          }
        }
      }
      const geo = client.geo;
      // A geo field without its prefix should not happen; if it does, claim the client's network
      // rather than 0 (0 would tell resolvers the figure holds for every client).
      if (geo.asn !== null) {
        const found = pick(byAsn.get(geo.asn), region, geo.asnPrefix ?? clientNetworkPrefix(client.family, client.sourcePrefix));
        if (found) return found;
      }
      if (geo.country !== null) {
        const found = pick(byCountry.get(geo.country.toUpperCase()), region, geo.geoPrefix ?? clientNetworkPrefix(client.family, client.sourcePrefix));
        if (found) return found;
      }
      if (geo.continent !== null) {
        const found = pick(byContinent.get(geo.continent.toUpperCase()), region, geo.geoPrefix ?? clientNetworkPrefix(client.family, client.sourcePrefix));
        if (found) return found;
      }
      return null;
    },
  };
  return table;
}
