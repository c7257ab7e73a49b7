/**
 * Issue 14 item 6: every acknowledged admin write has its audit line, even when the process
 * is SIGKILLed the moment the 2xx arrives (the log stream is asynchronous and lost 6 of 781
 * such lines; there was no audit file at all). The audit file rotates by size, keeps the
 * configured number of files, and never holds a token.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, RW_TOKEN, startMeridian, workspace, ZONE, type Meridian, type Workspace } from './helpers.js';

const env = { MERIDIAN_ADMIN_TOKEN: RW_TOKEN };
const ROUNDS = 4;

interface Line {
  time: string;
  token: string;
  change: string;
  zone?: string;
  newSerial?: number;
  targets?: string[];
}

/** Every line of the audit file and its rotated copies, oldest first; each must be whole JSON. */
function readAudit(file: string): Line[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const rotated = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(`${base}.`))
    .map((f) => Number(f.slice(base.length + 1)))
    .sort((a, b) => b - a);
  const files = [...rotated.map((n) => `${file}.${n}`), file].filter((f) => fs.existsSync(f));
  const text = files.map((f) => fs.readFileSync(f, 'utf8')).join('');
  assert.ok(!text.includes(RW_TOKEN), 'the audit trail never holds a token');
  assert.ok(text === '' || text.endsWith('\n'), 'no torn last line');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

/** A write and what its audit line must say. */
type Write = (m: Meridian, i: number) => Promise<{ status: number; expect: (l: Line) => boolean; what: string }>;

const WRITES: Write[] = [
  async (m, i) => {
    const r = await call(m, 'PUT', `/v1/zones/${ZONE}/records/stream/TXT`, { ttl: 60, rdata: [`"${i}"`] });
    return { status: r.status, what: `put TXT ${i} (serial ${r.json?.serial})`, expect: (l) => l.change === 'put stream TXT' && l.newSerial === r.json?.serial };
  },
  async (m, i) => {
    const verb = i % 2 === 0 ? 'drain' : 'undrain';
    const r = await call(m, 'POST', `/v1/targets/secondary/${verb}`);
    // several drains look alike: matched by count below
    return { status: r.status, what: `${verb} secondary`, expect: (l) => l.change === `${verb} target adm.test/secondary` };
  },
  async (m, i) => {
    const r = await call(m, 'PUT', `/v1/zones/${ZONE}/policy/targets/t${i}`, { region: 'x', ipv4: ['192.0.2.9'] });
    return { status: r.status, what: `put target t${i}`, expect: (l) => l.change === `put policy targets.t${i}` && l.newSerial === r.json?.serial };
  },
];

describe('admin API: audit file', () => {
  let ws: Workspace;
  before(() => {
    // the audit file goes beside the health state by default
    ws = workspace('health: { stateFile: var/health.json }\nzones: { watch: false }\n');
  });
  after(() => ws.remove());

  it('holds the line of every acknowledged write after SIGKILL right after a 2xx', async (t) => {
    const file = path.join(ws.root, 'var', 'audit.log');
    const acked: Array<{ what: string; expect: (l: Line) => boolean }> = [];
    let i = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const m = await startMeridian(ws, { env });
      const writes = 6 + Math.floor(Math.random() * 10);
      for (let n = 1; n <= writes; n++) {
        i++;
        const w = await WRITES[i % WRITES.length]!(m, i);
        assert.equal(w.status, 200, w.what);
        // no await between the 2xx and the kill on the last one
        if (n === writes) m.child.kill('SIGKILL');
        acked.push(w);
      }
      await m.kill();
    }
    const lines = readAudit(file);
    t.diagnostic(`${acked.length} acknowledged writes over ${ROUNDS} SIGKILLs, ${lines.length} audit lines`);
    const used = new Set<number>();
    for (const w of acked) {
      const at = lines.findIndex((l, k) => !used.has(k) && w.expect(l));
      assert.ok(at >= 0, `no audit line for the acknowledged write "${w.what}"`);
      used.add(at);
      assert.equal(lines[at]!.token, 'MERIDIAN_ADMIN_TOKEN', 'names the token, by its name');
    }
    assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600', 'only the owner reads the trail');
  });

  it('rotates by size and keeps the configured number of files', async () => {
    const rws = workspace('health: { stateFile: null }\nzones: { watch: false }\nadmin: { audit: { file: trail/audit.jsonl, maxBytes: 4096, keep: 2 } }\n');
    const m = await startMeridian(rws, { env });
    try {
      const serials: number[] = [];
      for (let i = 0; i < 80; i++) {
        const r = await call(m, 'PUT', `/v1/zones/${ZONE}/records/stream/TXT`, { ttl: 60, rdata: [`"${i}"`] });
        assert.equal(r.status, 200);
        serials.push(r.json.serial as number);
      }
      const dir = path.join(rws.root, 'trail');
      assert.deepEqual(fs.readdirSync(dir).sort(), ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2']);
      for (const f of fs.readdirSync(dir)) assert.ok(fs.statSync(path.join(dir, f)).size <= 4096, `${f} is within maxBytes`);
      const kept = readAudit(path.join(dir, 'audit.jsonl')).map((l) => l.newSerial);
      assert.ok(kept.length > 20 && kept.length < 80, `the oldest lines rotated away (${kept.length} kept)`);
      assert.deepEqual(kept, serials.slice(-kept.length), 'the newest lines are kept, in order, none missing');
    } finally {
      await m.stop();
      rws.remove();
    }
  });
});
