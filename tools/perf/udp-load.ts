/**
 * An open-loop UDP query load for the stall benchmark: sends the queries of a file ("name
 * type" per line) to 127.0.0.1:port at a fixed rate, whatever the server does, and records
 * when each query left and how long its answer took. dnsperf reports latencies but not when
 * a query was sent, and a stall must be seen in time. Runs as a child process:
 *   node udp-load.js <port> <rate> <queries file> <out file>
 * SIGTERM stops sending; queries still unanswered after 5 s are lost. Then it writes
 * "sentAtMs latencyMs" lines (latency -1 for a lost query) to the out file and exits.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';

const [portText, rateText, queriesFile, outFile] = process.argv.slice(2);
const port = Number(portText);
const rate = Number(rateText);
const TIMEOUT_MS = 5000;
const SOCKETS = 4;

const TYPES: Record<string, number> = { A: 1, NS: 2, SOA: 6, MX: 15, TXT: 16, AAAA: 28 };
const packets = fs
  .readFileSync(queriesFile!, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((line) => {
    const [name, type] = line.trim().split(/\s+/);
    const labels = name!.replace(/\.$/, '').split('.');
    const qname = Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, 'latin1')]), Buffer.from([0])]);
    const packet = Buffer.alloc(12 + qname.length + 4);
    packet.writeUInt16BE(1, 4);
    qname.copy(packet, 12);
    packet.writeUInt16BE(TYPES[type!] ?? 1, 12 + qname.length);
    packet.writeUInt16BE(1, 14 + qname.length);
    return packet;
  });

// Per query: when it left (ms since start) and its latency (ms; -1 until answered or lost).
const sentAt: number[] = [];
const latency: number[] = [];
/** Index of the query in flight for each (socket, id). */
const inFlight: Int32Array[] = Array.from({ length: SOCKETS }, () => new Int32Array(65536).fill(-1));
const t0 = performance.now();
const sockets = Array.from({ length: SOCKETS }, (_, s) => {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg) => {
    const now = performance.now() - t0;
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const q = inFlight[s]![id]!;
    if (q < 0) return;
    inFlight[s]![id] = -1;
    outstanding--;
    latency[q] = now - sentAt[q]!;
  });
  sock.bind(0, '127.0.0.1');
  return sock;
});

let sent = 0;
let outstanding = 0;
let stopping = false;
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - t0) * rate) / 1000);
  while (sent < due) {
    const q = sent++;
    const s = q % SOCKETS;
    const id = (q / SOCKETS) & 0xffff;
    const previous = inFlight[s]![id]!;
    if (previous >= 0) outstanding--; // sent 65,536 queries ago on this socket: long lost
    const packet = packets[q % packets.length]!;
    packet.writeUInt16BE(id, 0);
    inFlight[s]![id] = q;
    outstanding++;
    sentAt[q] = performance.now() - t0;
    latency[q] = -1;
    sockets[s]!.send(packet, port, '127.0.0.1');
  }
}, 1);

const finish = (): void => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  const stoppedAt = performance.now();
  const poll = setInterval(() => {
    if (outstanding > 0 && performance.now() - stoppedAt < TIMEOUT_MS) return;
    clearInterval(poll);
    const lines: string[] = [];
    for (let q = 0; q < sent; q++) {
      const l = latency[q]!;
      lines.push(`${sentAt[q]!.toFixed(3)} ${l >= 0 && l <= TIMEOUT_MS ? l.toFixed(3) : -1}`);
    }
    fs.writeFileSync(outFile!, lines.join('\n') + '\n');
    for (const s of sockets) s.close();
    process.exit(0);
  }, 50);
};
process.on('SIGTERM', finish);
// The benchmark going away must not leave this load running.
process.on('disconnect', () => process.exit(0));
process.send?.('ready');
