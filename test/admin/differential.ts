/**
 * A differential check of the answer caches: two servers on copies of the same files, given
 * the same writes and reloads, one with its caches (warmed before each change) and one with
 * none (`dns.cacheMaxEntries: 0`). After each change every question of a list is asked of
 * both, and the answers compared byte for byte, but for the ID and what signing makes differ
 * each time (the RRSIG times and signature): any difference is a stale cached answer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildQuery, decode, sendTcp, sendUdp } from '../support/dns-client.js';
import { ecsOption } from '../support/ecs.js';
import { call, RW_TOKEN, startMeridian, type Meridian, type Reply, type Workspace } from './helpers.js';

export interface Question {
  readonly name: string;
  readonly type: string;
  readonly tcp?: boolean;
  readonly dnssecOk?: boolean;
  /** An ECS option for this subnet. */
  readonly ecs?: string;
}

export interface PairOptions {
  /** Files of the zones folder, by name. */
  readonly files: Record<string, string>;
  /** Lines under `dns:` in both meridian.yaml files, indented two spaces (the reference adds `cacheMaxEntries: 0`). */
  readonly dnsConfig?: string;
  /** Other top-level YAML for both. */
  readonly config?: string;
  /** A folder copied into each server's root (DNSSEC keys). */
  readonly copy?: { readonly from: string; readonly to: string };
  /** Environment of the server with caches (MERIDIAN_WORKERS). */
  readonly cachedEnv?: Record<string, string>;
}

/** The server with caches and the reference without, each in a folder of its own. */
export class ServerPair {
  readonly cached: Meridian;
  readonly reference: Meridian;
  readonly #spaces: Workspace[];
  /** Sockets per UDP question: with DNS workers each source port may reach another worker. */
  readonly spread: number;

  private constructor(cached: Meridian, reference: Meridian, spaces: Workspace[], spread: number) {
    this.cached = cached;
    this.reference = reference;
    this.#spaces = spaces;
    this.spread = spread;
  }

  static async start(o: PairOptions): Promise<ServerPair> {
    const spaces = [space(o, null), space(o, 0)];
    const env = { MERIDIAN_ADMIN_TOKEN: RW_TOKEN };
    try {
      const [cached, reference] = await Promise.all([
        startMeridian(spaces[0]!, { env: { ...env, ...o.cachedEnv }, startTimeoutMs: 30_000 }),
        startMeridian(spaces[1]!, { env, startTimeoutMs: 30_000 }),
      ]);
      return new ServerPair(cached, reference, spaces, o.cachedEnv?.MERIDIAN_WORKERS ? 4 : 1);
    } catch (err) {
      for (const s of spaces) s.remove();
      throw err;
    }
  }

  /** The zones folder of each: [cached, reference]. */
  get zones(): string[] {
    return this.#spaces.map((s) => s.zones);
  }

  /** The same admin API call to both; both must answer `status`. */
  async call(method: string, url: string, body?: unknown, status = 200): Promise<Reply> {
    const [a, b] = await Promise.all([call(this.cached, method, url, body), call(this.reference, method, url, body)]);
    if (a.status !== status || b.status !== status) throw new Error(`${method} ${url}: ${a.status} ${a.text} / ${b.status} ${b.text}`);
    return a;
  }

  /** Edits a file of the zones folder the same way in both. */
  edit(file: string, change: (text: string) => string): void {
    for (const dir of this.zones) {
      const f = path.join(dir, file);
      fs.writeFileSync(f, change(fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : ''));
    }
  }

  /** Asks every question twice of the server with caches: the second time is a hit. */
  async warm(questions: readonly Question[]): Promise<void> {
    for (let i = 0; i < 2; i++) for (const q of questions) await this.#ask(this.cached, q, this.spread);
  }

