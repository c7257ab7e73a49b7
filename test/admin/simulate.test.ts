/**
 * POST /v1/simulate over real HTTP against `meridian serve` with the example zones (issue
 * #20): the shares it predicts are the shares real queries get. 20,000 UDP queries with ECS
 * from the population's networks before a drain and 20,000 after it, each target's share
 * within 2 percentage points of the simulation (which counts random picks exactly). Then the
 * API's bad inputs: each a 400 naming the field, nothing changed; auth as every route.
 * Last, the status page's drain/undrain preview in headless Chromium.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, sendUdp } from '../support/dns-client.js';
import { ecsOption } from '../support/ecs.js';
import { dumpDom, elementWith, findChromium } from '../e2e/helpers/chromium.js';
import { projectRoot } from '../support/test-server.js';
import { samplePopulation } from '../../src/steer/population.js';
import { addresses, call, RO_TOKEN, RW_TOKEN, startMeridian, type Meridian, type Workspace } from './helpers.js';

/** The example policy's addresses → target ids. */
const TARGET_OF = new Map([
  ['192.0.2.10', 'eu-west'],
  ['192.0.2.20', 'eu-central'],
  ['198.51.100.10', 'us-east'],
  ['198.51.100.20', 'sa-east'],
  ['203.0.113.10', 'ap-southeast'],
]);

/** Queries per name and phase: cdn draws at random per query, www is stable per /24, eu-data answers several targets. */
const PLAN: [string, number][] = [
  ['cdn.example.com', 10_000],
  ['www.example.com', 5_000],
  ['eu-data.example.com', 5_000],
];
const PHASE_QUERIES = PLAN.reduce((s, [, n]) => s + n, 0);

let ws: Workspace;
let m: Meridian;

before(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-sim-'));
  const zones = path.join(root, 'zones');
  fs.cpSync(path.join(projectRoot, 'zones'), zones, { recursive: true });
  const config = path.join(root, 'meridian.yaml');
  fs.writeFileSync(
    config,
    `health: { stateFile: null }\nzones: { watch: false }\nadmin:\n  tokens:\n    - { name: ops, token: ${RW_TOKEN}, access: write }\n    - { name: viewer, token: ${RO_TOKEN}, access: read }\n`,
  );
  ws = {
    root,
    zones,
    zoneFile: path.join(zones, 'example.com.zone'),
    policyFile: path.join(zones, 'example.com.policy.yaml'),
    config,
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
  m = await startMeridian(ws);
});

after(async () => {
  await m?.stop();
  ws?.remove();
});

/**
 * The built-in sample's networks, each given queries in proportion to its weight (largest
 * remainder), so the population the simulation gets is exactly the queries sent.
 */
function allocate(total: number): { network: string; weight: number }[] {
  const entries = samplePopulation().entries;
  const sum = entries.reduce((s, e) => s + e.weight, 0);
  const exact = entries.map((e) => ({ network: e.network, q: (total * e.weight) / sum }));
  const out = exact.map((e) => ({ network: e.network, weight: Math.floor(e.q), rest: e.q - Math.floor(e.q) }));
  let left = total - out.reduce((s, e) => s + e.weight, 0);
  for (const e of [...out].sort((a, b) => b.rest - a.rest)) {
    if (left-- <= 0) break;
    e.weight++;
  }
  return out.filter((e) => e.weight > 0).map(({ network, weight }) => ({ network, weight }));
}

