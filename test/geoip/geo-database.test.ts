/**
 * GeoIP databases and the resolver, against real .mmdb files (MaxMind's test DBs, the
 * project's generated documentation-range DBs, and the default database in geoip/).
 * Known IPs come from ../shared/geoip/README.md "Known IPs".
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Reader, type Response } from 'maxmind';
import { type GeoDatabase, emptyGeoInfo, GeoDatabaseError, GeoResolver, openGeoDatabase, countryCentroid } from '../../src/geoip/geo-database.js';
import type { GeoInfo } from '../../src/steer/types.js';
import { formatAddress } from '../../src/net/ip-format.js';
import { parseAddress } from '../../src/net/ip-parse.js';

// dist/test/geoip/x.test.js → the project root is three levels up.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const FIX = path.join(ROOT, 'test/fixtures/geoip');
const fixture = (name: string): string => path.join(FIX, name);
const DEFAULT_DB = path.join(ROOT, 'geoip/geo-whois-asn-country.mmdb');

let city: GeoDatabase;
let country: GeoDatabase;
let asn: GeoDatabase;
let genCity: GeoDatabase;
let genCountry: GeoDatabase;
let flatV4: GeoDatabase;
let tmp: string;

before(() => {
  city = openGeoDatabase(fixture('GeoIP2-City-Test.mmdb'));
  country = openGeoDatabase(fixture('GeoLite2-Country-Test.mmdb'));
  asn = openGeoDatabase(fixture('GeoLite2-ASN-Test.mmdb'));
  genCity = openGeoDatabase(fixture('GeoDNS-City-Test.mmdb'));
  genCountry = openGeoDatabase(fixture('GeoDNS-Country-Test.mmdb'));
  flatV4 = openGeoDatabase(fixture('Flat-Country-IPv4-Test.mmdb'));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-geoip-'));
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The location fields of a GeoInfo, for compact table assertions. */
function where(g: GeoInfo): string {
  return [g.country ?? '-', g.continent ?? '-', g.subdivisions.join(',') || '-', g.geoPrefix ?? '-'].join(' ');
}

function isEmpty(g: GeoInfo): boolean {
  return g.continent === null && g.country === null && g.subdivisions.length === 0 && g.location === null && g.asn === null && g.geoPrefix === null && g.asnPrefix === null;
}