  /**
   * Each question's answers that differ between the two, described; empty when none does.
   * With DNS workers a change reaches them after the primary's reply: `settleMs` asks again
   * until then.
   */
  async differences(questions: readonly Question[], settleMs = 0): Promise<string[]> {
    const end = Date.now() + settleMs;
    for (;;) {
      const out: string[] = [];
      for (const q of questions) {
        const want = normalize((await this.#ask(this.reference, q, 1))[0]!);
        for (const got of await this.#ask(this.cached, q, this.spread)) {
          const n = normalize(got);
          if (!n.equals(want) && !(q.type === 'ANY' && sameRecords(n, want))) {
            out.push(`${q.name} ${q.type}${q.tcp ? ' tcp' : ''}${q.dnssecOk ? ' do' : ''}${q.ecs ? ` ecs ${q.ecs}` : ''}:\n  cached    ${n.toString('hex')}\n  reference ${want.toString('hex')}`);
            break;
          }
        }
      }
      if (out.length === 0 || Date.now() >= end) return out;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #ask(m: Meridian, q: Question, times: number): Promise<Buffer[]> {
    const packet = buildQuery(q.name, q.type, { id: 0x5eed, edns: q.dnssecOk === true || q.ecs !== undefined, dnssecOk: q.dnssecOk, options: q.ecs ? [ecsOption(q.ecs)] : [] });
    // Generous timeouts: a loaded machine delays DNS workers, which is not what is tested here.
    if (q.tcp) return [(await sendTcp(m.dns, [packet], '127.0.0.1', 10_000))[0]!];
    const out: Buffer[] = [];
    for (let i = 0; i < times; i++) out.push(await sendUdp(m.dns, packet, '127.0.0.1', 5000));
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all([this.cached.kill(), this.reference.kill()]);
    for (const s of this.#spaces) s.remove();
  }
}

function space(o: PairOptions, cacheMaxEntries: number | null): Workspace {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-diff-'));
  const zones = path.join(root, 'zones');
  fs.mkdirSync(zones);
  for (const [name, text] of Object.entries(o.files)) fs.writeFileSync(path.join(zones, name), text);
  if (o.copy) fs.cpSync(o.copy.from, path.join(root, o.copy.to), { recursive: true });
  const config = path.join(root, 'meridian.yaml');
  const dns = `${o.dnsConfig ?? ''}${cacheMaxEntries === null ? '' : `  cacheMaxEntries: ${cacheMaxEntries}\n`}`;
  fs.writeFileSync(config, `health: { stateFile: null }\nzones: { watch: false }\n${o.config ?? ''}${dns === '' ? '' : `dns:\n${dns}`}`);
  const first = Object.keys(o.files).find((f) => f.endsWith('.zone')) ?? '';
  return {
    root,
    zones,
    zoneFile: path.join(zones, first),
    policyFile: path.join(zones, first.replace(/\.zone$/, '.policy.yaml')),
    config,
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * Whether two answers hold the same records in each section, in any order: the RRsets of an
 * ANY answer come in the node's order, which a re-read from the files (DNS workers follow
 * some writes that way) may have otherwise than the write that built the node.
 */
function sameRecords(a: Buffer, b: Buffer): boolean {
  const sections = (m: Buffer): string[] => {
    const d = decode(m);
    const sorted = (rrs: readonly unknown[]): string => JSON.stringify(rrs.map((r) => JSON.stringify(r)).sort());
    return [String(d.flags), JSON.stringify(d.questions), sorted(d.answers), sorted(d.authorities), sorted(d.additionals)];
  };
  return JSON.stringify(sections(a)) === JSON.stringify(sections(b));
}

const RRSIG = 46;

/** The message with ID 0 and each RRSIG's expiration, inception and signature zeroed. */
export function normalize(msg: Buffer): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(0, 0);
  let pos = 12;
  const skipName = (at: number): number => {
    for (;;) {
      const len = out[at]!;
      if (len === 0) return at + 1;
      if ((len & 0xc0) === 0xc0) return at + 2;
      at += len + 1;
    }
  };
  for (let i = 0; i < out.readUInt16BE(4); i++) pos = skipName(pos) + 4;
  const records = out.readUInt16BE(6) + out.readUInt16BE(8) + out.readUInt16BE(10);
  for (let i = 0; i < records && pos < out.length; i++) {
    pos = skipName(pos);
    const type = out.readUInt16BE(pos);
    const rdlen = out.readUInt16BE(pos + 8);
    const rdata = pos + 10;
    if (type === RRSIG) {
      out.fill(0, rdata + 8, rdata + 16);
      out.fill(0, skipName(rdata + 18), rdata + rdlen);
    }
    pos = rdata + rdlen;
  }
  return out;
}
