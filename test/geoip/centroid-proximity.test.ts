/**
 * Issue #17 item 8: proximity on a country-only database. A client whose record has a country
 * and no coordinates is placed at its country's centroid, so `proximity` picks the nearest
 * region instead of answering every region; `explain` says the location is approximate, and
 * the ECS scope is the prefix of the database's country network. Over real sockets, with the
 * default database (real addresses) and a GeoIP2-Country test database (documentation ranges).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Dashboard } from '../../src/admin/dashboard.js';
import { openGeoDatabase } from '../../src/geoip/geo-database.js';
import { udp } from '../support/dns-client.js';
import { ecsOf, ecsOption } from '../support/ecs.js';
import { runCli } from '../support/process.js';
import { writeSteeredZone } from '../support/steered-zone.js';
import { projectRoot, startTestServer, type TestServer } from '../support/test-server.js';

const DEFAULT_DB = path.join(projectRoot, 'geoip/geo-whois-asn-country.mmdb');
const COUNTRY_DB = path.join(projectRoot, 'test/fixtures/geoip/GeoDNS-Country-Test.mmdb');

const POLICY = `targets:
  eu: { region: eu, ipv4: [10.0.0.1], location: { lat: 50.1, lon: 8.7 } }     # Frankfurt
  us: { region: us, ipv4: [10.0.0.2], location: { lat: 38.9, lon: -77.0 } }   # Virginia
  ap: { region: ap, ipv4: [10.0.0.3], location: { lat: 1.35, lon: 103.8 } }   # Singapore
  sa: { region: sa, ipv4: [10.0.0.4], location: { lat: -23.5, lon: -46.6 } }  # Sao Paulo
names:
  near:
    ttl: 60
    targets: [eu, us, ap, sa]
    policy:
      - health: {}
      - proximity: { count: 1 }
  geo:
    ttl: 60
    targets: [eu, us, ap, sa]
    policy:
      - geo:
          rules:
            - countries: [GB]
              targets: [eu]
          default:
            targets: [eu, us, ap, sa]
            chain:
              - proximity: {}
`;

/** A config folder with the prox.test zone and the given location database. */
function setup(db: string): { config: string; zones: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-centroid-'));
  const zones = path.join(dir, 'zones');
  fs.mkdirSync(zones);
  writeSteeredZone(zones, 'prox.test', POLICY);
  const config = path.join(dir, 'meridian.yaml');
  fs.writeFileSync(config, `zones:\n  directory: zones\ngeoip:\n  location: ${db}\nlog:\n  level: silent\n`);
  return { config, zones, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function ask(server: TestServer, name: string, client: string): Promise<{ addrs: string[]; scope: number | null }> {
  const { raw, msg } = await udp(server.port, name, 'A', { edns: true, options: [ecsOption(client)] });
  return { addrs: msg.answers.filter((a) => a.type === 'A').map((a) => a.data as string), scope: ecsOf(raw)?.scope ?? null };
}

for (const [label, db, cases] of [
  [
    'the default database (real addresses)',
    DEFAULT_DB,
    [
      ['8.8.8.8', '10.0.0.2', 'US'], // Google Public DNS, centroid 38, -97: Virginia
      ['193.0.6.139', '10.0.0.1', 'NL'], // www.ripe.net: Frankfurt
      ['1.1.1.1', '10.0.0.3', 'AU'], // APNIC, registered in Australia: Singapore is nearer than Sao Paulo
      ['200.160.2.3', '10.0.0.4', 'BR'], // registro.br
    ],
  ],
  [
    'a GeoIP2-Country database',
    COUNTRY_DB,
    [
      ['192.0.2.10', '10.0.0.1', 'DE'],
      ['192.0.2.70', '10.0.0.2', 'US'],
      ['192.0.2.130', '10.0.0.4', 'BR'],
      ['192.0.2.200', '10.0.0.3', 'JP'],
    ],
  ],
] as const) {
  describe(`proximity with ${label}: the country centroid`, () => {
    let files: ReturnType<typeof setup>;
    let server: TestServer;
    const geo = openGeoDatabase(db);
    before(async () => {
      files = setup(db);
      server = await startTestServer(files.zones, files.config);
    });
    after(async () => {
      await server?.close();
      files?.remove();
    });

    for (const [client, expected, country] of cases) {
      it(`${client} (${country}) gets the region nearest its country, scoped to the country network`, async () => {
        const record = geo.lookup(client);
        assert.equal(record?.country, country);
        for (const name of ['near.prox.test', 'geo.prox.test']) {
          const r = await ask(server, name, `${client}/32`);
          assert.deepEqual(r.addrs, [expected], `${name} for ${client}`);
          // The database's network for the country, not the client's /24 nor everyone (/0).
          assert.equal(r.scope, record.prefix, `${name}: ECS scope is the country network ${record.network}`);
          // Asked again from elsewhere in that network: the same answer (the decision cache keys on it).
          assert.deepEqual((await ask(server, name, `${client}/32`)).addrs, [expected]);
        }
      });
    }
  });
}

describe('meridian explain on a country-only database', () => {
  let files: ReturnType<typeof setup>;
  before(() => {
    files = setup(DEFAULT_DB);
  });
  after(() => files?.remove());

  it('says the location is approximate, a country centroid, and gives the country network as the scope', async () => {
    const record = openGeoDatabase(DEFAULT_DB).lookup('8.8.8.8')!;
    const r = await runCli(['explain', 'near.prox.test', 'A', '--client', '8.8.8.8', '--config', files.config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /location: continent NA; country US; location 38, -97 \(approximate: country centroid of US\)/);
    assert.match(r.stdout, /proximity +kept \[us\]: nearest 1 to 38\.00,-97\.00 \(approximate: country centroid of US\): us \d+ km/);
    assert.match(r.stdout, /answer: +10\.0\.0\.2 \(TTL 60\)/);
    assert.equal(r.stdout.trimEnd().split('\n').at(-1), `  ECS scope: /${record.prefix}`);
    const json = JSON.parse((await runCli(['explain', 'near.prox.test', 'A', '--client', '8.8.8.8', '--config', files.config, '--json'])).stdout) as {
      client: { geo: { locationApprox?: string; location: unknown } };
      scope: number;
    };
    assert.equal(json.client.geo.locationApprox, 'country-centroid');
    assert.deepEqual(json.client.geo.location, { lat: 38, lon: -97 });
    assert.equal(json.scope, record.prefix);
  });
});

describe('the status page on the default database', () => {
  let files: ReturnType<typeof setup>;
  let server: TestServer;
  before(async () => {
    files = setup(DEFAULT_DB);
    server = await startTestServer(files.zones, files.config, { admin: '127.0.0.1:0' });
  });
  after(async () => {
    await server?.close();
    files?.remove();
  });

  it('shows, per continent, a real address of the database and the answer a query from it gets', async () => {
    const res = await fetch(`http://127.0.0.1:${server.adminAddress!.port}/v1/dashboard`);
    assert.equal(res.status, 200);
    const d = (await res.json()) as Dashboard;
    const near = d.names.find((n) => n.name === 'near.prox.test.')!;
    const geo = openGeoDatabase(DEFAULT_DB);
    assert.deepEqual(
      near.continents.map((c) => c.continent),
      ['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'],
    );
    for (const c of near.continents) {
      assert.ok(c.address !== null, `${c.continent}: an address`);
      assert.equal(geo.lookup(c.address)?.continent, c.continent, `${c.address} is on ${c.continent} in the database`);
      assert.equal(c.outcome, 'answer');
      // One answer, the nearest region to the country centroid: exactly what the DNS answers that address.
      assert.equal(c.answers.length, 1, `${c.continent}: ${JSON.stringify(c.answers)}`);
      assert.deepEqual((await ask(server, 'near.prox.test', `${c.address}/32`)).addrs, c.answers[0]!.addresses, `${c.continent} ${c.client}`);
    }
  });
});
