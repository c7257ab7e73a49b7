/**
 * Preloaded into a server by a benchmark (`node --import …/busy-monitor.js`): measures how
 * long the main thread runs without returning to its event loop, by its own CPU time
 * (process.threadCpuUsage) between ticks of a 1 ms timer. Unlike a query's round trip, this
 * does not count the time the thread waited for a CPU that other processes held, so it
 * measures the server's stalls on a busy machine too. On SIGUSR2 it prints
 * `busy-monitor {"maxMs":…,"p99Ms":…,"ticks":…,"gcMs":…,"gcKind":…}` (the longest collection of
 * the main heap, wall time) to stderr and starts a new window.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';

let last = process.threadCpuUsage();
let gaps: number[] = [];
/** The longest collection of the main thread's heap in the window (wall time), and its kind. */
let longestGc = { ms: 0, kind: '' };
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail: { kind: number } }).detail.kind;
    if (e.duration > longestGc.ms) longestGc = { ms: e.duration, kind: GC_KINDS[kind] ?? 'other' };
  }
}).observe({ entryTypes: ['gc'] });

const timer = setInterval(() => {
  const now = process.threadCpuUsage();
  gaps.push((now.user + now.system - last.user - last.system) / 1000);
  last = now;
}, 1);
timer.unref();

process.on('SIGUSR2', () => {
  const sorted = gaps.sort((a, b) => a - b);
  gaps = [];
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  process.stderr.write(
    `busy-monitor ${JSON.stringify({ maxMs: Number(at(1).toFixed(2)), p99Ms: Number(at(0.99).toFixed(2)), ticks: sorted.length, gcMs: Number(longestGc.ms.toFixed(2)), gcKind: longestGc.kind })}\n`,
  );
  longestGc = { ms: 0, kind: '' };
});
