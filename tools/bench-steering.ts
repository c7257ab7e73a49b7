/**
 * Steering benchmark: dnsperf against `meridian serve` for static names, steered names
 * without ECS, and steered names with ECS; prints queries/s (median of the rounds), the
 * server's CPU time per query, and the ratios. meridian is pinned to CPU 0 and dnsperf to
 * CPU 1 when `taskset` exists. `--bare` measures a bare node:dgram server the same way, as
 * the reference for what Node's UDP path alone allows.
 *   node dist/tools/bench-steering.js [--seconds 5] [--rounds 3] [--clients 8] [--workers N]
 *     [--server-cpus 0] [--dnsperf-cpus 1] [--dnsperf-threads N] [--mix ID] [--bare]
 * Needs dnsperf (Debian package dnsperf). The example zones and GeoIP database are used.
 */
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpuSeconds, MIXES, requireDnsperf, runDnsperf, startBareDgram, startMeridian, stopMeridian, type Mix } from './perf/dnsperf-run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '8' },
    port: { type: 'string', default: '5399' },
    workers: { type: 'string', default: '1' },
    'server-cpus': { type: 'string', default: '0' },
    'dnsperf-cpus': { type: 'string', default: '1' },
    'dnsperf-threads': { type: 'string' },
    mix: { type: 'string' },
    bare: { type: 'boolean', default: false },
  },
});
requireDnsperf();
const port = Number(values.port);
const rounds = Number(values.rounds);
const perf = {
  port,
  cpus: values['dnsperf-cpus'],
  seconds: Number(values.seconds),
  clients: Number(values.clients),
  threads: values['dnsperf-threads'] === undefined ? undefined : Number(values['dnsperf-threads']),
};
const mixes = values.mix === undefined ? MIXES : MIXES.filter((m) => m.id === values.mix);

interface Row {
  readonly name: string;
  readonly qps: number;
  /** Server CPU microseconds per answered query (all its processes). */
  readonly cpuUs: number;
  readonly avgMs: number;
  readonly lost: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs each mix `rounds` times, interleaved so a noisy neighbour hits every mix alike. */
function measure(server: ChildProcess, label: string, list: readonly Mix[]): Row[] {
  const runs = new Map<Mix, Array<{ qps: number; cpuUs: number; avgMs: number; lost: number }>>();
  for (const mix of list) runDnsperf(mix, { ...perf, seconds: 2 }); // warm-up: fills the caches and the JIT
  for (let r = 0; r < rounds; r++) {
    for (const mix of list) {
      const before = cpuSeconds(server.pid!);
      const res = runDnsperf(mix, perf);
      const after = cpuSeconds(server.pid!);
      const cpuUs = before === null || after === null ? NaN : ((after - before) * 1e6) / res.completed;
      runs.set(mix, [...(runs.get(mix) ?? []), { ...res, cpuUs }]);
    }
  }
  return list.map((mix) => {
    const rs = runs.get(mix)!;
    const row = {
      name: `${label}${mix.name}`,
      qps: median(rs.map((x) => x.qps)),
      cpuUs: median(rs.map((x) => x.cpuUs)),
      avgMs: median(rs.map((x) => x.avgMs)),
      lost: Math.max(...rs.map((x) => x.lost)),
    };
    console.log(
      `${row.name.padEnd(46)} ${row.qps.toFixed(0).padStart(8)} q/s  (${rs.map((x) => x.qps.toFixed(0)).join(' ')})   ${row.cpuUs.toFixed(1).padStart(5)} µs CPU/query   avg ${row.avgMs.toFixed(3)} ms   lost ${row.lost}`,
    );
    return row;
  });
}

const results: Row[] = [];
if (values.bare) {
  const bare = await startBareDgram(port, values['server-cpus']);
  try {
    results.push(...measure(bare, 'bare node:dgram, ', mixes));
  } finally {
    await stopMeridian(bare);
  }
}
const server = await startMeridian({ port, cpus: values['server-cpus'], serveArgs: values.workers === '1' ? [] : ['--workers', values.workers] });
try {
  const ours = measure(server, values.workers === '1' ? '' : `${values.workers} workers, `, mixes);
  results.push(...ours);
  const stat = ours.find((r) => r.name.includes('static'));
  if (stat) for (const r of ours.filter((x) => x !== stat)) console.log(`${r.name} / static: ${(r.qps / stat.qps).toFixed(2)} (CPU per query ${(stat.cpuUs / r.cpuUs).toFixed(2)})`);
  if (values.bare) {
    for (const r of ours) {
      const ref = results.find((b) => b.name === `bare node:dgram, ${r.name.replace(/^\d+ workers, /, '')}`);
      if (ref) console.log(`${r.name} / bare node:dgram: ${(r.qps / ref.qps).toFixed(2)}`);
    }
  }
} finally {
  await stopMeridian(server);
}
