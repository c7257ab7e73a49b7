/**
 * DNSSEC benchmark (issue #16, "Performance"): dnsperf with DO=1 (`-D`) against meridian
 * signing its zones online, beside the same meridian unsigned, and Knot serving the same zone
 * unsigned, signed by its automatic signing (`dnssec-signing: on`) and by mod-onlinesign (Knot
 * refuses the two on one zone, so they are two servers), all in one run. Mixes: the static mix
 * of bench-dns (A, AAAA, MX, NXDOMAIN, NODATA over bench.test), and for meridian the steered
 * names with ECS from 20,000 /24s (Knot does not steer). Each server is pinned to CPU 0,
 * dnsperf to CPU 1. Prints queries/s and the server's CPU per query, signed against unsigned
 * (goals: signed static ≥ 0.8 ×, signed steered+ECS ≥ 0.5 ×), p99 at 50% of each saturation
 * rate with loss, the signatures meridian made (its metric) and signatures per CPU-second.
 *   node dist/tools/bench-dnssec.js [--seconds 10] [--names 3000] [--algorithm ECDSAP256SHA256|ED25519] [--clients 8] [--skip-knot]
 * Needs dnsperf and knot (Debian packages dnsperf, knot).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ALGORITHMS, type AlgorithmName, generateKey } from '../src/dnssec/keys.js';
import { parseName } from '../src/dns/name.js';
import { udp } from '../test/support/dns-client.js';
import { freeLoopbackPort, startKnot } from '../test/support/knot.js';
import { requireDnsperf, root, startMeridian, stopMeridian } from './perf/dnsperf-run.js';
import {
  BENCH_ORIGIN,
  benchZone,
  dnsperfRunner,
  fmt,
  halfLoad,
  halfRow,
  pinAll,
  ratio,
  staticQueries,
  table,
  version,
  writeEcsManyFile,
  type HalfLoad,
  type QueryData,
  type Run,
  type RunOptions,
  type Server,
} from './perf/dns-bench-kit.js';
import { signaturesPerCpuSecond } from './perf/sign-rate.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    names: { type: 'string', default: '3000' },
    algorithm: { type: 'string', default: 'ECDSAP256SHA256' },
    clients: { type: 'string', default: '8' },
    'skip-knot': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const names = Number(values.names);
const algorithm = values.algorithm as AlgorithmName;
if (!(algorithm in ALGORITHMS)) {
  console.error(`--algorithm: one of ${Object.keys(ALGORITHMS).join(', ')}`);
  process.exit(2);
}
const KNOT_ALGORITHM = { ECDSAP256SHA256: 'ecdsap256sha256', ED25519: 'ed25519' }[algorithm];
const SERVER_CPUS = '0';
const LOAD_CPU = String(os.cpus().length - 1);
requireDnsperf();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-dnssec-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const dnsperf = dnsperfRunner(dir, LOAD_CPU, seconds, Number(values.clients));

// ---------------------------------------------------------------- servers

interface Meridian extends Server {
  /** meridian_dnssec_signatures_total, from the admin API. */
  signatures(): Promise<number>;
}

/** meridian (native UDP where it loads) on the project's zones and bench.test; signing both zones with `signed`. */
async function startMeridianServer(zones: string, signed: boolean): Promise<Meridian> {
  const port = await freeLoopbackPort();
  const adminPort = await freeLoopbackPort();
  const config = path.join(dir, signed ? 'signed.yaml' : 'unsigned.yaml');
  const alg = ` { algorithm: ${algorithm}, keyDir: keys }`;
  fs.writeFileSync(config, signed ? `dns:\n  dnssec:\n    zones:\n      ${BENCH_ORIGIN}:${alg}\n      example.com:${alg}\n` : 'dns: {}\n');
  // No admin token configured: loopback only, for the signature counter.
  const child = await startMeridian({ port, cpus: SERVER_CPUS, serveArgs: ['--zones', zones, '--config', config, '--admin', `127.0.0.1:${adminPort}`] });
  const signatures = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    return Number(/^meridian_dnssec_signatures_total (\d+)/m.exec(text)?.[1] ?? 0);
  };
  return { name: `meridian, ${signed ? 'signing' : 'unsigned'}`, port, pid: child.pid!, tcp: true, stop: () => stopMeridian(child), signatures };
}

async function startKnotServer(zones: string, mode: 'signing' | 'onlinesign' | null): Promise<Server> {
  const knot = await startKnot(zones, { startTimeoutMs: 120_000, ...(mode === null ? {} : { dnssec: { mode, algorithm: KNOT_ALGORITHM } }) });
  pinAll(knot.pid, SERVER_CPUS);
  const label = mode === null ? 'unsigned' : mode === 'signing' ? 'dnssec-signing: on' : 'mod-onlinesign';
  return { name: `Knot ${version('/usr/sbin/knotd', ['-V'], /version (\S+)/)}, ${label}`, port: knot.port, pid: knot.pid, tcp: true, stop: () => knot.stop() };
}

/** RRSIGs per answer over the first `n` queries of a text file, with DO=1. */
async function rrsigsPerAnswer(port: number, file: string, n = 100): Promise<number> {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, n);
  let sigs = 0;
  for (const line of lines) {
    const [name, type] = line.split(' ');
    const { msg } = await udp(port, name!, type!, { edns: true, dnssecOk: true });
    sigs += [...msg.answers, ...msg.authorities].filter((rr) => rr.type === 'RRSIG').length;
  }
  return sigs / lines.length;
}

// ---------------------------------------------------------------- the run

