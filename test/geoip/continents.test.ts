/** The country → continent table used for flat (country_code only) databases. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTINENT_NAMES, COUNTRY_CONTINENT, continentOfCountry, LEGACY_CODES } from '../../src/geoip/continents.js';

// Codes ICU knows as regions but that are not ISO 3166-1 alpha-2 country codes (or are withdrawn).
const NOT_ISO = new Set('AC AN BU CP CQ CS DD DG DY EA EU EZ FX HV IC NH QO RH SU TA TP UK UN VD XA XB XK YD YU ZR ZZ'.split(' '));

describe('COUNTRY_CONTINENT', () => {
  it('covers every ISO 3166-1 alpha-2 code, plus XK and the legacy codes', () => {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    const iso: string[] = [];
    for (let a = 65; a <= 90; a++) {
      for (let b = 65; b <= 90; b++) {
        const code = String.fromCharCode(a, b);
        if (!NOT_ISO.has(code) && names.of(code) !== code) iso.push(code);
      }
    }
    assert.equal(iso.length, 249);
    assert.deepEqual(
      iso.filter((c) => !COUNTRY_CONTINENT.has(c)),
      [],
    );
    const extra = [...COUNTRY_CONTINENT.keys()].filter((c) => !iso.includes(c)).sort();
    assert.deepEqual(extra, ['XK', ...Object.keys(LEGACY_CODES)].sort());
    for (const continent of COUNTRY_CONTINENT.values()) assert.ok(continent in CONTINENT_NAMES, continent);
  });

  it('follows the GeoNames / MaxMind assignment for the border cases', () => {
    const table: [string, string][] = [
      ['GB', 'EU'],
      ['RU', 'EU'],
      ['CY', 'EU'],
      ['TR', 'AS'],
      ['GE', 'AS'],
      ['AM', 'AS'],
      ['AZ', 'AS'],
      ['KZ', 'AS'],
      ['EG', 'AF'],
      ['LY', 'AF'],
      ['PA', 'NA'],
      ['GL', 'NA'],
      ['PR', 'NA'],
      ['BR', 'SA'],
      ['GF', 'SA'],
      ['AU', 'OC'],
      ['TL', 'OC'],
      ['UM', 'OC'],
      ['AQ', 'AN'],
      ['TF', 'AN'],
      ['XK', 'EU'],
      ['AN', 'NA'],
      ['EU', 'EU'],
      ['AP', 'AS'],
    ];
    for (const [country, continent] of table) assert.equal(continentOfCountry(country), continent, country);
  });

  it('is case-insensitive and null for unknown or missing codes', () => {
    assert.equal(continentOfCountry('jp'), 'AS');
    assert.equal(continentOfCountry('ZZ'), null);
    assert.equal(continentOfCountry(''), null);
    assert.equal(continentOfCountry(null), null);
    assert.equal(continentOfCountry(undefined), null);
  });
});