describe('openGeoDatabase', () => {
  it('detects the schema and reads the metadata', () => {
    const seen = [city, country, asn, genCity, genCountry, flatV4].map((d) => `${path.basename(d.info.file)} ${d.info.kind} ${d.info.databaseType} v${d.info.ipVersion}`);
    assert.deepEqual(seen, [
      'GeoIP2-City-Test.mmdb city GeoIP2-City v6',
      'GeoLite2-Country-Test.mmdb country GeoLite2-Country v6',
      'GeoLite2-ASN-Test.mmdb asn GeoLite2-ASN v6',
      'GeoDNS-City-Test.mmdb city GeoIP2-City v6',
      'GeoDNS-Country-Test.mmdb country GeoIP2-Country v6',
      'Flat-Country-IPv4-Test.mmdb flat-country country ipv4 v4',
    ]);
    assert.equal(city.info.file, fixture('GeoIP2-City-Test.mmdb'));
    assert.ok(city.info.buildEpoch instanceof Date);
    assert.equal(genCity.info.buildEpoch.toISOString(), '2026-01-01T00:00:00.000Z');
    // "country ipv4" is not a name; the file name labels the source instead.
    assert.equal(flatV4.info.label, 'Flat-Country-IPv4-Test');
    assert.equal(city.info.label, 'GeoIP2-City');
    assert.ok(Object.isFrozen(city.info));
  });

  it('rejects the corrupt DB that maxmind itself opens (bad node count)', () => {
    const file = fixture('GeoIP2-City-Test-Invalid-Node-Count.mmdb');
    // The pitfall: mmdb-lib opens it, and a lookup throws later, on the query path.
    const raw = new Reader<Response>(fs.readFileSync(file));
    assert.throws(() => raw.get('81.2.69.142'));
    assert.throws(
      () => openGeoDatabase(file),
      (err: unknown) => {
        assert.ok(err instanceof GeoDatabaseError);
        assert.equal(err.code, 'GSLB_ERR_GEOIP_INVALID');
        assert.equal(err.file, file);
        assert.match(err.message, /node count/);
        return true;
      },
    );
  });

  it('rejects files that are not MaxMind DBs, or unreadable', () => {
    const text = fixture('LICENSE-MIT');
    const empty = path.join(tmp, 'empty.mmdb');
    fs.writeFileSync(empty, '');
    const truncated = path.join(tmp, 'truncated.mmdb');
    fs.writeFileSync(truncated, fs.readFileSync(fixture('GeoIP2-City-Test.mmdb')).subarray(0, 11_000));
    for (const file of [text, empty, truncated, path.join(tmp, 'missing.mmdb'), tmp]) {
      assert.throws(
        () => openGeoDatabase(file),
        (err: unknown) => err instanceof GeoDatabaseError && err.code === 'GSLB_ERR_GEOIP_INVALID' && err.message.startsWith(file),
        file,
      );
    }
  });

  it('rejects a DB whose data section is damaged, by its test lookup', () => {
    const good = fs.readFileSync(fixture('GeoIP2-City-Test.mmdb'));
    const treeEnd = new Reader<Response>(good).metadata.searchTreeSize + 16;
    const bad = Buffer.from(good);
    bad.fill(0xff, treeEnd, treeEnd + 2000);
    const file = path.join(tmp, 'bad-data.mmdb');
    fs.writeFileSync(file, bad);
    assert.throws(() => openGeoDatabase(file), /test lookup failed/);
  });

  it('rejects a valid MMDB without a GeoIP schema (records like {"ip": "1.1.1.1"})', () => {
    assert.throws(
      () => openGeoDatabase(fixture('MaxMind-DB-test-ipv4-24.mmdb')),
      (err: unknown) => err instanceof GeoDatabaseError && err.message.includes('not a supported GeoIP schema'),
    );
  });

  it('opens a gzip-compressed database', async () => {
    const { gzipSync } = await import('node:zlib');
    const file = path.join(tmp, 'country.mmdb.gz');
    fs.writeFileSync(file, gzipSync(fs.readFileSync(fixture('GeoLite2-Country-Test.mmdb'))));
    const db = openGeoDatabase(file);
    assert.equal(db.info.kind, 'country');
    assert.equal(db.lookup('81.2.69.142')?.country, 'GB');
  });
});

describe('GeoDatabase.lookup', () => {
  it('reads every field of a City record', () => {
    const r = city.lookup('81.2.69.142');
    assert.deepEqual(r, {
      continent: 'EU',
      country: 'GB',
      subdivisions: ['GB-ENG'],
      city: 'London',
      location: { lat: 51.5142, lon: -0.0931 },
      accuracyRadiusKm: 10,
      asn: null,
      asnOrganization: null,
      isAnycast: false,
      prefix: 31,
      network: '81.2.69.142/31',
    });
    assert.deepEqual(city.lookup('2.125.160.216')?.subdivisions, ['GB-ENG', 'GB-WBK']); // most general first
    assert.equal(city.lookup('214.1.1.1')?.isAnycast, true);
  });

  it('reads ASN records, with and without an organisation', () => {
    assert.deepEqual(asn.lookup('89.160.20.128'), {
      continent: null,
      country: null,
      subdivisions: [],
      city: null,
      location: null,
      accuracyRadiusKm: null,
      asn: 29518,
      asnOrganization: 'Bredband2 AB',
      isAnycast: false,
      prefix: 17,
      network: '89.160.0.0/17',
    });
    const noOrg = asn.lookup('67.43.156.1');
    assert.equal(noOrg?.asn, 35908);
    assert.equal(noOrg?.asnOrganization, null);
    assert.equal(asn.lookup('2600:7000::1')?.asn, 6939);
  });

  it('returns null for invalid text that maxmind would accept', () => {
    // mmdb-lib answers GB for both of these; net.isIP rejects them.
    for (const bad of ['081.002.069.142', '81.2.69.142%eth0', 'not-an-ip', '', '1.2.3', ' 81.2.69.142', 'fe80::1%eth0']) {
      assert.equal(city.lookup(bad), null, bad);
    }
  });

  it('never sends IPv6 to an IPv4-only database', () => {
    // The fixture maps 32.0.0.0/8 to US so that a raw IPv6 query, which walks the first
    // 32 bits (2001:db8:: = 32.1.13.184), gets a wrong answer - as real v4-only DBs do.
    const raw = new Reader<Response>(fs.readFileSync(fixture('Flat-Country-IPv4-Test.mmdb')));
    assert.deepEqual(raw.getWithPrefixLength('2001:db8::1'), [{ country_code: 'US' }, 8]);
    assert.equal(flatV4.info.ipVersion, 4);
    assert.equal(flatV4.lookup('2001:db8::1'), null);
    assert.equal(flatV4.lookup('2001:db8:3::1'), null);
    // IPv4 and IPv4-mapped addresses still work.
    assert.equal(flatV4.lookup('192.0.2.130')?.country, 'BR');
    assert.equal(flatV4.lookup('::ffff:192.0.2.130')?.country, 'BR');
    assert.equal(flatV4.lookup('32.1.13.184')?.country, 'US');

    const r = new GeoResolver(flatV4, null);
    const g = r.lookup('2001:db8::1');
    assert.ok(isEmpty(g));
    assert.equal(g.source, 'Flat-Country-IPv4-Test IPv4-only');
  });

  it('derives the continent from the country in the flat schema', () => {
    assert.deepEqual(flatV4.lookup('198.51.100.7'), {
      continent: 'OC',
      country: 'AU',
      subdivisions: [],
      city: null,
      location: null,
      accuracyRadiusKm: null,
      asn: null,
      asnOrganization: null,
      isAnycast: false,
      prefix: 24,
      network: '198.51.100.0/24',
    });
    // An unknown code keeps the country and has no continent.
    const zz = flatV4.lookup('203.0.113.200');
    assert.equal(zz?.country, 'ZZ');
    assert.equal(zz?.continent, null);
  });
});

