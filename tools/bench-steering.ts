/**
 * Steering benchmark: dnsperf against `meridian serve` for static names, steered names
 * without ECS, and steered names with ECS; prints queries/s, latency and the ratios.
 * meridian is pinned to CPU 0 and dnsperf to CPU 1 when `taskset` exists.
 *   node dist/tools/bench-steering.js [--seconds 10] [--clients 8] [--workers N]
 *     [--server-cpus 0] [--dnsperf-cpus 1] [--dnsperf-threads N]
 * Needs dnsperf (Debian package dnsperf). The example zones and GeoIP database are used.
 */
import { parseArgs } from 'node:util';
import { MIXES, requireDnsperf, runDnsperf, startMeridian, stopMeridian, type DnsperfResult } from './perf/dnsperf-run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '8' },
    port: { type: 'string', default: '5399' },
    workers: { type: 'string', default: '1' },
    'server-cpus': { type: 'string', default: '0' },
    'dnsperf-cpus': { type: 'string', default: '1' },
    'dnsperf-threads': { type: 'string' },
    mix: { type: 'string' },
  },
});
requireDnsperf();
const port = Number(values.port);
const perf = {
  port,
  cpus: values['dnsperf-cpus']!,
  seconds: Number(values.seconds),
  clients: Number(values.clients),
  threads: values['dnsperf-threads'] === undefined ? undefined : Number(values['dnsperf-threads']),
};
const mixes = values.mix === undefined ? MIXES : MIXES.filter((m) => m.id === values.mix);
const server = await startMeridian({ port, cpus: values['server-cpus']!, serveArgs: values.workers === '1' ? [] : ['--workers', values.workers!] });
try {
  const results: Array<{ name: string } & DnsperfResult> = [];
  for (const mix of mixes) {
    runDnsperf(mix, { ...perf, seconds: Math.min(5, perf.seconds) }); // warm-up: fills the caches and the JIT
    const r = runDnsperf(mix, perf);
    results.push({ name: mix.name, ...r });
    console.log(`${mix.name.padEnd(40)} ${r.qps.toFixed(0).padStart(8)} q/s   avg ${r.avgMs.toFixed(3)} ms   lost ${r.lost}`);
  }
  const base = results[0]!.qps;
  for (const r of results.slice(1)) console.log(`${r.name} / ${results[0]!.name.split(' ')[0]}: ${(r.qps / base).toFixed(2)}`);
} finally {
  await stopMeridian(server);
}
