/**
 * Steered names in a zone transfer: a secondary cannot steer, so it is sent the A/AAAA of
 * the name's targets that are up and not drained, with the policy TTL; with none up, all of
 * them (never NODATA).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { writeSteeredZone } from '../support/steered-zone.js';

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
    return stdout.split('\n').filter((l) => l.startsWith('www.')).map((l) => l.split(/\s+/).filter(Boolean).join(' ')).sort();
  };
  const drain = async (id: string): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${server.adminAddress!.port}/v1/targets/${encodeURIComponent(id)}/drain`, { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
  };

  it('sends the healthy targets with the policy TTL, and all of them when none is', async () => {
    assert.deepEqual(await www(), ['www.st.test. 30 IN A 10.0.0.1', 'www.st.test. 30 IN A 10.0.0.4', 'www.st.test. 30 IN AAAA 2001:db8::1']);
    await drain('st.test/de');
    assert.deepEqual(await www(), ['www.st.test. 30 IN A 10.0.0.4']);
    await drain('st.test/br');
    assert.deepEqual(await www(), ['www.st.test. 30 IN A 10.0.0.1', 'www.st.test. 30 IN A 10.0.0.4', 'www.st.test. 30 IN AAAA 2001:db8::1']);
  });
});
