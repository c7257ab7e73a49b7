/**
 * Refused transfers are answered as knotd answers them: the same queries (no signature, an
 * unknown key, a wrong secret, a stale clock, a good key; a zone not served, a name below an
 * apex, classes CH, HS and ANY) go to a knotd and to meridian with the same ACL, once with
 * the client allowed and once not, and each pair of answers must carry the same RCODE, the
 * same TSIG error, and be signed or unsigned alike.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { knotUnavailableReason, startKnot, type RunningKnot } from '../support/knot.js';
import { buildQuery, sendTcp } from '../support/dns-client.js';
import { readRequestTsig, signRequest } from '../../src/transfer/tsig.js';
import { parseName, ROOT } from '../../src/dns/name.js';

const skip = knotUnavailableReason();
const secret = crypto.randomBytes(32).toString('base64');
const wrong = crypto.randomBytes(32).toString('base64');
const ZONE = ['$ORIGIN deny.test.', '@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 300', '@ 300 IN NS ns1', 'ns1 300 IN A 192.0.2.1', ''].join('\n');

const key = (name: string, s: string) => ({ name: parseName(name, ROOT), algorithm: 'hmac-sha256' as const, secret: Buffer.from(s, 'base64') });
const now = (): number => Math.floor(Date.now() / 1000);

function withClass(q: Buffer, qclass: number): Buffer {
  q.writeUInt16BE(qclass, q.length - 2);
  return q;
}

/** The cases: a label and the query, built afresh for each server (the signatures carry the time). */
const CASES: readonly [string, () => Buffer][] = [
  ['AXFR unsigned', () => buildQuery('deny.test.', 'AXFR', { id: 1 })],
  ['IXFR unsigned', () => buildQuery('deny.test.', 'IXFR', { id: 1 })],
  ['AXFR, unknown key', () => signRequest(buildQuery('deny.test.', 'AXFR', { id: 1 }), key('other.key', secret), now())],
  ['AXFR, wrong secret', () => signRequest(buildQuery('deny.test.', 'AXFR', { id: 1 }), key('xfr.key', wrong), now())],
  ['AXFR, clock 1000 s off', () => signRequest(buildQuery('deny.test.', 'AXFR', { id: 1 }), key('xfr.key', secret), now() - 1000)],
  ['AXFR, good key', () => signRequest(buildQuery('deny.test.', 'AXFR', { id: 1 }), key('xfr.key', secret), now())],
  ['zone not served, good key', () => signRequest(buildQuery('nope.test.', 'AXFR', { id: 1 }), key('xfr.key', secret), now())],
  ['zone not served, unknown key', () => signRequest(buildQuery('nope.test.', 'AXFR', { id: 1 }), key('other.key', wrong), now())],
  ['below the apex, good key', () => signRequest(buildQuery('ns1.deny.test.', 'AXFR', { id: 1 }), key('xfr.key', secret), now())],
  ['class CH, good key', () => signRequest(withClass(buildQuery('deny.test.', 'AXFR', { id: 1 }), 3), key('xfr.key', secret), now())],
  ['class HS', () => withClass(buildQuery('deny.test.', 'AXFR', { id: 1 }), 4)],
  ['class ANY', () => withClass(buildQuery('deny.test.', 'AXFR', { id: 1 }), 255)],
];

/** What must match: RCODE, and of the TSIG record (if any) its error and whether it has a MAC. */
async function verdict(port: number, query: Buffer): Promise<string> {
  const [answer] = await sendTcp(port, [query]);
  const rcode = answer![3]! & 0x0f;
  // The question: an uncompressed name, then QTYPE and QCLASS.
  let questionEnd = 12;
  while (answer![questionEnd]! !== 0) questionEnd += answer![questionEnd]! + 1;
  const tsig = readRequestTsig(answer!, questionEnd + 5);
  assert.notEqual(tsig, 'malformed');
  if (tsig === 'none' || tsig === 'malformed') return `rcode ${rcode}, no TSIG`;
  return `rcode ${rcode}, TSIG error ${tsig.error}, ${tsig.mac.length > 0 ? 'signed' : 'unsigned'}`;
}

for (const allowed of [true, false]) {
  const allow = allowed ? '127.0.0.1' : '192.0.2.99';
  describe(`refused transfers, client ${allowed ? 'allowed' : 'not allowed'}: as knotd`, { skip: skip ?? false }, () => {
    let dir: string;
    let server: TestServer;
    let knot: RunningKnot;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-refusals-'));
      const zones = path.join(dir, 'zones');
      fs.mkdirSync(zones);
      fs.writeFileSync(path.join(zones, 'deny.test.zone'), ZONE);
      const config = path.join(dir, 'config.yaml');
      fs.writeFileSync(config, `dns:\n  transfer:\n    allow: [${allow}]\n    keys:\n      - { name: xfr.key, secret: "${secret}" }\n`);
      server = await startTestServer(zones, config);
      knot = await startKnot(zones, { transferAcl: { allow: [allow], keys: [{ name: 'xfr.key', secret }] } });
    });

    after(async () => {
      await knot?.stop();
      await server?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('answers each case with knotd’s RCODE and TSIG error', async () => {
      const differences: string[] = [];
      for (const [label, query] of CASES) {
        const theirs = await verdict(knot.port, query());
        const ours = await verdict(server.port, query());
        if (theirs !== ours) differences.push(`${label}: knotd ${theirs}, meridian ${ours}`);
      }
      assert.deepEqual(differences, []);
    });
  });
}
