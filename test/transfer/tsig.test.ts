/**
 * TSIG on zone transfers (RFC 8945) over real sockets: kdig and dig with a key take zones
 * of one and of many messages, every message signed and checked by them; a wrong secret,
 * an unknown key, a stale clock, a missing or misplaced signature are each answered as
 * Knot answers them; keys come from the config or a key file, and bad ones are named.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, fixtureZones, type TestServer } from '../support/test-server.js';
import { buildQuery, rcodeOf, sendTcp } from '../support/dns-client.js';
import { loadConfig } from '../../src/config/load-config.js';
import { readRequestTsig, signRequest } from '../../src/transfer/tsig.js';

const run = promisify(execFile);

async function tool(command: string, port: number, ...args: string[]): Promise<{ ok: boolean; records: string[]; text: string }> {
  let text: string;
  let ok = true;
  try {
    text = (await run(command, ['-p', String(port), '@127.0.0.1', ...args], { maxBuffer: 1 << 26 })).stdout;
  } catch (err) {
    const e = err as { stdout: string; stderr: string };
    text = e.stdout + e.stderr;
    ok = false;
  }
  return { ok, records: text.split('\n').filter((l) => l !== '' && !l.startsWith(';')), text };
}

const NAMES = 5000;
const secret256 = crypto.randomBytes(32).toString('base64');
const secret512 = crypto.randomBytes(64).toString('base64');
const now = (): number => Math.floor(Date.now() / 1000);

describe('TSIG on zone transfers', () => {
  let dir: string;
  let server: TestServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-tsig-'));
    const zones = path.join(dir, 'zones');
    fs.cpSync(fixtureZones, zones, { recursive: true });
    const lines = ['$ORIGIN many.test.', '@ 3600 IN SOA ns1 hostmaster 9 7200 3600 1209600 60', '@ 3600 IN NS ns1', 'ns1 300 IN A 192.0.2.1'];
    for (let i = 0; i < NAMES; i++) lines.push(`h${i} 300 IN TXT "record number ${i}"`);
    fs.writeFileSync(path.join(zones, 'many.test.zone'), lines.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'k512.key'), `${secret512}\n`);
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(
      config,
      [
        'dns:',
        '  transfer:',
        '    allow: [127.0.0.1]',
        '    keys:',
        `      - { name: Xfr.Example., secret: "${secret256}" }`,
        '      - { name: k512, algorithm: hmac-sha512, secretFile: k512.key }',
        '',
      ].join('\n'),
    );
    server = await startTestServer(zones, config);
  });

  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('kdig and dig with the key take a zone of one message and one of many, each message signed', async () => {
    const small = await tool('kdig', server.port, '-y', `hmac-sha256:xfr.example:${secret256}`, 'AXFR', 'rules.test.');
    assert.ok(small.ok, small.text);
    assert.match(small.records.at(-1)!, /^xfr\.example\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0$/);
    const many = await tool('kdig', server.port, '-y', `hmac-sha512:k512:${secret512}`, 'AXFR', 'many.test.');
    assert.ok(many.ok, many.text.slice(-400));
    const messages = Number(/\((\d+) messages/.exec(many.text)?.[1]);
    assert.ok(messages > 3, `${messages} messages`);
    assert.equal(many.records.filter((l) => /\sTSIG\s/.test(l)).length, messages, 'one TSIG per message');
    assert.equal(many.records.filter((l) => /\sTXT\s/.test(l)).length, NAMES);
    // BIND's dig checks every message too (it fails the transfer on a bad one).
    const dig = await tool('dig', server.port, '-y', `hmac-sha512:k512:${secret512}`, 'AXFR', 'many.test.');
    assert.ok(dig.ok && !/failure|failed|expected a TSIG/i.test(dig.text), dig.text.slice(-400));
    assert.equal(dig.records.filter((l) => /\sTXT\s/.test(l)).length, NAMES);
  });

  it('answers a wrong secret BADSIG and an unknown key BADKEY, unsigned, with no records', async () => {
    const wrong = await tool('kdig', server.port, '-y', `hmac-sha256:xfr.example:${crypto.randomBytes(32).toString('base64')}`, 'AXFR', 'rules.test.');
    assert.equal(wrong.ok, false);
    assert.match(wrong.text, /BADSIG/);
    const unknown = await tool('kdig', server.port, '-y', `hmac-sha256:nobody:${secret256}`, 'AXFR', 'rules.test.');
    assert.match(unknown.text, /BADKEY/);
    const wrongAlgorithm = await tool('kdig', server.port, '-y', `hmac-sha512:xfr.example:${secret256}`, 'AXFR', 'rules.test.');
    assert.match(wrongAlgorithm.text, /BADKEY/);
    for (const r of [wrong, unknown, wrongAlgorithm]) assert.equal(r.records.filter((l) => /\sSOA\s/.test(l)).length, 0);
  });

  it('answers a signature from outside the fudge BADTIME, signed, with the server time', async () => {
    const key = { name: ['xfr', 'example'], algorithm: 'hmac-sha256' as const, secret: Buffer.from(secret256, 'base64') };
    const query = buildQuery('rules.test.', 'AXFR', { id: 99 });
    const [answer] = await sendTcp(server.port, [signRequest(query, key, now() - 3600)]);
    assert.equal(rcodeOf(answer!), 9, 'NOTAUTH');
    const tsig = readRequestTsig(answer!, query.length);
    assert.ok(typeof tsig === 'object');
    assert.equal(tsig.error, 18);
    assert.equal(tsig.mac.length, 32);
    assert.equal(tsig.other.length, 6);
    const serverTime = tsig.other.readUInt16BE(0) * 2 ** 32 + tsig.other.readUInt32BE(2);
    assert.ok(Math.abs(serverTime - now()) < 60);
    // In time, the same key gets the zone.
    const [ok] = await sendTcp(server.port, [signRequest(query, key, now())]);
    assert.equal(rcodeOf(ok!), 0);
  });

  it('answers NOTAUTH to a transfer without a signature when keys are configured, and FORMERRs a TSIG not last', async () => {
    const plain = await tool('kdig', server.port, 'AXFR', 'rules.test.');
    assert.match(plain.text, /NOTAUTH/);
    const key = { name: ['k512'], algorithm: 'hmac-sha512' as const, secret: Buffer.from(secret512, 'base64') };
    const signed = signRequest(buildQuery('rules.test.', 'AXFR', { id: 5 }), key, now());
    // A second record after the TSIG: the TSIG is no longer last (RFC 8945 §5.1).
    const opt = Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
    const misplaced = Buffer.concat([signed, opt]);
    misplaced.writeUInt16BE(misplaced.readUInt16BE(10) + 1, 10);
    const [answer] = await sendTcp(server.port, [misplaced]);
    assert.equal(rcodeOf(answer!), 1, 'FORMERR');
  });

  it('names a bad key in the config by file:line and field, never quoting a secret', () => {
    const cases: Array<[string, RegExp]> = [
      [`      - { name: a, secret: "${secret256}", secretFile: k512.key }`, /:5: dns\.transfer\.keys\[0\]: give exactly one of secret and secretFile/],
      ['      - { name: a, secretFile: missing.key }', /:5: dns\.transfer\.keys\[0\]\.secretFile: cannot read .*missing\.key: ENOENT/],
      ['      - { name: "a..b", secret: "c2VjcmV0" }', /:5: dns\.transfer\.keys\[0\]\.name: "a\.\.b" is not a domain name/],
      ['      - { name: a, secret: "not base64!" }', /:5: .*dns\/transfer\/keys\/0\/secret|:5: .*secret/],
      [`      - { name: a, secret: "${secret256}" }\n      - { name: A., secret: "${secret256}" }`, /:6: dns\.transfer\.keys\[1\]\.name: "A\." is listed twice/],
    ];
    for (const [entry, expected] of cases) {
      const file = path.join(dir, 'bad.yaml');
      fs.writeFileSync(file, `dns:\n  transfer:\n    allow: [127.0.0.1]\n    keys:\n${entry}\n`);
      assert.throws(
        () => loadConfig(file, {}, {}),
        (err: Error) => {
          assert.match(err.message, expected);
          assert.ok(!err.message.includes(secret256) && !err.message.includes(secret512), err.message);
          return true;
        },
      );
    }
    fs.writeFileSync(path.join(dir, 'garbage.key'), 'this is not base64\n');
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'dns:\n  transfer:\n    keys:\n      - name: a\n        secretFile: garbage.key\n');
    assert.throws(() => loadConfig(file, {}, {}), /bad\.yaml:\d+: dns\.transfer\.keys\[0\]\.secretFile: .*garbage\.key does not hold one base64 secret/);
  });
});
