// A demo backend for deploy/docker-compose.demo.yml: `node backend.mjs <region> <n>` on :9001.
import http from 'node:http';

const [region, n] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(req.url === '/healthz' ? 'ok\n' : `hello from ${region} backend ${n} (client ${req.headers['x-forwarded-for']})\n`);
});
server.listen(9001, '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
