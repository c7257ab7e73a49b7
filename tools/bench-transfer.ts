/**
 * Zone transfer benchmark: serves a zone of N records (default 1,000,000) with `meridian
 * serve` in its own process and takes it by AXFR over loopback TCP, printing the time, bytes
 * and messages, and how late UDP queries sent meanwhile (one every --probe-ms, 2 by default)
 * are answered: the transfer must not hold the answering thread. The server runs apart so
 * that what this process does (reading 13 MB) is not counted as the server's stall; and as
 * round trips on a busy machine also count the time the server waited for a CPU, the
 * server's own longest run without returning to its event loop is printed too, by its main
 * thread's CPU time (tools/perf/busy-monitor.ts), the figure that other processes cannot move. Then
 * writes one record through the admin API and asks IXFR from the old serial, printing its size.
 *   node dist/tools/bench-transfer.js [--records N] [--probe-ms MS] [--transfers K] [--idle-ms MS] [--node-option FLAG]…
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_FLAGS } from '../src/cli/node-flags.js';
import { freeLoopbackPort } from '../test/support/knot.js';
import { buildQuery, frame } from '../test/support/dns-client.js';
import { writeBigZone } from './perf/big-zone.js';
import { root } from './perf/dnsperf-run.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    'probe-ms': { type: 'string', default: '2' },
    transfers: { type: 'string', default: '1' },
    // How long to measure before the first transfer (the server's own start-up work ends in it)
    'idle-ms': { type: 'string', default: '2000' },
    // Extra node options for the server, e.g. --node-option=--cpu-prof
    'node-option': { type: 'string', multiple: true, default: [] },
    'log-level': { type: 'string', default: 'warn' },
  },
});
const records = Number(values.records);
const PROBE_MS = Number(values['probe-ms']);
const TRANSFERS = Number(values.transfers);
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

/** One UDP query to the server; resolves with its round trip in ms, or Infinity when lost (1 s). */
function probeOnce(socket: dgram.Socket, port: number, query: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const t = performance.now();
    const timer = setTimeout(() => {
      socket.off('message', done);
      resolve(Infinity);
    }, 1000);
    const done = (): void => {
      clearTimeout(timer);
      resolve(performance.now() - t);
    };
    socket.once('message', done);
    socket.send(query, port, '127.0.0.1');
  });
}

/** UDP round trips, one every PROBE_MS, until `stop` says so. */
async function probeWhile(port: number, running: () => boolean): Promise<number[]> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const query = buildQuery('ns1.big.test.', 'A', { id: 7 });
  const delays: number[] = [];
  while (running()) {
    delays.push(await probeOnce(socket, port, query));
    await new Promise((resolve) => setTimeout(resolve, PROBE_MS));
  }
  socket.close();
  return delays.sort((a, b) => a - b);
}

