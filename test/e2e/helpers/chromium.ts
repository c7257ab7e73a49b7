/** Headless Chromium for page tests: load a URL, let its scripts run, return the DOM. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from './unbound.js';

/** The browser binary: Debian's `chromium`, or Chrome where that is what a machine has. */
export function findChromium(): string | null {
  return findBinary('chromium') ?? findBinary('chromium-browser') ?? findBinary('google-chrome');
}

/**
 * The DOM after the page's scripts ran (`--dump-dom`). Virtual time lets timers and fetches
 * finish without the test sleeping; a profile of its own keeps runs independent. The browser
 * runs in its own process group, so a hung one is killed with every child it started.
 */
export async function dumpDom(url: string, opts: { virtualTimeMs?: number; timeoutMs?: number } = {}): Promise<string> {
  const bin = findChromium();
  if (bin === null) throw new Error('chromium not found');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-chromium-'));
  const args = [
    '--headless=new',
    '--no-sandbox', // tests run as root in CI containers, where the sandbox cannot start
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-extensions',
    '--disable-background-networking',
    `--user-data-dir=${profile}`,
    `--virtual-time-budget=${opts.virtualTimeMs ?? 3000}`,
    '--dump-dom',
    url,
  ];
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => {
        killGroup(child.pid);
        reject(new Error(`chromium did not finish in ${opts.timeoutMs ?? 30_000} ms:\n${err.slice(-2000)}`));
      }, opts.timeoutMs ?? 30_000);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        // Helpers (zygote, GPU, crashpad) may outlive the browser for a moment; end them too.
        killGroup(child.pid);
        if (code === 0 && out.includes('<html')) resolve(out);
        else reject(new Error(`chromium exited with ${code}:\n${err.slice(-2000)}`));
      });
    });
  } finally {
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The attributes of the first start tag in `html` that carries `attr="value"`, or null. */
export function elementWith(html: string, attr: string, value: string): Record<string, string> | null {
  const needle = `${attr}="${value}"`;
  for (const m of html.matchAll(/<([a-z0-9]+)(\s[^>]*)?>/gi)) {
    const attrs = m[2] ?? '';
    if (!attrs.includes(needle)) continue;
    const out: Record<string, string> = {};
    for (const a of attrs.matchAll(/([\w-]+)="([^"]*)"/g)) out[a[1]!] = a[2]!;
    if (out[attr] === value) return out;
  }
  return null;
}
