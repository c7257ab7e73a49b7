/** `meridian check` validates zones like named-checkzone: file:line: message, non-zero exit on error. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli, tempCopy } from '../support/process.js';
import { fixtureZones, projectRoot } from '../support/test-server.js';

const SOA = '@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n';

function zoneDir(files: Record<string, string>): { dir: string; remove: () => void } {
  const t = tempCopy(path.join(projectRoot, 'test/fixtures/empty'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(t.dir, name), text);
  return t;
}

describe('meridian check', () => {
  it('accepts the example zones and the test zones', async () => {
    for (const dir of [path.join(projectRoot, 'zones'), fixtureZones]) {
      const r = await runCli(['check', '--zones', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /OK/);
    }
  });

  it('prints a line per GeoIP database: path, slot, type, build date, what it holds; a corrupt one fails naming the file', async () => {
    const r = await runCli(['check', '--zones', fixtureZones]);
    assert.equal(r.code, 0, r.stderr);
    const db = path.join(projectRoot, 'geoip/geo-whois-asn-country.mmdb');
    assert.match(
      r.stdout,
      new RegExp(
        `^${db.replace(/[.]/g, '\\.')}: location database geo-whois-asn-country \\(flat-country, IPv6\\), built \\d{4}-\\d\\d-\\d\\d, \\d{6,} networks, \\d{3} distinct records, no coordinates \\(proximity places clients at their country centroid\\): OK$`,
        'm',
      ),
    );
    const city = await runCli(['check', '--config', path.join(projectRoot, 'test/fixtures/steer/meridian.yaml'), '--zones', fixtureZones]);
    assert.equal(city.code, 0, city.stderr);
    assert.match(city.stdout, /GeoIP2-City-Test\.mmdb: location database GeoIP2-City \(city, IPv6\), built 2026-02-04, 250 networks, 63 distinct records, with coordinates: OK/);
    assert.match(city.stdout, /GeoLite2-ASN-Test\.mmdb: asn database GeoLite2-ASN \(asn, IPv6\), built 2026-02-04, \d+ networks, \d+ distinct records: OK/);

    const t = zoneDir({});
    try {
      const corrupt = path.join(projectRoot, 'test/fixtures/geoip/GeoIP2-City-Test-Invalid-Node-Count.mmdb');
      const conf = path.join(t.dir, 'meridian.yaml');
      fs.writeFileSync(conf, `geoip:\n  location: ${corrupt}\n`);
      const bad = await runCli(['check', '--config', conf, '--zones', fixtureZones]);
      assert.equal(bad.code, 1);
      assert.ok(bad.stderr.includes(`${corrupt}: `), bad.stderr);
      assert.match(bad.stderr, /corrupt node count/);
    } finally {
      t.remove();
    }
  });

  const cases: Array<[string, string, number, RegExp]> = [
    ['no SOA', '$TTL 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n', 0, /no SOA/],
    ['two SOAs', '$TTL 300\n' + SOA + '@ IN SOA ns2 hostmaster 2 7200 3600 1209600 300\n@ IN NS ns1\n', 2, /SOA/],
    ['no NS at apex', '$TTL 300\n' + SOA + 'www IN A 192.0.2.1\n', 2, /no NS/],
    ['CNAME beside other data', '$TTL 300\n' + SOA + '@ IN NS ns1\nwww IN CNAME x\nwww IN A 192.0.2.1\n', 5, /beside a CNAME/],
    ['data below a delegation', '$TTL 300\n' + SOA + '@ IN NS ns1\nsub IN NS ns.sub\nns.sub IN A 192.0.2.1\nx.sub IN TXT "no"\n', 6, /below the delegation/],
    ['bad address', '$TTL 300\n' + SOA + '@ IN NS ns1\nwww IN A 300.1.2.3\n', 4, /A/],
    ['unknown type', '$TTL 300\n' + SOA + '@ IN NS ns1\nwww IN FOO bar\n', 4, /FOO/],
  ];
  for (const [title, text, line, pattern] of cases) {
    it(`rejects a zone with ${title}, naming file and line`, async () => {
      const t = zoneDir({ 'bad.test.zone': text });
      try {
        const r = await runCli(['check', '--zones', t.dir]);
        assert.equal(r.code, 1);
        const file = path.join(t.dir, 'bad.test.zone');
        assert.ok(r.stderr.includes(`${file}:${line}:`), `expected ${file}:${line}: in:\n${r.stderr}`);
        assert.match(r.stderr, pattern);
      } finally {
        t.remove();
      }
    });
  }

  it("prints each steered name's worst-case failover, term by term, and warns only over the budget", async () => {
    const t = zoneDir({
      'slow.test.zone': '$TTL 300\n' + SOA + '@ IN NS ns1\n',
      'slow.test.policy.yaml':
        'probes:\n  web: { type: tcp, port: 80, interval: 1, timeout: 300, fall: 2, rise: 3, jitter: 500 }\n' +
        'targets:\n  a: { region: r, ipv4: [192.0.2.1], probe: web }\n' +
        'names:\n  fast:\n    ttl: 2\n    policy: [{ health: {} }]\n' +
        '  slow:\n    ttl: 5\n    downTtl: 1\n    policy: [{ health: {} }]\n',
    });
    try {
      const conf = path.join(t.dir, 'meridian.yaml');
      fs.writeFileSync(conf, 'health:\n  failoverBudgetSec: 8\n');
      const r = await runCli(['check', '--config', conf, '--zones', t.dir]);
      assert.equal(r.code, 0, 'a warning is not an error');
      const policy = path.join(t.dir, 'slow.test.policy.yaml');
      // 2 × (1 + 0.5) + 0.3 + 2 = 5.3 s: under the 8 s budget, printed, no warning
      assert.ok(
        r.stdout.includes(
          `${policy}:6: fast.slow.test. failover ≤ 2 fall × (1 s interval + 0.5 s jitter) + 0.3 s timeout + 2 s ttl = 5.3 s; ` +
            'recovery ≤ 3 rise × (1 s interval + 0.5 s jitter) + 0.3 s timeout + 2 s min(ttl, downTtl) = 6.8 s',
        ),
        r.stdout,
      );
      assert.ok(!r.stderr.includes(`${policy}:6:`), r.stderr);
      // 2 × (1 + 0.5) + 0.3 + 5 = 8.3 s > 8 s; without the jitter (7.3 s) it would pass unnoticed. downTtl only shortens recovery.
      assert.ok(r.stderr.includes(`${policy}:9: warning: slow.slow.test. may take 8.3 s to fail over, over the 8 s budget (health.failoverBudgetSec); the largest term is ttl (5 s)`), r.stderr);
      assert.match(r.stdout, /slow\.slow\.test\. failover .* = 8\.3 s; recovery .* \+ 1 s min\(ttl, downTtl\) = 5\.8 s/);
    } finally {
      t.remove();
    }
  });

  it('reports a bad config file with file, line and field', async () => {
    const t = zoneDir({});
    try {
      const conf = path.join(t.dir, 'meridian.yaml');
      fs.writeFileSync(conf, 'dns:\n  udpPayloadSize: 100\n  listen: ["127.0.0.1:5300"]\n');
      const r = await runCli(['check', '--config', conf]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`${conf}:2: dns.udpPayloadSize`), r.stderr);
    } finally {
      t.remove();
    }
  });

  it('reads the config named by MERIDIAN_CONFIG when --config is not given; --config wins', async () => {
    const t = zoneDir({});
    try {
      const bad = path.join(t.dir, 'bad.yaml');
      fs.writeFileSync(bad, 'dns:\n  udpPayloadSize: 100\n');
      const good = path.join(t.dir, 'good.yaml');
      fs.writeFileSync(good, 'dns:\n  udpPayloadSize: 1232\n');
      const env = { ...process.env, MERIDIAN_CONFIG: bad };
      const r = await runCli(['check', '--zones', fixtureZones], 20_000, env);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`${bad}:2: dns.udpPayloadSize`), r.stderr);
      const flag = await runCli(['check', '--config', good, '--zones', fixtureZones], 20_000, env);
      assert.equal(flag.code, 0, flag.stderr);
    } finally {
      t.remove();
    }
  });

  it('prints help for every command', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['check', '--help']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /Usage: meridian/);
    }
  });
});