function describeDelays(d: readonly number[]): string {
  const at = (q: number): string => d[Math.min(d.length - 1, Math.floor(q * d.length))]!.toFixed(1);
  return `${d.length} answers, median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${d.at(-1)!.toFixed(1)} ms`;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-xfr-bench-'));
const zones = path.join(dir, 'zones');
fs.mkdirSync(zones);
writeBigZone(path.join(zones, 'big.test.zone'), records);
const config = path.join(dir, 'config.yaml');
fs.writeFileSync(config, `dns:\n  transfer:\n    allow: [127.0.0.1]\nzones:\n  directory: ${JSON.stringify(zones)}\n  watch: false\n`);
const port = await freeLoopbackPort();
const adminPort = await freeLoopbackPort();
const cli = path.join(root, 'dist/src/cli/main.js');
const monitor = path.join(root, 'dist/tools/perf/busy-monitor.js');
const server = spawn(
  process.execPath,
  [
    ...NODE_FLAGS,
    '--import',
    monitor,
    ...values['node-option'],
    cli,
    'serve',
    '--config',
    config,
    '--listen',
    `127.0.0.1:${port}`,
    '--admin',
    `127.0.0.1:${adminPort}`,
    '--log-level',
    values['log-level'],
  ],
  { stdio: ['ignore', 'inherit', 'pipe'], cwd: dir },
);
let busyWaiter: ((line: string) => void) | null = null;
let stderr = '';
server.stderr.on('data', (d: Buffer) => {
  stderr += d.toString();
  let nl;
  while ((nl = stderr.indexOf('\n')) >= 0) {
    const line = stderr.slice(0, nl);
    stderr = stderr.slice(nl + 1);
    if (line.startsWith('busy-monitor ')) busyWaiter?.(line.slice('busy-monitor '.length));
    else process.stderr.write(line + '\n');
  }
});
/** The server's longest busy run (its CPU time) since the last call. */
interface Busy {
  maxMs: number;
  p99Ms: number;
  ticks: number;
  gcMs: number;
  gcKind: string;
}
function busy(): Promise<Busy> {
  return new Promise((resolve) => {
    busyWaiter = (line) => {
      busyWaiter = null;
      resolve(JSON.parse(line) as Busy);
    };
    server.kill('SIGUSR2');
  });
}
const describeBusy = (b: Busy): string => `server's main thread busy without a break: max ${b.maxMs} ms, p99 ${b.p99Ms} ms (of 1 ms ticks); longest GC ${b.gcMs} ms (${b.gcKind || 'none'})`;
const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
try {
  // Up once it answers the zone's SOA (the 1M-record load takes some seconds).
  const soaSerial = async (): Promise<number | null> => {
    const socket = dgram.createSocket('udp4');
    try {
      return await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 500);
        socket.once('message', (m: Buffer) => {
          clearTimeout(timer);
          // The SOA's serial: 20 bytes before the end of its RDATA, the last record here.
          resolve((m[3]! & 0x0f) === 0 && m.readUInt16BE(6) === 1 ? m.readUInt32BE(m.length - 20) : null);
        });
        socket.send(buildQuery('big.test.', 'SOA', { id: 3 }), port, '127.0.0.1');
      });
    } finally {
      socket.close();
    }
  };
  const deadline = Date.now() + 120_000;
  let zoneSerial: number | null = null;
  while ((zoneSerial = await soaSerial()) === null) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error('the server did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await busy();
  const idle = await (async () => {
    const until = performance.now() + Number(values['idle-ms']);
    return probeWhile(port, () => performance.now() < until);
  })();
  console.log(`idle ${Number(values['idle-ms']) / 1000} s: UDP answers: ${describeDelays(idle)}; ${describeBusy(await busy())}`);
  for (let n = 1; n <= TRANSFERS; n++) {
    await busy();
    let transferring = true;
    const probe = probeWhile(port, () => transferring);
    const axfr = await transfer(port, buildQuery('big.test.', 'AXFR', { id: 1 }));
    transferring = false;
    const delays = await probe;
    console.log(`AXFR ${n} of ${records} records: ${(axfr.ms / 1000).toFixed(2)} s, ${(axfr.bytes / 1e6).toFixed(1)} MB in ${axfr.messages} messages (${(axfr.bytes / records).toFixed(1)} B/record)`);
    console.log(`  UDP answers during it (one every ${PROBE_MS} ms): ${describeDelays(delays)}`);
    console.log(`  ${describeBusy(await busy())}`);
  }

  const res = await fetch(`http://127.0.0.1:${adminPort}/v1/zones/big.test/records/bench-change/A`, {
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
  const ixfr = await transfer(port, ixfrQuery);
  console.log(`IXFR for a 1-record change: ${ixfr.bytes} B in ${ixfr.messages} messages, ${ixfr.ms.toFixed(0)} ms`);
} finally {
  server.kill('SIGTERM');
  await exited;
  fs.rmSync(dir, { recursive: true, force: true });
}