describe('GeoResolver with GeoIP2-City + GeoLite2-ASN', () => {
  let r: GeoResolver;
  before(() => {
    r = new GeoResolver(city, asn);
  });

  it('81.2.69.142: GB / EU / GB-ENG, London, /31', () => {
    const g = r.lookup('81.2.69.142');
    assert.deepEqual(g, {
      continent: 'EU',
      country: 'GB',
      subdivisions: ['GB-ENG'],
      location: { lat: 51.5142, lon: -0.0931 },
      asn: null,
      geoPrefix: 31,
      asnPrefix: null,
      // The longer of the City record's /31 and the empty ASN node the address fell in.
      networkPrefix: 31,
      source: 'GeoIP2-City 81.2.69.142/31; GeoLite2-ASN no match for 81.2.69.142',
    });
    assert.ok(Object.isFrozen(g));
  });

  it('networkPrefix: the network over which the answer cannot change, records or not', () => {
    // Every address of the networkPrefix network gets the same GeoInfo, record or hole.
    for (const address of ['81.2.69.142', '89.160.20.128', '8.8.8.8', '2001:218::1']) {
      const g = r.lookup(address);
      const prefix = g.networkPrefix!;
      assert.ok(prefix >= (g.geoPrefix ?? 0) && prefix >= (g.asnPrefix ?? 0), `${address}: /${prefix}`);
      const bits = address.includes(':') ? 128 : 32;
      if (prefix < bits) {
        // The last address of the same network answers alike.
        const a = parseAddress(address)!;
        const last = formatAddress({ family: a.family, value: a.value | ((1n << BigInt(bits - prefix)) - 1n) });
        const h = r.lookup(last);
        assert.deepEqual([h.country, h.asn, h.geoPrefix, h.asnPrefix, h.networkPrefix], [g.country, g.asn, g.geoPrefix, g.asnPrefix, g.networkPrefix], `${address} vs ${last}`);
      }
    }
    assert.equal(r.lookup('10.1.2.3').networkPrefix, undefined, 'special-purpose: unknown');
  });

  it('::ffff:81.2.69.142 is looked up as IPv4: the same answer, prefix /31 not /127', () => {
    // The raw reader gives /127 for the mapped form.
    const raw = new Reader<Response>(fs.readFileSync(fixture('GeoIP2-City-Test.mmdb')));
    assert.equal(raw.getWithPrefixLength('::ffff:81.2.69.142')[1], 127);
    const g = r.lookup('::ffff:81.2.69.142');
    assert.equal(where(g), 'GB EU GB-ENG 31');
    assert.deepEqual(g.location, { lat: 51.5142, lon: -0.0931 });
    assert.match(g.source, /^GeoIP2-City 81\.2\.69\.142\/31;/);
    assert.deepEqual(r.lookup('::FFFF:81.2.69.142'), r.lookup('81.2.69.142'));
  });

  it('joins the City record and the ASN record: 89.160.20.128', () => {
    const g = r.lookup('89.160.20.128');
    assert.equal(where(g), 'SE EU SE-E 25');
    assert.equal(g.asn, 29518);
    assert.equal(g.asnPrefix, 17);
    assert.equal(g.source, 'GeoIP2-City 89.160.20.128/25; GeoLite2-ASN 89.160.0.0/17');
  });

  it('known IPs on every continent, IPv4 and IPv6', () => {
    const table: [string, string][] = [
      ['81.2.69.160', 'GB EU GB-ENG 27'],
      ['2.125.160.216', 'GB EU GB-ENG,GB-WBK 29'],
      ['216.160.83.56', 'US NA US-WA 29'],
      ['214.78.120.1', 'US NA US-CA 22'],
      ['149.101.100.0', 'US NA - 28'],
      ['175.16.199.1', 'CN AS CN-22 24'],
      ['67.43.156.1', 'BT AS - 24'],
      ['202.196.224.1', 'PH AS - 20'],
      ['214.0.0.1', 'SG AS - 24'],
      ['214.0.1.1', 'AU OC AU-VIC 24'],
      ['2.3.3.1', '- EU - 24'],
      ['214.1.1.1', '- - - 24'],
      ['2001:480:10::1', 'US NA US-CA 48'],
      ['2001:218::1', 'JP AS - 32'],
      ['2001:250::1', 'CN AS - 31'],
      ['2a02:d180::1', 'DE EU - 29'],
      ['2a02:d3c0::1', 'GB EU - 29'],
      ['2a02:f400::1', 'AE AS - 29'],
      ['2a02:e700::1', 'LY AF - 29'],
      ['2a02:d500::1', '- EU - 29'],
      ['2002:5102:458e::1', 'GB EU GB-ENG 47'],
    ];
    for (const [ip, expected] of table) assert.equal(where(r.lookup(ip)), expected, ip);

    const au = r.lookup('214.0.1.1');
    assert.deepEqual(au.location, { lat: -37.8159, lon: 144.9669 });
    assert.equal(au.asn, 721);
    assert.equal(au.asnPrefix, 8);
    const jp = r.lookup('2001:218::1');
    assert.deepEqual(jp.location, { lat: 35.68536, lon: 139.75309 });
    assert.equal(jp.source, 'GeoIP2-City 2001:218::/32; GeoLite2-ASN no match for 2001:218::1');
    const ly = r.lookup('2a02:e700::1');
    assert.deepEqual(ly.location, { lat: 28, lon: 17 });
    assert.equal(ly.source, 'GeoIP2-City 2a02:e700::/29; GeoLite2-ASN no match for 2a02:e700::1');
  });

  it('ASN only: IPv4 and IPv6 networks the City DB does not have', () => {
    const tel = r.lookup('1.128.0.1');
    assert.equal(tel.country, null);
    assert.equal(tel.geoPrefix, null);
    assert.equal(tel.asn, 1221);
    assert.equal(tel.asnPrefix, 11);
    assert.equal(tel.source, 'GeoIP2-City no match for 1.128.0.1; GeoLite2-ASN 1.128.0.0/11');
    const dt = r.lookup('2003::1');
    assert.equal(dt.asn, 3320);
    assert.equal(dt.asnPrefix, 19);
    assert.match(dt.source, /GeoLite2-ASN 2003::\/19$/);
  });

  it('private, loopback, unknown and invalid addresses give empty info', () => {
    for (const ip of ['10.0.0.1', '::1', '127.0.0.1', '192.168.1.1', 'fe80::1', '::ffff:10.0.0.1', 'fd00::1', '100.64.0.1']) {
      const g = r.lookup(ip);
      assert.ok(isEmpty(g), ip);
      assert.match(g.source, /^not located: .* is /, ip);
    }
    assert.equal(r.lookup('10.0.0.1').source, 'not located: 10.0.0.1 is private-use 10.0.0.0/8 (RFC 1918)');
    assert.equal(r.lookup('::1').source, 'not located: ::1 is loopback ::1/128 (RFC 4291)');
    // Public, but in no test database.
    for (const ip of ['8.8.8.8', '2001:db8::1']) {
      const g = r.lookup(ip);
      assert.ok(isEmpty(g), ip);
      assert.equal(g.source, `GeoIP2-City no match for ${ip}; GeoLite2-ASN no match for ${ip}`);
    }
    for (const bad of ['not-an-ip', '', '081.002.069.142', '81.2.69.142%eth0', '1.2.3.4.5']) {
      const g = r.lookup(bad);
      assert.ok(isEmpty(g), bad);
      assert.match(g.source, /^invalid address/, bad);
    }
  });

  it('lists its databases, location first', () => {
    assert.deepEqual(
      r.databases.map((d) => d.databaseType),
      ['GeoIP2-City', 'GeoLite2-ASN'],
    );
    assert.ok(Object.isFrozen(r.databases));
  });
});

