/**
 * The build, zone-reload and GeoIP metrics (issue #17) over real HTTP and DNS: a zone file
 * broken and reloaded reads success 0 and one more error, while its old serial keeps serving.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { udp } from '../support/dns-client.js';
import { servingPortsWithApi, startCliServer, tempCopy } from '../support/process.js';
import { projectRoot } from '../support/test-server.js';
import { VERSION } from '../../src/version.js';

const GEOIP = path.join(projectRoot, 'test/fixtures/geoip');
let dir: { dir: string; remove: () => void };
let configFile: string;

before(() => {
  dir = tempCopy(path.join(projectRoot, 'zones'));
  configFile = path.join(dir.dir, 'meridian.yaml');
  fs.writeFileSync(
    configFile,
    [
      'admin: { audit: { file: null } }',
      'health: { stateFile: null }',
      'zones: { watch: false }',
      `geoip: { location: ${JSON.stringify(path.join(GEOIP, 'GeoIP2-City-Test.mmdb'))}, asn: ${JSON.stringify(path.join(GEOIP, 'GeoLite2-ASN-Test.mmdb'))} }`,
      '',
    ].join('\n'),
  );
});
after(() => dir.remove());

/** The value of one sample, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('zone and build metrics', () => {
  it('report build info, serials, reload outcomes and GeoIP build dates; a broken file counts an error and keeps its serial serving', async () => {
    const s = await startCliServer(['--config', configFile, '--zones', dir.dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    const { dns, api } = servingPortsWithApi(s.output());
    try {
      const scrape = (): Promise<string> => fetch(`http://127.0.0.1:${api}/metrics`).then((r) => r.text());
      const soaSerial = async (): Promise<number> => {
        const answer = (await udp(dns, 'example.com', 'SOA')).msg.answers[0];
        assert.ok(answer !== undefined, 'an SOA answer');
        return (answer.data as { serial: number }).serial;
      };
      const zone = (name: string, z = 'example.com.') => `${name}{zone="${z}"}`;
      const started = Date.now() / 1000;

      let m = await scrape();
      assert.equal(sample(m, `meridian_build_info{version="${VERSION}",node="${process.version}"}`), 1);
      assert.equal(sample(m, zone('meridian_zone_serial')), 2026112201);
      assert.equal(sample(m, zone('meridian_zone_serial', 'eu.example.com.')) !== undefined, true);
      assert.equal(sample(m, zone('meridian_zone_last_reload_success')), 1);
      assert.equal(sample(m, zone('meridian_zone_reload_errors_total')), 0);
      const loadedAt = sample(m, zone('meridian_zone_last_reload_timestamp_seconds'))!;
      assert.ok(loadedAt > started - 60 && loadedAt <= Date.now() / 1000, `loadedAt ${loadedAt}`);
      assert.equal(sample(m, 'meridian_geoip_build_timestamp_seconds{database="GeoIP2-City"}'), 1770245369);
      assert.equal(sample(m, 'meridian_geoip_build_timestamp_seconds{database="GeoLite2-ASN"}'), 1770245369);
      assert.equal(await soaSerial(), 2026112201);

      // a new serial with a syntax error: the reload must fail and keep the old version
      const file = path.join(dir.dir, 'example.com.zone');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('2026112201 ; serial', '2026112299 ; serial') + 'broken IN A not-an-address\n');
      for (let round = 1; round <= 2; round++) {
        const res = await fetch(`http://127.0.0.1:${api}/v1/reload`, { method: 'POST' });
        assert.equal(res.status, 200, await res.text());
        for (let i = 0; i < 100 && sample(m, zone('meridian_zone_reload_errors_total')) !== round; i++) {
          await new Promise((r) => setTimeout(r, 50));
          m = await scrape();
        }
        assert.equal(sample(m, zone('meridian_zone_reload_errors_total')), round);
        assert.equal(sample(m, zone('meridian_zone_last_reload_success')), 0);
        assert.equal(sample(m, zone('meridian_zone_serial')), 2026112201);
        assert.equal(sample(m, zone('meridian_zone_last_reload_timestamp_seconds')), loadedAt);
        // the other zones reloaded fine
        assert.equal(sample(m, zone('meridian_zone_last_reload_success', 'eu.example.com.')), 1);
        assert.equal(sample(m, zone('meridian_zone_reload_errors_total', 'eu.example.com.')), 0);
        assert.equal(await soaSerial(), 2026112201);
      }
    } finally {
      await s.stop();
    }
  });
});
