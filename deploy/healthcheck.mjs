#!/usr/bin/env node
// Container health check (Dockerfile HEALTHCHECK, docker-compose healthcheck): one DNS query
// over UDP to the server's own listener; healthy (exit 0) when an answer with our ID comes
// back within the timeout. It asks the data plane itself, not the admin API, because
// answering DNS is what "healthy" means here, and the admin API may be off or need a token.
//
//   MERIDIAN_HEALTHCHECK_ADDR  ADDR:PORT to ask (default: the first of MERIDIAN_LISTEN, with a
//                              wildcard address replaced by loopback; else 127.0.0.1:5300)
//   MERIDIAN_HEALTHCHECK_NAME  a name to ask for (A); when set, only NOERROR counts as healthy.
//                              Unset: any answer counts (a name outside every zone gets REFUSED).
//   MERIDIAN_HEALTHCHECK_TIMEOUT_MS  default 2000
//
// No dependencies, so it runs from any folder with a bare `node`.
import dgram from 'node:dgram';

const listen = (process.env.MERIDIAN_LISTEN ?? '').split(',')[0]?.trim();
const target = parseAddress(process.env.MERIDIAN_HEALTHCHECK_ADDR || listen || '127.0.0.1:5300');
const name = process.env.MERIDIAN_HEALTHCHECK_NAME || 'healthcheck.meridian.invalid';
const requireNoError = Boolean(process.env.MERIDIAN_HEALTHCHECK_NAME);
const timeoutMs = Number(process.env.MERIDIAN_HEALTHCHECK_TIMEOUT_MS || 2000);

/** "0.0.0.0:5300", "[::]:53", "127.0.0.1:5300" → where to send; a wildcard means "this host". */
function parseAddress(text) {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(text);
  if (!m) fail(`cannot read address "${text}" (want ADDR:PORT)`);
  const host = m[1] === '0.0.0.0' || m[1] === '' ? '127.0.0.1' : m[1] === '::' ? '::1' : m[1];
  return { host, port: Number(m[2]), family: host.includes(':') ? 'udp6' : 'udp4' };
}

function query(id, qname) {
  const labels = qname.replace(/\.$/, '').split('.').map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)]));
  const header = Buffer.from([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // no RD: we are authoritative
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]); // root label, QTYPE A, QCLASS IN
}

function fail(message) {
  process.stderr.write(`unhealthy: ${message}\n`);
  process.exit(1);
}

const id = Math.floor(Math.random() * 0x10000);
const socket = dgram.createSocket(target.family);
const timer = setTimeout(() => fail(`no DNS answer from ${target.host}:${target.port} in ${timeoutMs} ms`), timeoutMs);
socket.on('error', (err) => fail(err.message));
socket.on('message', (msg) => {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id || (msg[2] & 0x80) === 0) return; // not our answer
  const rcode = msg[3] & 0x0f;
  clearTimeout(timer);
  socket.close();
  if (requireNoError && rcode !== 0) fail(`${name} answered with RCODE ${rcode}`);
  process.stdout.write(`healthy: ${target.host}:${target.port} answered (RCODE ${rcode})\n`);
});
socket.send(query(id, name), target.port, target.host);
