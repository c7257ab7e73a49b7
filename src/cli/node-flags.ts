/**
 * The V8 flags meridian runs with, wherever it is started: the `meridian` bin's shebang,
 * `npm start`, the Dockerfile, deploy/meridian.service and the benchmark tools
 * (test/cli/node-flags.test.ts keeps them in step). They must be given to node on its command
 * line: V8 sizes its heap before any of our code runs.
 *
 * A young generation of 2 MB per semi-space instead of V8's default 16 MB: every received
 * datagram is a new ArrayBuffer that a scavenge must sweep, so a large young generation
 * means rare but long pauses (1.7 ms at 45,000 queries/s on the development machine), which
 * set the p99 latency. At 2 MB a scavenge takes 0.2-0.5 ms, and throughput is no lower
 * (tools/PROFILE.md).
 *
 * One V8 helper thread instead of Node's default four. They mark the heap concurrently while
 * the answering thread runs, at its priority: where the server has one CPU (a container
 * limited to one, a process pinned to one), four of them took turns with the answering
 * thread during each major collection, and a 10,000-operation admin batch on a
 * 1,000,000-record zone held answers up to 57-70 ms (p99.9) instead of 29-32 ms with one
 * (tools/bench-stall.ts). Throughput was the same (216,000 against 212,000-218,000 q/s); each
 * `--workers` process has its own.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--v8-pool-size=1'];

/** The flags of NODE_FLAGS this process was started without (by option name). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map((a) => a.split('=')[0]!.replace(/_/g, '-')));
  return NODE_FLAGS.filter((f) => !given.has(f.split('=')[0]!));
}
