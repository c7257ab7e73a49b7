/**
 * Profiles the query path: runs `meridian serve` under `node --cpu-prof` (pinned to CPU 0),
 * drives one query mix with dnsperf (CPU 1), stops the server and prints the functions with
 * the most self time, as a share of all samples. tools/PROFILE.md records the findings.
 *   node dist/tools/profile-hot-path.js [--mix static|steered|steered-ecs] [--seconds 10] [--top 20] [--keep DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MIXES, requireDnsperf, root, runDnsperf, startMeridian, stopMeridian } from './perf/dnsperf-run.js';

const { values } = parseArgs({
  options: {
    mix: { type: 'string', default: 'steered-ecs' },
    seconds: { type: 'string', default: '10' },
    top: { type: 'string', default: '20' },
    port: { type: 'string', default: '5398' },
    keep: { type: 'string' },
  },
});
requireDnsperf();
const mix = MIXES.find((m) => m.id === values.mix);
if (mix === undefined) {
  console.error(`unknown mix "${values.mix}": one of ${MIXES.map((m) => m.id).join(', ')}`);
  process.exit(2);
}
const top = Number(values.top);
const port = Number(values.port);
const dir = values.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-prof-'));
fs.mkdirSync(dir, { recursive: true });

const server = await startMeridian({ port, cpus: '0', nodeOptions: ['--cpu-prof', '--cpu-prof-dir', dir] });
const perf = { port, cpus: '1', seconds: Number(values.seconds), clients: 8 };
runDnsperf(mix, { ...perf, seconds: 3 }); // warm-up
const result = runDnsperf(mix, perf);
await stopMeridian(server);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}
const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (file === undefined) throw new Error(`no .cpuprofile written in ${dir}`);
const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Profile;

// Self time = the samples whose leaf is the node; grouped by function and place.
const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
const selfCounts = new Map<string, number>();
// Where self time goes, coarsely: our code, Node's JavaScript (dgram, buffer, timers), other
// packages, and V8's own buckets ((program) is mostly native code: the send syscall's C++ side, libuv).
const groups = new Map<string, number>();
const groupOf = (f: ProfileNode['callFrame']): string => {
  if (f.url.includes('/dist/src/')) return 'meridian (dist/src)';
  if (f.url.startsWith('node:')) return 'Node.js internals (node:*)';
  if (f.url.includes('/node_modules/')) return 'packages (node_modules)';
  if (f.url === '') return f.functionName.startsWith('(') ? f.functionName : 'native';
  return 'other';
};
for (const id of profile.samples) {
  const f = byNode.get(id)!.callFrame;
  const place = f.url.startsWith('file://') ? path.relative(root, fileURLToPath(f.url)) : f.url;
  const where = place === '' ? '' : ` ${place}:${f.lineNumber + 1}`;
  const label = `${f.functionName || '(anonymous)'}${where}`;
  selfCounts.set(label, (selfCounts.get(label) ?? 0) + 1);
  const group = groupOf(f);
  groups.set(group, (groups.get(group) ?? 0) + 1);
}
const total = profile.samples.length;
console.log(`${mix.name}: ${result.qps.toFixed(0)} q/s under the profiler, ${total} samples`);
console.log(
  'self time by kind: ' +
    [...groups]
      .sort((a, b) => b[1] - a[1])
      .map(([g, n]) => `${g} ${((100 * n) / total).toFixed(1)}%`)
      .join(', '),
);
for (const [label, n] of [...selfCounts].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${label}`);
}
if (values.keep === undefined) fs.rmSync(dir, { recursive: true, force: true });
else console.log(`profile kept in ${path.join(dir, file)}`);