describe('GeoResolver with other layouts', () => {
  it('GeoLite2-Country: country and continent, no subdivisions or location', () => {
    const r = new GeoResolver(country, null);
    const g = r.lookup('81.2.69.142');
    assert.equal(where(g), 'GB EU - 31');
    // No coordinates in the record: the middle of the country, marked approximate.
    assert.deepEqual(g.location, { lat: 54, lon: -2 });
    assert.equal(g.locationApprox, 'country-centroid');
    assert.equal(g.source, 'GeoLite2-Country 81.2.69.142/31');
    assert.equal(where(r.lookup('217.65.48.1')), 'GI EU - 29');
    assert.equal(where(r.lookup('2a02:e700::1')), 'LY AF - 29');
  });

  it('generated City DB: South America, Oceania, Africa; ASN from traits', () => {
    const r = new GeoResolver(genCity, null);
    const br = r.lookup('192.0.2.130');
    assert.equal(where(br), 'BR SA - 26');
    assert.deepEqual(br.location, { lat: -23.5505, lon: -46.6333 });
    assert.equal(br.asn, 64498);
    assert.equal(br.asnPrefix, 26); // from the location record's own network
    assert.equal(br.source, 'GeoIP2-City 192.0.2.128/26');
    const table: [string, string, number][] = [
      ['192.0.2.1', 'DE EU - 26', 64496],
      ['192.0.2.100', 'US NA - 26', 64497],
      ['192.0.2.200', 'JP AS - 26', 64499],
      ['198.51.100.1', 'AU OC - 24', 64500],
      ['203.0.113.1', 'ZA AF - 25', 64501],
      ['2001:db8:1::1', 'DE EU - 48', 64496],
      ['2001:db8:2::1', 'US NA - 48', 64497],
      ['2001:db8:3::1', 'BR SA - 48', 64498],
      ['2001:db8:4::1', 'JP AS - 48', 64499],
      ['2001:db8:5::1', 'AU OC - 48', 64500],
      ['2001:db8:6::1', 'ZA AF - 48', 64501],
    ];
    for (const [ip, expected, asnNo] of table) {
      const g = r.lookup(ip);
      assert.equal(where(g), expected, ip);
      assert.equal(g.asn, asnNo, ip);
    }
    // 203.0.113.128/25: continent and location, no country (anycast).
    const any = r.lookup('203.0.113.200');
    assert.equal(where(any), '- AF - 25');
    assert.deepEqual(any.location, { lat: -26.2041, lon: 28.0473 });
    assert.equal(any.asn, null);
  });

  it('generated Country DB and an ASN DB that has nothing there', () => {
    const r = new GeoResolver(genCountry, asn);
    const g = r.lookup('192.0.2.130');
    assert.equal(where(g), 'BR SA - 26');
    assert.equal(g.asn, null);
    assert.equal(g.source, 'GeoIP2-Country 192.0.2.128/26; GeoLite2-ASN no match for 192.0.2.130');
    assert.equal(where(r.lookup('::ffff:203.0.113.9')), 'ZA AF - 24');
  });

  it('no databases: everything is empty', () => {
    const r = new GeoResolver(null, null);
    assert.deepEqual(r.databases, []);
    assert.deepEqual(r.lookup('81.2.69.142'), emptyGeoInfo('no GeoIP database'));
  });

  it('an ASN DB alone', () => {
    const r = new GeoResolver(null, asn);
    const g = r.lookup('89.160.20.112');
    assert.equal(g.asn, 29518);
    assert.equal(g.geoPrefix, null);
    assert.equal(g.country, null);
    assert.equal(g.source, 'GeoLite2-ASN 89.160.0.0/17');
  });

  it('refuses a database in the wrong slot', () => {
    assert.throws(() => new GeoResolver(asn, null), GeoDatabaseError);
    assert.throws(
      () => new GeoResolver(city, city),
      (err: unknown) => err instanceof GeoDatabaseError && err.message.includes('not an ASN database'),
    );
  });
});