/** Sends `count` A queries for `name` from each network (as ECS) over one UDP socket, 64 in flight; returns each target's share and the no-answer share. */
async function measure(name: string, population: { network: string; weight: number }[]): Promise<Map<string, number>> {
  const queue: string[] = population.flatMap((p) => new Array<string>(p.weight).fill(p.network));
  const socket = dgram.createSocket('udp4');
  const tally = new Map<string, number>();
  const pending = new Map<number, { network: string; timer: NodeJS.Timeout }>();
  let nextId = 0;
  let answered = 0;
  const total = queue.length;
  await new Promise<void>((resolve, reject) => {
    const send = (network: string): void => {
      const id = nextId++ & 0xffff;
      // A query lost on a busy machine is sent again; an answer is counted once.
      const timer = setTimeout(() => {
        pending.delete(id);
        send(network);
      }, 2000);
      pending.set(id, { network, timer });
      socket.send(buildQuery(name, 'A', { id, edns: true, options: [ecsOption(network)] }), m.dns, '127.0.0.1');
    };
    socket.on('error', reject);
    socket.on('message', (raw) => {
      const msg = decode(raw);
      const p = pending.get(msg.id);
      if (p === undefined) return;
      clearTimeout(p.timer);
      pending.delete(msg.id);
      const ids = msg.answers.filter((a) => a.type === 'A').map((a) => TARGET_OF.get(String(a.data)) ?? `unknown ${a.data}`);
      if (ids.length === 0) tally.set('no answer', (tally.get('no answer') ?? 0) + 1);
      for (const id of ids) tally.set(id, (tally.get(id) ?? 0) + 1 / ids.length);
      if (++answered === total) resolve();
      else if (queue.length > 0) send(queue.pop()!);
    });
    for (let i = 0; i < 64 && queue.length > 0; i++) send(queue.pop()!);
  });
  for (const p of pending.values()) clearTimeout(p.timer);
  socket.close();
  return new Map([...tally].map(([k, v]) => [k, v / answered]));
}

interface Row {
  id: string;
  before: number;
  after: number;
}
interface SimName {
  name: string;
  targets: Row[];
  noAnswer: Row;
  failOpen: Row;
  losingAnswersTotal: number;
}

function assertClose(label: string, measured: Map<string, number>, sim: SimName, side: 'before' | 'after'): void {
  for (const r of sim.targets) {
    const got = measured.get(r.id) ?? 0;
    assert.ok(Math.abs(got - r[side]) <= 0.02, `${label} ${sim.name} ${r.id}: real ${(got * 100).toFixed(2)}%, simulated ${(r[side] * 100).toFixed(2)}%`);
  }
  assert.ok(Math.abs((measured.get('no answer') ?? 0) - sim.noAnswer[side]) <= 0.02, `${label} ${sim.name}: no-answer share`);
  for (const k of measured.keys()) assert.ok(k === 'no answer' || sim.targets.some((r) => r.id === k), `${label} ${sim.name}: real answers hold ${k}`);
}

describe('POST /v1/simulate predicts what real queries get', () => {
  it(`before and after a drain of eu-west, ${2 * PHASE_QUERIES} queries, every share within 2 points`, { timeout: 240_000 }, async () => {
    const populations = new Map(PLAN.map(([name, n]) => [name, allocate(n)]));
    const sims = new Map<string, SimName>();
    for (const [name] of PLAN) {
      const r = await call(m, 'POST', '/v1/simulate', { clients: populations.get(name), drain: ['eu-west'] }, RW_TOKEN);
      assert.equal(r.status, 200, r.text);
      sims.set(
        name,
        (r.json.names as SimName[]).find((n) => n.name === `${name}.`)!,
      );
    }
    // The drain moves something measurable: otherwise "after" would prove nothing.
    assert.ok(sims.get('cdn.example.com')!.targets.find((t) => t.id === 'eu-west')!.before > 0.1);
    for (const [name] of PLAN) assertClose('before', await measure(name, populations.get(name)!), sims.get(name)!, 'before');
    assert.equal((await call(m, 'POST', '/v1/targets/eu-west/drain', {})).status, 200);
    for (const [name] of PLAN) assertClose('after', await measure(name, populations.get(name)!), sims.get(name)!, 'after');
    assert.equal((await call(m, 'POST', '/v1/targets/eu-west/undrain', {})).status, 200);
  });
});

