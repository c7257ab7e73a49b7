/**
 * What the Internet-facing protection costs (issue 14, item 8): dnsperf on the static mix
 * against `meridian serve` with every feature off, then with each on, in interleaved rounds
 * (the machine is shared: compare medians). `--baseline DIR` adds a build of another checkout
 * (its dist/ and zones/) with everything off, for a before/after of the fast path.
 *   node dist/tools/bench-protect.js [--seconds 5] [--rounds 3] [--baseline /path/to/other/checkout]
 * Server on CPU 0, dnsperf on the last CPU. Needs dnsperf.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_FLAGS } from '../src/cli/node-flags.js';
import { parseSecret, ServerCookies } from '../src/protect/cookies.js';
import { freeLoopbackPort } from '../test/support/knot.js';
import { cpuSeconds, MIXES, pinned, requireDnsperf, root, runDnsperf, stopMeridian, type Mix } from './perf/dnsperf-run.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, baseline: { type: 'string' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const LOAD_CPU = String(os.cpus().length - 1);
requireDnsperf();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-protect-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

const SECRET = '6d6572696469616e2d62656e63682121';
const staticMix = MIXES.find((m) => m.id === 'static')!;
/** dnsperf sends one fixed COOKIE option: a client cookie and the server cookie meridian makes for 127.0.0.1 (valid for an hour). */
function validCookieOption(): string {
  const jar = new ServerCookies({ secret: parseSecret(SECRET), previous: null });
  jar.checkOption(Buffer.from('0102030405060708', 'hex'), Uint8Array.from([127, 0, 0, 1]));
  return `10:${jar.response.toString('hex')}`;
}

interface Variant {
  readonly name: string;
  readonly checkout: string;
  readonly config: string;
  readonly mix: Mix;
}

const variants: Variant[] = [
  { name: 'all off', checkout: root, config: '', mix: staticMix },
  { name: 'cookies on, queries without a cookie', checkout: root, config: `dns: { cookies: { enabled: true, secret: "${SECRET}" } }`, mix: staticMix },
  { name: 'cookies on, client cookie alone', checkout: root, config: `dns: { cookies: { enabled: true, secret: "${SECRET}" } }`, mix: { ...staticMix, ecs: '10:0102030405060708' } },
  { name: 'cookies on, valid server cookie', checkout: root, config: `dns: { cookies: { enabled: true, secret: "${SECRET}" } }`, mix: { ...staticMix, ecs: validCookieOption() } },
  { name: 'RRL on, never over the rate', checkout: root, config: 'dns: { rrl: { enabled: true, responsesPerSecond: 1000000 } }', mix: staticMix },
  { name: 'query log, sample 0.01', checkout: root, config: `dns: { queryLog: { path: "${path.join(dir, 'q.jsonl')}", sample: 0.01 } }`, mix: staticMix },
  { name: 'NSID set, not asked', checkout: root, config: 'dns: { nsid: bench }', mix: staticMix },
];
if (values.baseline) variants.unshift({ name: 'all off, baseline checkout', checkout: path.resolve(values.baseline), config: '', mix: staticMix });

async function start(v: Variant, port: number): Promise<ChildProcess> {
  const config = path.join(dir, 'meridian.yaml');
  fs.writeFileSync(config, `health: { stateFile: null }\nzones: { watch: false }\n${v.config}\n`);
  const args = [
    ...NODE_FLAGS,
    path.join(v.checkout, 'dist/src/cli/main.js'),
    'serve',
    '--config',
    config,
    '--zones',
    path.join(v.checkout, 'zones'),
    '--listen',
    `127.0.0.1:${port}`,
    '--admin',
    'off',
    '--log-level',
    'warn',
  ];
  const [cmd, full] = pinned('0', process.execPath, args);
  const child = spawn(cmd, full, { stdio: ['ignore', 'inherit', 'inherit'], cwd: dir });
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    const r = spawnSync('dig', ['+short', '+tries=1', '+time=1', '-p', String(port), '@127.0.0.1', 'example.com', 'SOA']);
    if (r.status === 0 && r.stdout.toString().includes('ns1')) return child;
    await new Promise((res) => setTimeout(res, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`${v.name}: the server did not start`);
}

const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
/** Server CPU per completed query, in µs: what a neighbour on the shared machine changes least. */
const cpuPerQuery = new Map<string, number[]>(variants.map((v) => [v.name, []]));
console.log(`dnsperf -c 8 -q 200, static mix, ${seconds} s per run, ${rounds} interleaved rounds; server on CPU 0, dnsperf on CPU ${LOAD_CPU}`);
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const port = await freeLoopbackPort();
    const child = await start(v, port);
    const cpuBefore = cpuSeconds(child.pid!) ?? NaN;
    const run = runDnsperf(v.mix, { port, cpus: LOAD_CPU, seconds, clients: 8 });
    const us = (((cpuSeconds(child.pid!) ?? NaN) - cpuBefore) * 1e6) / run.completed;
    await stopMeridian(child);
    results.get(v.name)!.push(run.qps);
    cpuPerQuery.get(v.name)!.push(us);
    console.log(`  round ${r + 1}  ${v.name.padEnd(40)} ${Math.round(run.qps).toLocaleString('en-US').padStart(9)} q/s  ${us.toFixed(2).padStart(6)} µs CPU/query  lost ${run.lost}`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const reference = median(results.get('all off')!);
const referenceCpu = median(cpuPerQuery.get('all off')!);
console.log(`\n  ${'variant'.padEnd(40)} ${'median q/s'.padStart(10)}  ${'range'.padStart(17)}  vs all off   µs CPU/query (median)`);
for (const [name, qps] of results) {
  const m = median(qps);
  const cpu = median(cpuPerQuery.get(name)!);
  console.log(
    `  ${name.padEnd(40)} ${Math.round(m).toLocaleString('en-US').padStart(10)}  ${`${Math.round(Math.min(...qps))}-${Math.round(Math.max(...qps))}`.padStart(17)}  ${(m / reference).toFixed(3)} ×     ${cpu.toFixed(2)} (${(cpu / referenceCpu).toFixed(3)} ×)`,
  );
}
