/**
 * Zone transfer benchmark: serves a zone of N records (default 1,000,000) and takes it by AXFR
 * over loopback TCP, printing the time, bytes and messages, and how late UDP queries sent
 * meanwhile are answered (the transfer must not hold the answering thread); then writes one
 * record through the admin API and asks IXFR from the old serial, printing its size.
 *   node dist/tools/bench-transfer.js [--records N]
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startTestServer } from '../test/support/test-server.js';
import { buildQuery, frame, udp } from '../test/support/dns-client.js';
import { writeBigZone } from './perf/big-zone.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' } } });
const records = Number(values.records);

/** Sends one transfer query and reads messages until the second SOA; returns bytes and messages. */
function transfer(port: number, query: Buffer): Promise<{ bytes: number; messages: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(frame(query)));
    let pending: Buffer = Buffer.alloc(0);
    let bytes = 0;
    let messages = 0;
    let soas = 0;
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        bytes += message.length + 2;
        messages++;
        if ((message[3]! & 0x0f) !== 0) return reject(new Error(`rcode ${message[3]! & 0x0f}`));
        // The zone's SOA owner compresses to the question: c0 0c 00 06.
        for (let i = 12; i + 4 <= message.length; i++) if (message.readUInt32BE(i) === 0xc00c0006) soas++;
        if (soas >= 2 || (message.readUInt16BE(6) === 1 && messages === 1 && query.readUInt16BE(8) === 1 && soas === 1)) {
          socket.destroy();
          return resolve({ bytes, messages, ms: performance.now() - started });
        }
      }
    });
    socket.on('error', reject);
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-xfr-bench-'));
const zones = path.join(dir, 'zones');
fs.mkdirSync(zones);
writeBigZone(path.join(zones, 'big.test.zone'), records);
const config = path.join(dir, 'config.yaml');
fs.writeFileSync(config, 'dns:\n  transfer:\n    allow: [127.0.0.1]\n');
const server = await startTestServer(zones, config, { admin: '127.0.0.1:0' });
try {
  const zoneSerial = server.store.current.zones.get('big.test')!.serial;
  // UDP queries every 10 ms during the transfer: how late their answers come.
  const delays: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const t = performance.now();
      await udp(server.port, 'ns1.big.test.', 'A');
      delays.push(performance.now() - t);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const axfr = await transfer(server.port, buildQuery('big.test.', 'AXFR', { id: 1 }));
  probing = false;
  await probe;
  delays.sort((a, b) => a - b);
  console.log(`AXFR of ${records} records: ${(axfr.ms / 1000).toFixed(2)} s, ${(axfr.bytes / 1e6).toFixed(1)} MB in ${axfr.messages} messages (${(axfr.bytes / records).toFixed(1)} B/record)`);
  console.log(`UDP answers during it: ${delays.length}, median ${delays[delays.length >> 1]!.toFixed(1)} ms, max ${delays.at(-1)!.toFixed(1)} ms`);

  const admin = server.adminAddress!;
  const res = await fetch(`http://127.0.0.1:${admin.port}/v1/zones/big.test/records/bench-change/A`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ttl: 60, rdata: ['198.51.100.1'] }),
  });
  if (res.status !== 200) throw new Error(`admin write: ${res.status} ${await res.text()}`);
  // IXFR from the serial before the write: an SOA in the authority section (RFC 1995 §3).
  const q = buildQuery('big.test.', 'IXFR', { id: 2 });
  const owner = Buffer.from([0xc0, 0x0c]);
  const rr = Buffer.alloc(10);
  rr.writeUInt16BE(6, 0);
  rr.writeUInt16BE(1, 2);
  const rdata = Buffer.concat([Buffer.from([1, 0x78, 0, 1, 0x78, 0]), Buffer.alloc(20)]);
  rdata.writeUInt32BE(zoneSerial, 6);
  rr.writeUInt16BE(rdata.length, 8);
  const ixfrQuery = Buffer.concat([q, owner, rr, rdata]);
  ixfrQuery.writeUInt16BE(1, 8);
  const ixfr = await transfer(server.port, ixfrQuery);
  console.log(`IXFR for a 1-record change: ${ixfr.bytes} B in ${ixfr.messages} messages, ${ixfr.ms.toFixed(0)} ms`);
} finally {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