interface Row {
  readonly server: string;
  readonly mix: 'static' | 'steered+ECS';
  readonly signed: boolean;
  readonly run: Run;
  readonly half: HalfLoad;
  /** Signatures the server made in the warm-up and in the measured run, when it says. */
  readonly signatures?: { readonly warmUp: number; readonly run: number };
  readonly rrsigsPerAnswer?: number;
}

async function main(): Promise<void> {
  pinAll(process.pid, LOAD_CPU);
  const zones = path.join(dir, 'zones');
  fs.cpSync(path.join(root, 'zones'), zones, { recursive: true });
  fs.writeFileSync(path.join(zones, `${BENCH_ORIGIN}.zone`), benchZone(names));
  const knotZones = path.join(dir, 'knot-zones');
  fs.mkdirSync(knotZones);
  fs.copyFileSync(path.join(zones, `${BENCH_ORIGIN}.zone`), path.join(knotZones, `${BENCH_ORIGIN}.zone`));
  for (const zone of [BENCH_ORIGIN, 'example.com']) generateKey(parseName(`${zone}.`, null), ALGORITHMS[algorithm], path.join(dir, 'keys'));

  const staticData: QueryData = { file: path.join(dir, 'static.txt') };
  fs.writeFileSync(staticData.file, staticQueries(Math.max(names, 5000)).join('\n') + '\n');
  const ecsPlain = writeEcsManyFile(path.join(dir, 'ecs.bin'));
  const ecsDo = writeEcsManyFile(path.join(dir, 'ecs-do.bin'), true);

  console.log(
    `dnsperf -c ${values.clients} -q 200, ${seconds} s per run; servers on CPU ${SERVER_CPUS}, dnsperf on CPU ${LOAD_CPU}; zone ${BENCH_ORIGIN} with ${names} names; ${algorithm}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const rows: Row[] = [];
  const one = async (s: Server, mix: Row['mix'], data: QueryData, opts: RunOptions, signed: boolean): Promise<void> => {
    const counter = 'signatures' in s ? (): Promise<number> => (s as Meridian).signatures() : null;
    const start = counter && (await counter());
    dnsperf(s.port, data, { ...opts, secs: 2 }); // warm-up: the answer caches and, signed, the signature cache
    const before = counter && (await counter());
    const run = dnsperf.measured(s.pid, s.port, data, opts);
    const signatures = counter && { warmUp: before! - start!, run: (await counter()) - before! };
    const half = halfLoad(dnsperf, s.port, data, run.qps, opts);
    const perAnswer = signed && !data.binary ? await rrsigsPerAnswer(s.port, data.file) : undefined;
    rows.push({ server: s.name, mix, signed, run, half, ...(signatures ? { signatures } : {}), ...(perAnswer === undefined ? {} : { rrsigsPerAnswer: perAnswer }) });
  };
  for (const signed of [false, true]) {
    const s = await startMeridianServer(zones, signed);
    try {
      await one(s, 'static', staticData, { dnssecOk: signed }, signed);
      await one(s, 'steered+ECS', signed ? ecsDo : ecsPlain, {}, signed);
    } finally {
      await s.stop();
    }
  }
  if (!values['skip-knot']) {
    for (const mode of [null, 'signing', 'onlinesign'] as const) {
      const s = await startKnotServer(knotZones, mode);
      try {
        await one(s, 'static', staticData, { dnssecOk: mode !== null }, mode !== null);
      } finally {
        await s.stop();
      }
    }
  }

  const find = (server: string, mix: Row['mix'], signed: boolean): Row | undefined => rows.find((r) => r.server.startsWith(server) && r.mix === mix && r.signed === signed);
  const note = (r: Row): string => {
    const parts: string[] = [];
    const base = r.signed ? find(r.server.startsWith('meridian') ? 'meridian, unsigned' : 'Knot', r.mix, false) : undefined;
    if (base) {
      const goal = r.server.startsWith('meridian') ? ` (goal ≥ ${r.mix === 'static' ? '0.8' : '0.5'})` : '';
      parts.push(`of unsigned: q/s ${ratio(r.run.qps, base.run.qps)}, per CPU second ${ratio(base.run.cpuUs, r.run.cpuUs)}${goal}`);
    }
    if (r.signatures !== undefined && r.signed) parts.push(`signatures made: ${fmt(r.signatures.warmUp)} in the 2 s warm-up, ${fmt(r.signatures.run)} in the run`);
    if (r.rrsigsPerAnswer !== undefined) parts.push(`${fmt(r.rrsigsPerAnswer, 2)} RRSIGs per answer`);
    // mod-onlinesign signs each answer as it goes out: its RRSIGs served per CPU second are signatures made.
    if (r.server.includes('onlinesign') && r.rrsigsPerAnswer !== undefined) parts.push(`${fmt((r.rrsigsPerAnswer / r.run.cpuUs) * 1e6)} signatures per CPU second`);
    return parts.join('; ');
  };
  const label = (r: Row): string => `${r.server}, ${r.mix}${r.signed ? ', DO=1' : ''}`;
  table(
    'Signed against unsigned over UDP (static: A, AAAA, MX, NXDOMAIN, NODATA; steered+ECS: www, api, near, pool A from 20,000 /24s)',
    rows.map((r) => [label(r), r.run, note(r)]),
  );
  table(
    "At 50% of each server's saturation rate (the window with the median p99 of three)",
    rows.map((r) => halfRow(label(r), r.half)),
  );

  console.log(`\nSigning on one core (meridian's signer in this process, RRSIG over a one-record A RRset, CPU time):`);
  for (const [name, alg] of Object.entries(ALGORITHMS)) console.log(`  ${name.padEnd(16)} ${fmt(signaturesPerCpuSecond(alg, 1))} signatures per CPU second`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
