/**
 * The ceiling of Node's HTTP proxy path on this machine: node:http in front, one undici pool
 * behind, nothing else (no routing, algorithm, health, limits or header rewriting beyond what
 * undici requires). tools/bench-balancer.ts runs it beside meridian balance and haproxy.
 *   node dist/tools/bare-proxy.js <listen-port> <backend-host:port>
 */
import http from 'node:http';
import { Pool } from 'undici';

const [port, backend] = process.argv.slice(2);
if (port === undefined || backend === undefined) {
  console.error('usage: bare-proxy <listen-port> <backend-host:port>');
  process.exit(2);
}
const pool = new Pool(`http://${backend}`, { connections: 256, pipelining: 1 });
// undici refuses these request headers; everything else passes as the client sent it.
const REFUSED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect']);

http
  .createServer((req, res) => {
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (!REFUSED.has(req.rawHeaders[i]!.toLowerCase())) headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    const body = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined ? req : null;
    pool.stream(
      { path: req.url ?? '/', method: req.method as 'GET', headers, body },
      ({ statusCode, headers: h }) => {
        delete h.connection;
        delete h['keep-alive'];
        delete h['transfer-encoding'];
        res.writeHead(statusCode, h as http.OutgoingHttpHeaders);
        return res;
      },
      (err) => {
        if (err !== null && !res.headersSent) {
          res.statusCode = 502;
          res.end();
        }
      },
    );
  })
  .listen(Number(port), '127.0.0.1');
