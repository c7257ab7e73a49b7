/**
 * A worker process for the Supervisor's tests (test/supervisor/): it listens on a TCP port of
 * 127.0.0.1 and says so, as the DNS and balancer workers do, or misbehaves as
 * SUPERVISED_MODE says: `ready` (serves until asked to stop), `hang` (never ready), `die`
 * (ready, then exits 3 at once), `stubborn` (ready, ignores stop).
 */
import net from 'node:net';
import process from 'node:process';

const mode = process.env.SUPERVISED_MODE ?? 'ready';
const server = net.createServer((socket) => socket.end(`${process.env.MERIDIAN_WORKER_ID}\n`));
if (mode === 'hang') {
  setInterval(() => {}, 1000);
} else {
  server.listen(0, '127.0.0.1', () => {
    process.send!({ kind: 'ready', port: (server.address() as net.AddressInfo).port });
    if (mode === 'die') setTimeout(() => process.exit(3), 10);
  });
}
process.on('message', (m: { kind?: string }) => {
  if (m.kind === 'stop' && mode !== 'stubborn') server.close(() => process.exit(0));
});
// The primary signals the group when it stops; ignore it as the real workers do.
process.on('SIGTERM', () => {});