describe('POST /v1/simulate: inputs', () => {
  it('the built-in sample by default; a policy text is validated like the file, file:line errors', async () => {
    const r = await call(m, 'POST', '/v1/simulate', {}, RW_TOKEN);
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.population.source, /built-in sample/);
    assert.ok(r.json.population.networks > 200);
    const policy = fs.readFileSync(ws.policyFile, 'utf8');
    const bad = await call(m, 'POST', '/v1/simulate', { policy: { zone: 'example.com', text: policy.replace('weight: 90', 'weight: lots') } }, RW_TOKEN);
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'body.policy');
    assert.match(bad.json.details.join('\n'), /^body\.policy\.text:\d+: .*weight/m);
    // a valid edit: api's primary becomes us-east
    const edit = policy.replace('            - targets: [eu-west]\n            - targets: [us-east]', '            - targets: [us-east]\n            - targets: [eu-west]');
    assert.notEqual(edit, policy);
    const ok = await call(m, 'POST', '/v1/simulate', { policy: { zone: 'example.com.', text: edit } }, RW_TOKEN);
    assert.equal(ok.status, 200, ok.text);
    const api = (ok.json.names as SimName[]).find((n) => n.name === 'api.example.com.')!;
    assert.deepEqual(
      api.targets.map((t) => [t.id, t.before, t.after]),
      [
        ['ap-southeast', 0, 0],
        ['eu-west', 1, 0],
        ['us-east', 0, 1],
      ],
    );
  });

  it('bad inputs are 400s naming the field; answers stay as they were', async () => {
    const answers = await addresses(m, 'api.example.com');
    const cases: [unknown, string][] = [
      [{ drain: ['__proto__'] }, 'body.drain'],
      [{ drain: ['eu-west'], undrain: ['eu-west'] }, 'body.undrain'],
      [{ drain: 'eu-west' }, 'body.drain'],
      [{ clients: [{ network: '10.0.0.0/8', weight: 1 }] }, 'body.clients'],
      [{ clients: [{ network: '81.2.69.0/24', weight: 0 }] }, 'body.clients.0.weight'],
      [{ clients: '81.2.69.0/24 1\nnonsense\n' }, 'body.clients'],
      [{ clients: [] }, 'body.clients'],
      [{ type: 'MX' }, 'body.type'],
      [{ policy: { zone: 'nowhere.test', text: 'targets: {}' } }, 'body.policy.zone'],
      [{ extra: 1 }, 'body.extra'],
      [{ clients: Array.from({ length: 10_001 }, (_, i) => ({ network: `81.${i >> 8}.${i & 255}.0/24`, weight: 1 })) }, 'body.clients'],
    ];
    for (const [body, field] of cases) {
      const r = await call(m, 'POST', '/v1/simulate', body, RW_TOKEN);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
      assert.equal(r.json.field, field, r.text);
    }
    const line = await call(m, 'POST', '/v1/simulate', { clients: '81.2.69.0/24 1\nnonsense\n' }, RW_TOKEN);
    assert.match(line.json.message, /body\.clients:2: expected "NETWORK WEIGHT"/);
    assert.deepEqual(await addresses(m, 'api.example.com'), answers);
    const health = await call(m, 'GET', '/v1/health', undefined, RW_TOKEN);
    assert.ok(
      (health.json.targets as { forced: string | null }[]).every((t) => t.forced === null),
      'a simulation drained nothing',
    );
  });

  it('10,000 networks (the cap) do not hold DNS answers up: queries every 10 ms are answered within a second', async () => {
    let running = true;
    let maxMs = 0;
    let lost = 0;
    const probe = (async () => {
      while (running) {
        const started = performance.now();
        try {
          await sendUdp(m.dns, buildQuery('www.example.com', 'A'), '127.0.0.1', 2000);
          maxMs = Math.max(maxMs, performance.now() - started);
        } catch {
          lost++;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const clients = Array.from({ length: 10_000 }, (_, i) => ({ network: `${[81, 8, 1, 200, 41][i % 5]}.${(i >> 8) & 255}.${i & 255}.0/24`, weight: 1 + (i % 7) }));
    const started = performance.now();
    const r = await call(m, 'POST', '/v1/simulate', { clients, drain: ['eu-west'] }, RW_TOKEN);
    const tookMs = performance.now() - started;
    running = false;
    await probe;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.population.networks, 10_000);
    assert.equal(lost, 0);
    // The simulation itself takes seconds: unsliced, one query would have waited all of it.
    assert.ok(maxMs < 1000, `a query waited ${maxMs.toFixed(0)} ms during a ${tookMs.toFixed(0)} ms simulation`);
  });

  it('needs a write token like every POST (it costs CPU where DNS is answered), and is in the OpenAPI document', async () => {
    assert.equal((await call(m, 'POST', '/v1/simulate', {}, null)).status, 401);
    assert.equal((await call(m, 'POST', '/v1/simulate', {}, RO_TOKEN)).status, 403);
    const doc = await call(m, 'GET', '/openapi.json', undefined, null);
    assert.ok(doc.json.paths['/v1/simulate']?.post, 'POST /v1/simulate documented');
  });
});

const noChromium = findChromium() === null ? 'chromium is not installed (Debian package chromium)' : false;

describe('status page: a preview before drain and undrain', () => {
  const page = (preview: string): Promise<string> => dumpDom(`http://127.0.0.1:${m.api}/dashboard#token=${RW_TOKEN}&preview=${preview}`, { virtualTimeMs: 5000 });
  const forced = async (): Promise<(string | null)[]> => ((await call(m, 'GET', '/v1/health', undefined, RW_TOKEN)).json.targets as { forced: string | null }[]).map((t) => t.forced);

  it('drain: every target has a drain button; the preview shows shares before and after, and changes nothing', { skip: noChromium }, async () => {
    const dom = await page('drain:example.com/eu-west');
    assert.equal(elementWith(dom, 'data-key', 'example.com/eu-central')?.['data-action'], 'drain');
    const section = elementWith(dom, 'id', 'preview')!;
    assert.equal(section['data-ready'], 'true', 'the simulation came back');
    assert.equal(section['data-action'], 'drain');
    assert.match(dom, /<section id="preview"(?![^>]*\bhidden\b)[^>]*>/, 'shown');
    assert.match(dom, /<table data-preview-name="www\.example\.com\.">/);
    const www = dom.slice(dom.indexOf('data-preview-name="www.example.com."'));
    assert.match(www, /data-row="target eu-west" data-before="0\.\d+" data-after="0\.0000"/);
    assert.match(www, /data-row="target eu-central" data-before="0\.\d+" data-after="0\.\d+"/);
    assert.match(dom, /Confirm drain example\.com\/eu-west/);
    assert.doesNotMatch(dom, /data-losing=/, 'with eu-central left, nobody loses answers');
    assert.ok(
      (await forced()).every((f) => f === null),
      'a preview drains nothing',
    );
  });

  it('with eu-central drained: draining eu-west too flags the European clients that lose eu-data; undrain previews the way back', { skip: noChromium }, async () => {
    assert.equal((await call(m, 'POST', '/v1/targets/example.com%2Feu-central/drain', {})).status, 200);
    try {
      const dom = await page('drain:example.com/eu-west');
      assert.equal(elementWith(dom, 'id', 'preview')?.['data-ready'], 'true');
      const losing = /data-losing="(\d+)"[^>]*>([^<]*)</.exec(dom);
      assert.ok(losing !== null && Number(losing[1]) > 10, 'clients losing answers are counted');
      assert.match(losing[2]!, /would lose answers for eu-data\.example\.com\./);
      const back = await page('undrain:example.com/eu-central');
      assert.equal(elementWith(back, 'data-key', 'example.com/eu-central')?.['data-action'], 'undrain', 'a drained target offers undrain');
      assert.equal(elementWith(back, 'id', 'preview')?.['data-action'], 'undrain');
      assert.match(back, /data-row="target eu-central" data-before="0\.0000" data-after="0\.\d*[1-9]/);
    } finally {
      assert.equal((await call(m, 'POST', '/v1/targets/example.com%2Feu-central/undrain', {})).status, 200);
    }
  });
});
