/**
 * The reference for "what node:dgram alone can do": answers every datagram with the query
 * turned into an empty NOERROR response (QR and AA set, counts of the question only), with no
 * parsing, lookup or cache. Run by bench-steering --bare on the same CPU as meridian would be.
 *   node dist/tools/perf/bare-dgram-server.js PORT
 */
import dgram from 'node:dgram';

const port = Number(process.argv[2] ?? 5397);
// The same literal address lookup meridian's UDP listener uses, so the ceiling is measured on equal terms.
const socket = dgram.createSocket({ type: 'udp4', lookup: (hostname, _options, callback) => callback(null, hostname, 4) });
socket.on('message', (msg, rinfo) => {
  if (msg.length < 12) return;
  const out = Buffer.allocUnsafe(msg.length);
  msg.copy(out);
  out[2] = 0x84 | (msg[2]! & 0x01);
  out[3] = 0;
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  // Keeping the OPT record would need parsing; the bytes after the question are echoed, counts 0.
  socket.send(out, rinfo.port, rinfo.address);
});
socket.bind(port, '127.0.0.1', () => socket.setRecvBufferSize(4 * 1024 * 1024));
process.on('SIGTERM', () => socket.close());
