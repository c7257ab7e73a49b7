/**
 * Steered names in a zone transfer: a secondary cannot steer, so it is sent the name's
 * declared `transferFallback` set, or without one the A/AAAA of the name's targets that are
 * up and not drained, with the policy TTL; with none up, all of them (never NODATA). Knot
 * and NSD secondaries serve what they were sent. A bad `transferFallback` is refused with
 * the field and its file:line, by the server and by `meridian check`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, projectRoot, type TestServer } from '../support/test-server.js';
import { writeSteeredZone } from '../support/steered-zone.js';
import { freeLoopbackPort, knotUnavailableReason, startKnot, type RunningKnot } from '../support/knot.js';
import { nsdUnavailableReason, startNsdSecondary, type RunningNsd } from '../support/nsd.js';
import { udp } from '../support/dns-client.js';
import { runCli, tempCopy, until } from '../support/process.js';
import { compilePolicyText } from '../../src/steer/policy-file.js';
import { parseName, ROOT } from '../../src/dns/name.js';

const run = promisify(execFile);

const POLICY = `targets:
  de: { region: eu, ipv4: [10.0.0.1], ipv6: ["2001:db8::1"] }
  br: { region: sa, ipv4: [10.0.0.4] }
names:
  www:
    ttl: 30
    targets: [de, br]
    policy:
      - weighted: {}
  api:
    ttl: 30
    targets: [de, br]
    policy:
      - weighted: {}
    transferFallback:
      ipv4: [192.0.2.80, 192.0.2.81]
      ipv6: ["2001:db8::80"]
      ttl: 600
`;

describe('steered names in a transfer', () => {
  let dir: string;
  let server: TestServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-xfr-steered-'));
    const zones = path.join(dir, 'zones');
    fs.mkdirSync(zones);
    writeSteeredZone(zones, 'st.test', POLICY);
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(config, 'dns:\n  transfer:\n    allow: [127.0.0.1]\n');
    server = await startTestServer(zones, config, { admin: '127.0.0.1:0' });
  });

  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const www = async (): Promise<string[]> => {
    const { stdout } = await run('kdig', ['-p', String(server.port), '@127.0.0.1', '+nocomments', 'AXFR', 'st.test.']);
    return stdout
      .split('\n')
      .filter((l) => l.startsWith('www.'))
      .map((l) => l.split(/\s+/).filter(Boolean).join(' '))
      .sort();
  };
  const drain = async (id: string): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${server.adminAddress!.port}/v1/targets/${encodeURIComponent(id)}/drain`, { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
  };

  it("sends a name's declared transferFallback with its TTL, whatever the health of its targets", async () => {
    const { stdout } = await run('kdig', ['-p', String(server.port), '@127.0.0.1', '+nocomments', 'AXFR', 'st.test.']);
    const api = stdout
      .split('\n')
      .filter((l) => l.startsWith('api.'))
      .map((l) => l.split(/\s+/).filter(Boolean).join(' '))
      .sort();
    assert.deepEqual(api, ['api.st.test. 600 IN A 192.0.2.80', 'api.st.test. 600 IN A 192.0.2.81', 'api.st.test. 600 IN AAAA 2001:db8::80']);
  });

  it('sends the healthy targets with the policy TTL, and all of them when none is', async () => {
    assert.deepEqual(await www(), ['www.st.test. 30 IN A 10.0.0.1', 'www.st.test. 30 IN A 10.0.0.4', 'www.st.test. 30 IN AAAA 2001:db8::1']);
    await drain('st.test/de');
    assert.deepEqual(await www(), ['www.st.test. 30 IN A 10.0.0.4']);
    await drain('st.test/br');
    assert.deepEqual(await www(), ['www.st.test. 30 IN A 10.0.0.1', 'www.st.test. 30 IN A 10.0.0.4', 'www.st.test. 30 IN AAAA 2001:db8::1']);
  });
});

const secondaries = [
  ['Knot', knotUnavailableReason()],
  ['NSD', nsdUnavailableReason()],
] as const;

for (const [kind, skip] of secondaries) {
  describe(`a ${kind} secondary serves the fallback sets`, { skip: skip ?? false }, () => {
    let dir: string;
    let server: TestServer;
    let secondary: RunningKnot | RunningNsd;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-xfr-fallback-'));
      const zones = path.join(dir, 'zones');
      fs.mkdirSync(zones);
      writeSteeredZone(zones, 'st.test', POLICY);
      const config = path.join(dir, 'config.yaml');
      fs.writeFileSync(config, 'dns:\n  transfer:\n    allow: [127.0.0.1]\n');
      server = await startTestServer(zones, config);
      if (kind === 'Knot') {
        const files = path.join(dir, 'knot-zones');
        fs.mkdirSync(files);
        secondary = await startKnot([{ origin: 'st.test.', file: path.join(files, 'st.test.zone') }], { primaryPort: server.port });
      } else {
        secondary = startNsdSecondary(await freeLoopbackPort(), server.port, ['st.test.']);
      }
    });

    after(async () => {
      await secondary?.stop();
      await server?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('answers the declared set for a name with one, every target for a name without', async () => {
      const answers = async (name: string, type: string): Promise<string[] | null> => {
        try {
          const r = await udp(secondary.port, name, type);
          if ((r.raw[3]! & 0x0f) !== 0 || r.msg.answers.length === 0) return null;
          return r.msg.answers.map((a) => `${a.ttl} ${String(a.data)}`).sort();
        } catch {
          return null;
        }
      };
      // The secondary takes the zone by AXFR once it starts: ask until it has it.
      const api = await until(`${kind} serves api.st.test.\n${secondary.output()}`, 10_000, () => answers('api.st.test.', 'A'));
      assert.deepEqual(api, ['600 192.0.2.80', '600 192.0.2.81']);
      assert.deepEqual(await answers('api.st.test.', 'AAAA'), ['600 2001:db8::80']);
      assert.deepEqual(await answers('www.st.test.', 'A'), ['30 10.0.0.1', '30 10.0.0.4']);
      assert.deepEqual(await answers('www.st.test.', 'AAAA'), ['30 2001:db8::1']);
    });
  });
}

describe('a bad transferFallback', () => {
  const policy = (fallback: string): string => `targets:\n  de: { region: eu, ipv4: [10.0.0.1] }\nnames:\n  www:\n    policy: [{ weighted: {} }]\n    transferFallback:\n${fallback}`;
  const cases: Array<[string, string, RegExp]> = [
    ['an IPv6 address under ipv4', '      ipv4: ["2001:db8::1"]\n', /:7: names\.www\.transferFallback\.ipv4\.0: "2001:db8::1" is not an IPv4 address \(it is an IPv6 one: list it under ipv6\)/],
    ['an IPv4 address under ipv6', '      ipv6: [192.0.2.1]\n', /:7: names\.www\.transferFallback\.ipv6\.0: "192\.0\.2\.1" is not an IPv6 address \(it is an IPv4 one: list it under ipv4\)/],
    ['not an address', '      ipv4: [example.com]\n', /names\.www\.transferFallback\.ipv4\.0: "example\.com" is not an IPv4 address$/m],
    ['the same address twice, written two ways', '      ipv6: ["2001:db8::1", "2001:DB8:0::1"]\n', /names\.www\.transferFallback\.ipv6\.1: "2001:DB8:0::1" is listed twice \(as ipv6\.0 too\)/],
    ['no address', '      ipv4: []\n', /:6: names\.www\.transferFallback: needs at least one address in ipv4 or ipv6/],
    ['257 addresses', `      ipv4: [${Array.from({ length: 257 }, (_, i) => `10.1.${i >> 8}.${i & 255}`).join(', ')}]\n`, /:7: names\.www\.transferFallback\.ipv4: must NOT have more than 256 items/],
    ['a negative TTL', '      ipv4: [192.0.2.1]\n      ttl: -1\n', /:8: names\.www\.transferFallback\.ttl: must be >= 0/],
    ['an unknown field', '      ipv4: [192.0.2.1]\n      __proto__: 1\n', /:8: names\.www\.transferFallback\.__proto__: unknown field/],
    ['a string for a list', '      ipv4: "192.0.2.1"\n', /:7: names\.www\.transferFallback\.ipv4: must be array/],
  ];
  for (const [label, fallback, expected] of cases) {
    it(`is refused with the field and its line: ${label}`, () => {
      const compiled = compilePolicyText(policy(fallback), 'st.test.policy.yaml', parseName('st.test.', ROOT));
      assert.equal(compiled.steered.length, 0);
      const text = compiled.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
      assert.match(text, expected);
    });
  }

  it('is reported by meridian check as file:line', async () => {
    const t = tempCopy(path.join(projectRoot, 'test/fixtures/empty'));
    try {
      writeSteeredZone(t.dir, 'st.test', policy('      ipv4: ["2001:db8::1"]\n'));
      const r = await runCli(['check', '--zones', t.dir]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`${path.join(t.dir, 'st.test.policy.yaml')}:7: names.www.transferFallback.ipv4.0: "2001:db8::1" is not an IPv4 address`), r.stderr);
    } finally {
      t.remove();
    }
  });
});
