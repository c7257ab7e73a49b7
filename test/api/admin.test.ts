/**
 * The admin API over real HTTP, checked with real DNS queries (issue #5): round trips that
 * survive a restart, SIGKILL in a stream of writes, 412 on conflicting edits, auth on every
 * route, 400s that name the field and change nothing, drain moving answers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rcodeOf, udp } from '../support/dns-client.js';
import { servingPortsWithApi, runCli, startCliServer, tempCopy } from '../support/process.js';
import { projectRoot } from '../support/test-server.js';

const RW = 'rw-token-0123456789abcdef';
const RO = 'ro-token-0123456789abcdef';

interface Running {
  dns: number;
  api: number;
  stop: () => Promise<number | null>;
  kill: () => void;
}

let dir: { dir: string; remove: () => void };
let configFile: string;

async function start(): Promise<Running> {
  const s = await startCliServer(['--config', configFile, '--zones', dir.dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  const { dns, api } = servingPortsWithApi(s.output());
  return { dns, api, stop: () => s.stop(), kill: () => s.child.kill('SIGKILL') };
}

async function call(r: Running, method: string, url: string, body?: unknown, token: string | null = RW, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${r.api}${url}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const isJson = res.headers.get('content-type')?.includes('json') ?? false;
  return { status: res.status, etag: res.headers.get('etag'), json: text && isJson ? JSON.parse(text) : null, headers: res.headers };
}

const a = async (r: Running, name: string): Promise<string[]> => (await udp(r.dns, name, 'A')).msg.answers.map((x) => String(x.data)).sort();

before(() => {
  dir = tempCopy(path.join(projectRoot, 'zones'));
  configFile = path.join(dir.dir, 'meridian.yaml');
  fs.writeFileSync(
    configFile,
    `admin:\n  audit: { file: null }\n  tokens:\n    - { name: ops, token: ${RW}, access: write }\n    - { name: viewer, token: ${RO}, access: read }\nhealth:\n  stateFile: null\nzones:\n  watch: false\n`,
  );
});
after(() => dir.remove());

describe('admin API', () => {
  it('round-trips changes: HTTP, then DNS at once, then DNS after a restart', async () => {
    let r = await start();
    try {
      const before = await call(r, 'GET', '/v1/zones/example.com');
      const serial = Number(JSON.parse(before.etag!));
      const put = await call(r, 'PUT', '/v1/zones/example.com/records/api-test/A', { ttl: 120, rdata: ['192.0.2.201', '192.0.2.202'] });
      assert.equal(put.status, 200);
      assert.equal(put.etag, `"${serial + 1}"`);
      assert.deepEqual(await a(r, 'api-test.example.com'), ['192.0.2.201', '192.0.2.202']);
      const batch = await call(r, 'POST', '/v1/zones/example.com/records/batch', {
        operations: [
          { op: 'put', name: 'api-txt', type: 'TXT', ttl: 60, rdata: ['"hello from the API"'] },
          { op: 'delete', name: 'server1', type: 'SSHFP' },
        ],
      });
      assert.equal(batch.status, 200);
      const weight = await call(r, 'PUT', '/v1/zones/example.com/policy/targets/legacy-only', { region: 'sa-east', ipv4: ['198.51.100.99'] });
      assert.equal(weight.status, 200, JSON.stringify(weight.json));
      const name = await call(r, 'PUT', '/v1/zones/example.com/policy/names/extra', { ttl: 15, targets: ['legacy-only'], policy: [{ health: {} }] });
      assert.equal(name.status, 200, JSON.stringify(name.json));
      assert.deepEqual(await a(r, 'extra.example.com'), ['198.51.100.99']);
      assert.equal(name.etag, `"${serial + 4}"`);
      await r.stop();
      r = await start();
      assert.deepEqual(await a(r, 'api-test.example.com'), ['192.0.2.201', '192.0.2.202']);
      assert.deepEqual(await a(r, 'extra.example.com'), ['198.51.100.99']);
      const txt = (await udp(r.dns, 'api-txt.example.com', 'TXT')).msg.answers[0]!.data;
      assert.equal(Buffer.concat(txt as Buffer[]).toString(), 'hello from the API');
      assert.equal((await udp(r.dns, 'server1.example.com', 'SSHFP')).msg.answers.length, 0);
      assert.equal((await call(r, 'GET', '/v1/zones/example.com')).etag, `"${serial + 4}"`);
      const check = await runCli(['check', '--zones', dir.dir]);
      assert.equal(check.code, 0, check.stderr);
    } finally {
      await r.stop();
    }
  });

  it('gives 412 to the loser of two conflicting edits and to a stale If-Match', async () => {
    const r = await start();
    try {
      const etag = (await call(r, 'GET', '/v1/zones/example.com')).etag!;
      const [x, y] = await Promise.all([
        call(r, 'PUT', '/v1/zones/example.com/records/race/A', { ttl: 60, rdata: ['192.0.2.1'] }, RW, { 'if-match': etag }),
        call(r, 'PUT', '/v1/zones/example.com/records/race/A', { ttl: 60, rdata: ['192.0.2.2'] }, RW, { 'if-match': etag }),
      ]);
      assert.deepEqual([x.status, y.status].sort(), [200, 412]);
      const winner = x.status === 200 ? '192.0.2.1' : '192.0.2.2';
      assert.deepEqual(await a(r, 'race.example.com'), [winner]);
      const stale = await call(r, 'DELETE', '/v1/zones/example.com/records/race/A', undefined, RW, { 'if-match': etag });
      assert.equal(stale.status, 412);
      assert.deepEqual(await a(r, 'race.example.com'), [winner]);
    } finally {
      await r.stop();
    }
  });

  it('enforces auth on every route, and read-only tokens cannot write', async () => {
    const r = await start();
    try {
      const spec = await call(r, 'GET', '/openapi.json', undefined, null);
      assert.equal(spec.status, 200);
      const routes = Object.entries(spec.json.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => [m.toUpperCase(), p] as const));
      assert.ok(routes.length >= 20, `${routes.length} routes`);
      const fill = (p: string) => p.replace('{zone}', 'example.com').replace('{name}', 'www').replace('{type}', 'TXT').replace('{id}', 'eu-west').replace('{section}', 'targets');
      for (const [method, p] of [...routes, ['GET', '/metrics'] as const]) {
        const url = fill(p);
        const none = await call(r, method, url, method === 'GET' || method === 'DELETE' ? undefined : {}, null);
        assert.equal(none.status, 401, `${method} ${url} without a token`);
        assert.match(none.json.message, /bearer token/);
        assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="meridian"');
        const wrong = await call(r, method, url, method === 'GET' || method === 'DELETE' ? undefined : {}, 'not-the-right-token-at-all');
        assert.equal(wrong.status, 401, `${method} ${url} with a wrong token`);
        const ro = await call(r, method, url, method === 'GET' || method === 'DELETE' ? undefined : {}, RO);
        if (method === 'GET') assert.notEqual(ro.status, 403, `${method} ${url} read-only`);
        else assert.equal(ro.status, 403, `${method} ${url} read-only must be refused`);
      }
    } finally {
      await r.stop();
    }
  });

  it('answers 400 naming the field and writes nothing; 404 for unknown zones', async () => {
    const r = await start();
    try {
      const file = path.join(dir.dir, 'example.com.zone');
      const bytes = fs.readFileSync(file);
      const cases: Array<[string, string, unknown, RegExp]> = [
        ['PUT', '/v1/zones/example.com/records/x/A', { ttl: -1, rdata: ['192.0.2.1'] }, /ttl/],
        ['PUT', '/v1/zones/example.com/records/x/A', { ttl: 60, rdata: ['300.1.1.1'] }, /rdata\[0\]/],
        ['PUT', '/v1/zones/example.com/records/app/A', { ttl: 60, rdata: ['192.0.2.1'] }, /CNAME/],
        ['PUT', '/v1/zones/example.com/records/x/FOO', { ttl: 60, rdata: ['1'] }, /type/],
        [
          'POST',
          '/v1/zones/example.com/records/batch',
          {
            operations: [
              { op: 'put', name: 'ok1', type: 'A', ttl: 1, rdata: ['192.0.2.1'] },
              { op: 'put', name: 'ok2', type: 'A', ttl: 1, rdata: ['192.0.2.2'] },
              { op: 'put', name: 'bad', type: 'MX', ttl: 1, rdata: ['x y'] },
            ],
          },
          /operations\[2\]\.rdata\[0\]/,
        ],
        ['PUT', '/v1/zones/example.com/policy/targets/t', { region: 'r', ipv4: ['nope'] }, /ipv4/],
      ];
      for (const [method, url, body, field] of cases) {
        const res = await call(r, method, url, body);
        assert.equal(res.status, 400, `${method} ${url}: ${JSON.stringify(res.json)}`);
        assert.match(`${res.json.field} ${res.json.message}`, field);
      }
      assert.deepEqual(fs.readFileSync(file), bytes, 'nothing half-written');
      assert.deepEqual(await a(r, 'ok1.example.com'), []);
      assert.equal((await call(r, 'GET', '/v1/zones/nope.example')).status, 404);
      assert.equal((await call(r, 'DELETE', '/v1/zones/example.com/records/missing/A')).status, 404);
    } finally {
      await r.stop();
    }
  });

  it('drains a target and a region: answers move at once and come back', async () => {
    const r = await start();
    try {
      const before = await a(r, 'api.example.com');
      assert.deepEqual(before, ['192.0.2.10'], "eu-west is api's primary");
      assert.equal((await call(r, 'POST', '/v1/targets/eu-west/drain')).status, 200);
      assert.deepEqual(await a(r, 'api.example.com'), ['198.51.100.10']);
      const health = await call(r, 'GET', '/v1/health', undefined, RO);
      const eu = health.json.targets.find((t: { id: string }) => t.id === 'example.com/eu-west');
      assert.deepEqual([eu.forced, eu.healthy], ['down', false]);
      assert.equal((await call(r, 'POST', '/v1/regions/us-east/drain')).status, 200);
      assert.deepEqual(await a(r, 'api.example.com'), ['203.0.113.10'], 'both groups down: the fallback pool');
      await call(r, 'POST', '/v1/targets/eu-west/undrain');
      await call(r, 'POST', '/v1/regions/us-east/undrain');
      assert.deepEqual(await a(r, 'api.example.com'), ['192.0.2.10']);
      const explain = await call(r, 'GET', '/v1/explain?name=www.example.com&type=A&client=81.2.69.0/24', undefined, RO);
      assert.equal(explain.status, 200);
      assert.deepEqual(explain.json.addresses, ['192.0.2.10']);
      const status = await call(r, 'GET', '/v1/status', undefined, RO);
      assert.ok(status.json.geoip.length === 1 && status.json.zones.length === 3);
      const metrics = await fetch(`http://127.0.0.1:${r.api}/metrics`, { headers: { authorization: `Bearer ${RO}` } }).then((x) => x.text());
      assert.match(metrics, /meridian_dns_queries_total\{zone="example.com.",type="A",rcode="NOERROR"\} \d+/);
      assert.match(metrics, /meridian_health_target_up\{target="example.com\/eu-west",region="eu-west",forced=""\} 1/);
    } finally {
      await r.stop();
    }
  });

  it('keeps every acknowledged write through a SIGKILL in a stream of writes', async () => {
    const r = await start();
    const acked: number[] = [];
    let killed = false;
    const writer = (async () => {
      for (let i = 1; i < 500 && !killed; i++) {
        try {
          const res = await call(r, 'PUT', `/v1/zones/example.com/records/stream/TXT`, { ttl: 60, rdata: [`"${i}"`] });
          if (res.status === 200) acked.push(i);
        } catch {
          return; // the process died mid-request
        }
      }
    })();
    while (acked.length < 15) await new Promise((res) => setTimeout(res, 10));
    killed = true;
    r.kill();
    await writer;
    const last = acked.at(-1)!;
    const check = await runCli(['check', '--zones', dir.dir]);
    assert.equal(check.code, 0, check.stderr);
    const again = await start();
    try {
      const txt = (await udp(again.dns, 'stream.example.com', 'TXT')).msg.answers[0]!.data as Buffer[];
      const value = Number(Buffer.concat(txt).toString());
      assert.ok(value >= last, `acknowledged ${last}, found ${value} after the restart`);
    } finally {
      await again.stop();
    }
  });

  it('creates and deletes zones, and takes latency samples that steer answers', async () => {
    const r = await start();
    try {
      const created = await call(r, 'POST', '/v1/zones', {
        name: 'new.test',
        soa: { mname: 'ns1.new.test.', rname: 'hostmaster.new.test.' },
        ns: ['ns1.new.test.'],
        records: [
          { name: 'ns1', type: 'A', rdata: ['192.0.2.53'] },
          { name: 'www', type: 'A', rdata: ['192.0.2.80'] },
        ],
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      assert.deepEqual(await a(r, 'www.new.test'), ['192.0.2.80']);
      assert.equal((await call(r, 'POST', '/v1/zones', { name: 'new.test', soa: { mname: 'a.', rname: 'b.' }, ns: ['a.'] })).status, 409);
      const policy = {
        targets: { one: { region: 'one', ipv4: ['192.0.2.1'] }, two: { region: 'two', ipv4: ['192.0.2.2'] } },
        names: { fast: { policy: [{ latency: {} }, { first: 1 }] } },
      };
      assert.equal((await call(r, 'PUT', '/v1/zones/new.test/policy', policy)).status, 200);
      const ask = async () => (await udp(r.dns, 'fast.new.test', 'A')).msg.answers.map((x) => String(x.data));
      assert.deepEqual(await ask(), ['192.0.2.1'], 'no estimate: all kept, the first wins');
      const sample = await call(r, 'POST', '/v1/latency', {
        samples: [
          { network: '127.0.0.0/8', region: 'two', ms: 5 },
          { network: '127.0.0.0/8', region: 'one', ms: 50 },
        ],
        ttlSec: 60,
      });
      assert.equal(sample.status, 200);
      assert.deepEqual(await ask(), ['192.0.2.2'], 'the sample makes region two faster');
      assert.equal((await call(r, 'POST', '/v1/latency', { samples: [{ network: '10.0.0.1/8', region: 'x', ms: 1 }] })).status, 400);
      assert.equal((await call(r, 'DELETE', '/v1/zones/new.test')).status, 204);
      assert.equal(rcodeOf((await udp(r.dns, 'www.new.test', 'A')).raw), 5, 'REFUSED once the zone is gone');
      assert.equal(fs.existsSync(path.join(dir.dir, 'new.test.zone')), false);
    } finally {
      await r.stop();
    }
  });

  it('refuses a non-loopback admin address without a token', async () => {
    const r = await runCli(['serve', '--zones', dir.dir, '--listen', '127.0.0.1:0', '--admin', '0.0.0.0:0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refusing to serve the admin API on 0\.0\.0\.0:0 without a token/);
  });
});