describe('GeoResolver cache', () => {
  it('answers repeats from the cache, and stays within its bound', () => {
    const r = new GeoResolver(city, asn, { cacheSize: 3 });
    const first = r.lookup('81.2.69.142');
    assert.equal(r.lookup('81.2.69.142'), first); // the same frozen object
    r.lookup('89.160.20.128');
    r.lookup('2001:218::1');
    assert.equal(r.cacheEntries, 3);
    r.lookup('81.2.69.142'); // now the most recently used
    r.lookup('10.0.0.1'); // evicts 89.160.20.128, the least recently used
    assert.equal(r.cacheEntries, 3);
    assert.equal(r.lookup('81.2.69.142'), first);
    assert.equal(r.lookup('89.160.20.128').asn, 29518); // looked up again, still right
    assert.equal(r.cacheEntries, 3);
  });

  it('cacheSize 0 disables it', () => {
    const r = new GeoResolver(city, null, { cacheSize: 0 });
    const a = r.lookup('81.2.69.142');
    const b = r.lookup('81.2.69.142');
    assert.notEqual(a, b);
    assert.deepEqual(a, b);
    assert.equal(r.cacheEntries, 0);
  });

  it('a repeat lookup is cheap', () => {
    const r = new GeoResolver(city, asn);
    r.lookup('89.160.20.128');
    const n = 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) r.lookup('89.160.20.128');
    const nsPerLookup = Number(process.hrtime.bigint() - t0) / n;
    assert.ok(nsPerLookup < 5_000, `${nsPerLookup.toFixed(0)} ns per cached lookup`);
  });
});

