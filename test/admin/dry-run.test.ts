/**
 * `?dryRun=true` on a record write: every check the write makes, and nothing written (no
 * journal entry, no new serial in DNS, no audit line). Start-up runs the write path as dry runs
 * (src/admin/warm-up.ts), so the first real write does not compile it while queries wait;
 * those dry runs must leave no trace either.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, INITIAL_SERIAL, rcode, addresses, RW_TOKEN, soaSerial, startMeridian, workspace, ZONE, type Meridian, type Workspace } from './helpers.js';

const NXDOMAIN = 3;
const CONFIG = 'health: { stateFile: var/health.json }\nzones: { watch: false }\n';

/** What the zones folder holds, and the audit file's lines. */
function traces(ws: Workspace): { files: string[]; audit: string } {
  const auditFile = path.join(ws.root, 'var', 'audit.log');
  return { files: fs.readdirSync(ws.zones).sort(), audit: fs.existsSync(auditFile) ? fs.readFileSync(auditFile, 'utf8') : '' };
}

describe('admin API: dry runs', () => {
  let ws: Workspace;
  let m: Meridian;
  before(async () => {
    ws = workspace(CONFIG);
    m = await startMeridian(ws, { logLevel: 'debug' });
  });
  after(async () => {
    await m.stop();
    ws.remove();
  });

  it('start-up warms the write path with dry runs, over HTTP too when there is no token, and they leave nothing behind', async () => {
    assert.match(m.output(), /"dryRuns":9,"msg":"admin: write path warmed up with dry runs"/);
    assert.equal(await soaSerial(m), INITIAL_SERIAL);
    assert.deepEqual(traces(ws), { files: ['adm.test.policy.yaml', 'adm.test.zone'], audit: '' });
    assert.equal(await rcode(m, 'meridian-warm-up.adm.test'), NXDOMAIN);
  });

  it('a PUT dry run answers the serial it would give and changes nothing; the real PUT then gives that serial', async () => {
    const before = await call(m, 'GET', `/v1/zones/${ZONE}/records/www/A`);
    const r = await call(m, 'PUT', `/v1/zones/${ZONE}/records/fresh/A?dryRun=true`, { ttl: 60, rdata: ['192.0.2.7'] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { zone: 'adm.test.', serial: INITIAL_SERIAL + 1, dryRun: true });
    assert.equal(r.etag, before.etag, 'the zone is as it was');
    assert.equal(await rcode(m, 'fresh.adm.test'), NXDOMAIN);
    assert.equal(await soaSerial(m), INITIAL_SERIAL);
    assert.deepEqual(traces(ws), { files: ['adm.test.policy.yaml', 'adm.test.zone'], audit: '' });

    const dryDelete = await call(m, 'DELETE', `/v1/zones/${ZONE}/records/www/A?dryRun=true`);
    assert.equal(dryDelete.status, 200, dryDelete.text);
    assert.equal(dryDelete.json.dryRun, true);
    assert.deepEqual(await addresses(m, 'www.adm.test'), ['192.0.2.80']);

    const batch = await call(m, 'POST', `/v1/zones/${ZONE}/records/batch?dryRun=true`, {
      operations: [
        { op: 'put', name: 'b1', type: 'A', ttl: 60, rdata: ['192.0.2.8'] },
        { op: 'delete', name: 'old', type: 'A' },
      ],
    });
    assert.equal(batch.status, 200, batch.text);
    assert.deepEqual(batch.json, { zone: 'adm.test.', serial: INITIAL_SERIAL + 1, dryRun: true });
    assert.equal(await rcode(m, 'b1.adm.test'), NXDOMAIN);
    assert.deepEqual(await addresses(m, 'old.adm.test'), ['192.0.2.81']);
    assert.equal(await soaSerial(m), INITIAL_SERIAL);

    const real = await call(m, 'PUT', `/v1/zones/${ZONE}/records/fresh/A`, { ttl: 60, rdata: ['192.0.2.7'] });
    assert.equal(real.status, 200, real.text);
    assert.deepEqual(real.json, { zone: 'adm.test.', serial: INITIAL_SERIAL + 1 });
    assert.deepEqual(await addresses(m, 'fresh.adm.test'), ['192.0.2.7']);
    assert.match(traces(ws).audit, /"change":"put fresh A"/);
  });

  it('a dry run is refused for whatever the write would be refused for, with the same answer', async () => {
    const cases: Array<[string, string, unknown?, Record<string, string>?]> = [
      ['PUT', `/v1/zones/${ZONE}/records/bad/A`, { ttl: 60, rdata: ['300.1.2.3'] }],
      ['PUT', `/v1/zones/${ZONE}/records/bad/A`, { ttl: 60, rdata: [] }],
      ['PUT', `/v1/zones/nosuch.test/records/bad/A`, { ttl: 60, rdata: ['192.0.2.1'] }],
      ['PUT', `/v1/zones/${ZONE}/records/www/A`, { ttl: 60, rdata: ['192.0.2.1'] }, { 'if-match': '"1"' }],
      ['DELETE', `/v1/zones/${ZONE}/records/absent/A`],
      ['DELETE', `/v1/zones/${ZONE}/records/@/SOA`],
      [
        'POST',
        `/v1/zones/${ZONE}/records/batch`,
        {
          operations: [
            { op: 'put', name: 'ok', type: 'A', ttl: 60, rdata: ['192.0.2.1'] },
            { op: 'put', name: 'x', type: 'A', ttl: 60, rdata: ['no'] },
          ],
        },
      ],
    ];
    const serial = await soaSerial(m);
    for (const [method, url, body, headers] of cases) {
      const dry = await call(m, method, `${url}?dryRun=true`, body, RW_TOKEN, headers);
      const wet = await call(m, method, url, body, RW_TOKEN, headers);
      assert.ok(dry.status >= 400, `${method} ${url}: ${dry.status}`);
      assert.equal(dry.status, wet.status, `${method} ${url}`);
      assert.deepEqual({ ...dry.json, instance: null }, { ...wet.json, instance: null }, `${method} ${url}`);
    }
    assert.equal(await soaSerial(m), serial);
  });

  it('a write that has no dry run refuses ?dryRun and changes nothing', async () => {
    const serial = await soaSerial(m);
    const target = await call(m, 'PUT', `/v1/zones/${ZONE}/policy/targets/dry?dryRun=true`, { region: 'x', ipv4: ['192.0.2.9'] });
    assert.equal(target.status, 400, target.text);
    assert.equal(target.json.field, 'dryRun');
    const zone = await call(m, 'DELETE', `/v1/zones/${ZONE}?dryRun=true`);
    assert.equal(zone.status, 400, zone.text);
    const drain = await call(m, 'POST', '/v1/targets/primary/drain?dryRun=true');
    assert.equal(drain.status, 400, drain.text);
    assert.equal(drain.json.field, 'dryRun');
    // A careless spelling is refused too, rather than ignored and the drain made.
    for (const query of ['dryrun=true', 'dry_run=1', 'DRY-RUN=yes', 'dryRun=', 'dryRun=false']) {
      const spelt = await call(m, 'POST', `/v1/targets/primary/drain?${query}`);
      assert.equal(spelt.status, 400, `${query}: ${spelt.text}`);
    }
    assert.doesNotMatch(m.output(), /drain target/, 'no drain was made');
    assert.equal(await soaSerial(m), serial);
    assert.equal((await call(m, 'GET', `/v1/zones/${ZONE}/policy/targets/dry`)).status, 404);
  });

  it('dryRun takes true or false only, and the query takes nothing else', async () => {
    const yes = await call(m, 'PUT', `/v1/zones/${ZONE}/records/q/A?dryRun=yes`, { ttl: 60, rdata: ['192.0.2.1'] });
    assert.equal(yes.status, 400, yes.text);
    assert.match(yes.text, /dryRun/);
    // another name, the flag twice, a reserved name: each refused, none taken for a write
    for (const query of ['dryrun=true', 'dryRun=true&dryRun=true', 'dryRun=true&dryRun=false', '__proto__=1', 'dryRun[]=true', `dryRun=${'t'.repeat(5000)}`]) {
      const other = await call(m, 'PUT', `/v1/zones/${ZONE}/records/q/A?${query}`, { ttl: 60, rdata: ['192.0.2.1'] });
      assert.equal(other.status, 400, `${query}: ${other.text}`);
    }
    assert.equal(await rcode(m, 'q.adm.test'), NXDOMAIN, 'neither was written');
    const no = await call(m, 'PUT', `/v1/zones/${ZONE}/records/q/A?dryRun=false`, { ttl: 60, rdata: ['192.0.2.1'] });
    assert.equal(no.status, 200, no.text);
    assert.deepEqual(await addresses(m, 'q.adm.test'), ['192.0.2.1']);
  });
});

describe('admin API: dry runs at start-up with a token', () => {
  it('warm the editor without a request of their own (one would need the token)', async () => {
    const ws = workspace(CONFIG);
    const m = await startMeridian(ws, { logLevel: 'debug', env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
    try {
      assert.match(m.output(), /"dryRuns":6,"msg":"admin: write path warmed up with dry runs"/);
      assert.deepEqual(traces(ws), { files: ['adm.test.policy.yaml', 'adm.test.zone'], audit: '' });
    } finally {
      await m.stop();
      ws.remove();
    }
  });
});
