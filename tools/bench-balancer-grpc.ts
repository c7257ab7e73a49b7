/**
 * The gRPC half of tools/bench-balancer.ts, run as its own process so it can be pinned:
 *   server PORT                 a grpc-js Echo server (test/fixtures/grpc/echo.proto) on 127.0.0.1:PORT
 *   client PORT SECONDS CONC    CONC unary calls kept in flight on one channel for SECONDS; prints {"rps","p50Ms","p99Ms","errors"}
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const def = protoLoader.loadSync(path.join(root, 'test/fixtures/grpc/echo.proto'), { keepCase: true });
const Echo = (grpc.loadPackageDefinition(def) as any).meridian.test.Echo as grpc.ServiceClientConstructor;

const [mode, portText, secondsText, concText] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'server') {
  const server = new grpc.Server();
  server.addService(Echo.service, {
    Say: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => cb(null, { text: call.request.text, n: 1 }),
    Count: (call: grpc.ServerWritableStream<any, any>) => call.end(),
  });
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
  });
} else if (mode === 'client') {
  const seconds = Number(secondsText);
  const conc = Number(concText);
  const client = new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as any;
  const lat: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t = performance.now();
      client.Say({ text: 'hello', n: 1 }, (err: Error | null) => {
        if (measuring) {
          if (err) errors++;
          else lat.push(performance.now() - t);
        }
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (!stop) await one();
  };
  const workers = Array.from({ length: conc }, worker);
  setTimeout(() => (measuring = true), 1000); // a second of warm-up
  setTimeout(() => (stop = true), 1000 + seconds * 1000);
  void Promise.all(workers).then(() => {
    lat.sort((a, b) => a - b);
    const at = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? NaN;
    console.log(JSON.stringify({ rps: lat.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors }));
    client.close();
    process.exit(0);
  });
} else {
  console.error('usage: bench-balancer-grpc.js server PORT | client PORT SECONDS CONCURRENCY');
  process.exit(2);
}