describe('the default database (geoip/geo-whois-asn-country.mmdb)', () => {
  let db: GeoDatabase;
  let r: GeoResolver;
  before(() => {
    db = openGeoDatabase(DEFAULT_DB);
    r = new GeoResolver(db, null);
  });

  it('opens as a flat-country IPv4+IPv6 database', () => {
    assert.equal(db.info.kind, 'flat-country');
    assert.equal(db.info.databaseType, 'country ipvAll');
    assert.equal(db.info.ipVersion, 6);
    assert.equal(db.info.label, 'geo-whois-asn-country');
  });

  it('maps well-known public resolvers to a country and its continent', () => {
    const table: [string, string][] = [
      ['8.8.8.8', 'US NA'], // Google Public DNS
      ['2001:4860:4860::8888', 'US NA'],
      ['1.1.1.1', 'AU OC'], // APNIC's 1.1.1.0/24 is registered in Australia
      ['193.0.6.139', 'NL EU'], // www.ripe.net
      ['2001:67c:2e8:22::c100:68b', 'NL EU'],
    ];
    for (const [ip, expected] of table) {
      const g = r.lookup(ip);
      assert.equal(`${g.country} ${g.continent}`, expected, ip);
      assert.ok(g.geoPrefix !== null && g.geoPrefix > 0 && g.geoPrefix <= (ip.includes(':') ? 128 : 32), ip);
      assert.deepEqual(g.location, countryCentroid(g.country), `${ip}: the country's centroid`);
      assert.equal(g.locationApprox, 'country-centroid');
      assert.deepEqual(g.subdivisions, []);
      assert.match(g.source, /^geo-whois-asn-country \S+\/\d+$/);
    }
  });

  it('needs ::ffff: normalised: the file has no alias for IPv4-mapped addresses', () => {
    const raw = new Reader<Response>(fs.readFileSync(DEFAULT_DB));
    assert.equal(raw.get('::ffff:8.8.8.8'), null);
    const g = r.lookup('::ffff:8.8.8.8');
    assert.equal(g.country, 'US');
    assert.deepEqual(g, r.lookup('8.8.8.8'));
    assert.ok(g.geoPrefix !== null && g.geoPrefix <= 32);
  });

  it('private and loopback addresses: empty, although the file places some of them', () => {
    // The data has 192.168.0.0/16 and 172.16.0.0/12 as AU (a bug of this npm build).
    assert.equal(db.lookup('192.168.0.1')?.country, 'AU');
    for (const ip of ['10.0.0.1', '::1', '192.168.0.1', '172.16.0.1', '::ffff:192.168.0.1', 'fe80::1']) {
      const g = r.lookup(ip);
      assert.ok(isEmpty(g), ip);
      assert.match(g.source, /^not located: /, ip);
    }
  });
});
