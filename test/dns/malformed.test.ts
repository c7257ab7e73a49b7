/** Bad input never crashes the server: thousands of mutated packets over UDP and TCP, then correct answers still come. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildQuery, frame, rcodeOf, sendUdp, udp } from '../support/dns-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds = [
  buildQuery('www.rules.test', 'A', { edns: true }),
  buildQuery('x.wild.rules.test', 'TXT'),
  buildQuery('deep.sub.rules.test', 'A', { edns: true, dnssecOk: true }),
  buildQuery('c1.rules.test', 'ANY', { edns: true, options: [{ code: 8, data: Buffer.from([0, 1, 24, 0, 192, 0, 2]) }] }),
];

function mutate(r: () => number, base: Buffer): Buffer {
  const kind = Math.floor(r() * 6);
  const b = Buffer.from(base);
  switch (kind) {
    case 0: // flip random bytes
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return b;
    case 1: // truncate
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: // random counts
      b.writeUInt16BE(Math.floor(r() * 65536), 4 + 2 * Math.floor(r() * 4));
      return b;
    case 3: // compression pointer loop in the question
      b[12] = 0xc0;
      b[13] = 12;
      return b;
    case 4: // oversized garbage
      return Buffer.concat([b, Buffer.from(Array.from({ length: Math.floor(r() * 3000) }, () => Math.floor(r() * 256)))]);
    default: // pure noise
      return Buffer.from(Array.from({ length: Math.floor(r() * 80) }, () => Math.floor(r() * 256)));
  }
}

describe('malformed packets', () => {
  it('survives 4000 mutated UDP packets and still answers correctly', async () => {
    const r = rng(20261122);
    const sock = dgram.createSocket('udp4');
    let replies = 0;
    sock.on('message', (msg) => {
      replies++;
      assert.ok(msg.length >= 12);
    });
    for (let i = 0; i < 4000; i++) {
      const p = mutate(r, seeds[i % seeds.length]!);
      await new Promise<void>((resolve) => sock.send(p, server.port, '127.0.0.1', () => resolve()));
      if (i % 200 === 0) await new Promise((res) => setImmediate(res));
    }
    await new Promise((res) => setTimeout(res, 200));
    sock.close();
    assert.ok(replies > 0, 'some mutated packets are answered (FORMERR, NXDOMAIN…)');
    const { msg } = await udp(server.port, 'www.rules.test', 'A');
    assert.equal(msg.answers?.[0]?.data, '192.0.2.10');
  });

  it('survives mutated packets over TCP and still answers correctly', async () => {
    const r = rng(7);
    for (let c = 0; c < 20; c++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(server.port, '127.0.0.1', () => {
          const chunks: Buffer[] = [];
          for (let i = 0; i < 50; i++) {
            const p = mutate(r, seeds[i % seeds.length]!);
            chunks.push(r() < 0.8 ? frame(p) : p); // sometimes a broken frame
          }
          s.end(Buffer.concat(chunks));
        });
        s.on('data', () => undefined);
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    }
    const { msg } = await udp(server.port, 'www.rules.test', 'A');
    assert.equal(msg.answers?.[0]?.data, '192.0.2.10');
  });

  it('FORMERR when the header can be read, nothing for shorter packets and responses', async () => {
    const q = buildQuery('www.rules.test', 'A');
    const loop = Buffer.from(q);
    loop[12] = 0xc0;
    loop[13] = 12;
    assert.equal(rcodeOf(await sendUdp(server.port, loop)), 1);
    await assert.rejects(sendUdp(server.port, q.subarray(0, 11), '127.0.0.1', 300), /timed out/);
    const response = Buffer.from(q);
    response[2] = response[2]! | 0x80;
    await assert.rejects(sendUdp(server.port, response, '127.0.0.1', 300), /timed out/);
  });
});
