/** What the `serve --workers N` tests look at from outside: the processes and their sockets. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

/** The worker processes of `pid`: its children but the background processes every server forks. */
export function childrenOf(pid: number): number[] {
  try {
    return (
      execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
        .split('\n')
        // not the background processes every server forks (journal compaction, zone loads)
        .filter((line) => !/compact-process|zone-load-process/.test(line))
        .map((s) => Number(s.trim().split(/\s+/)[0]))
        .filter((n) => n > 0)
    );
  } catch {
    return []; // ps exits 1 when there are none
  }
}

/** Polls `check` until it holds or the deadline passes; the change travels over IPC to the workers. */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) assert.fail(`${what}: not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The sockets bound to `host`:`port` (UDP, or listening TCP), each as the ids of the
 * processes that hold it (`ss -p`): a socket cluster shares is one entry with every holder.
 */
export function socketsOn(transport: 'udp' | 'tcp', host: string, port: number): number[][] {
  const local = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const out = execFileSync('ss', ['-Hnp', transport === 'udp' ? '-ul' : '-tl'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.split(/\s+/).includes(local))
    .map((line) => [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b))
    .sort((a, b) => a[0]! - b[0]!);
}

/** meridian_dns_worker_messages_total from a /metrics text, by "worker/transport". */
export function workerMessages(metrics: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of metrics.matchAll(/^meridian_dns_worker_messages_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    out.set(`${labels.worker}/${labels.transport}`, Number(m[2]));
  }
  return out;
}
