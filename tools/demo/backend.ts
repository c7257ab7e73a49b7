/**
 * One small backend of the demo: answers every request with its region and number, and
 * /healthz with 200. A separate process so the demo's users can kill it:
 *   pkill -f 'demo/backend.js eu-west'
 *   node dist/tools/demo/backend.js <region> <n> <host:port>
 */
import http from 'node:http';

const [region, n, address] = process.argv.slice(2);
const m = /^(.+):(\d+)$/.exec(address ?? '');
if (region === undefined || n === undefined || m === null) {
  console.error('usage: backend.js <region> <n> <host:port>');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(req.url === '/healthz' ? 'ok\n' : `hello from ${region} backend ${n} (client ${req.headers['x-forwarded-for']})\n`);
});
server.listen(Number(m[2]), m[1], () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
