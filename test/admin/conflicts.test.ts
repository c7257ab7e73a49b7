/**
 * Issue #5, concurrent edits: writes carrying the same If-Match serial race and exactly one
 * wins (the others get 412); a stale If-Match on any write route gets 412 and changes
 * nothing (file bytes, serial, DNS); writes without If-Match never lose each other.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { addresses, call, INITIAL_SERIAL, RW_TOKEN, soaSerial, startMeridian, workspace, ZONE, type Meridian, type Workspace } from './helpers.js';

let ws: Workspace;
let m: Meridian;

before(async () => {
  ws = workspace();
  m = await startMeridian(ws, { env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
});
after(async () => {
  await m.stop();
  ws.remove();
});

const etagNow = async (): Promise<string> => (await call(m, 'GET', `/v1/zones/${ZONE}`)).etag!;
const snapshot = (): { zone: Buffer; policy: Buffer } => ({ zone: fs.readFileSync(ws.zoneFile), policy: fs.readFileSync(ws.policyFile) });

describe('admin API: If-Match and concurrent writes', () => {
  it('lets exactly one of two PUTs with the same If-Match through; the other gets 412', async () => {
    const etag = await etagNow();
    assert.equal(etag, `"${INITIAL_SERIAL}"`);
    const [x, y] = await Promise.all([
      call(m, 'PUT', `/v1/zones/${ZONE}/records/race/A`, { ttl: 60, rdata: ['192.0.2.1'] }, RW_TOKEN, { 'if-match': etag }),
      call(m, 'PUT', `/v1/zones/${ZONE}/records/race/A`, { ttl: 60, rdata: ['192.0.2.2'] }, RW_TOKEN, { 'if-match': etag }),
    ]);
    assert.deepEqual([x.status, y.status].sort(), [200, 412], `${x.text} / ${y.text}`);
    const [win, lose] = x.status === 200 ? [x, y] : [y, x];
    assert.equal(win.etag, `"${INITIAL_SERIAL + 1}"`);
    assert.equal(lose.json.error, 'GSLB_ERR_API_STALE');
    assert.match(lose.json.message, new RegExp(`If-Match "${INITIAL_SERIAL}" does not match the current version "${INITIAL_SERIAL + 1}"`));
    assert.deepEqual(await addresses(m, 'race.adm.test'), [x.status === 200 ? '192.0.2.1' : '192.0.2.2']);
    assert.equal(await soaSerial(m), INITIAL_SERIAL + 1, 'one change, one serial');
  });

  it('lets exactly one of ten racing writes with the same If-Match through', async () => {
    const etag = await etagNow();
    const serial = Number(JSON.parse(etag));
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(m, 'PUT', `/v1/zones/${ZONE}/records/race10/A`, { ttl: 60, rdata: [`192.0.2.${i + 1}`] }, RW_TOKEN, { 'if-match': etag })),
    );
    const ok = replies.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, replies.map((r) => r.status).join(' '));
    assert.equal(replies.filter((r) => r.status === 412).length, 9);
    const winner = replies.indexOf(ok[0]!);
    assert.deepEqual(await addresses(m, 'race10.adm.test'), [`192.0.2.${winner + 1}`]);
    assert.equal(await soaSerial(m), serial + 1);
  });

  it('gives 412 to a stale If-Match on every write route and changes nothing', async () => {
    const current = await etagNow();
    const stale = `"${Number(JSON.parse(current)) - 1}"`;
    const before = snapshot();
    const cases: Array<[string, string, unknown]> = [
      ['PUT', `/v1/zones/${ZONE}/records/www/A`, { ttl: 60, rdata: ['192.0.2.250'] }],
      ['DELETE', `/v1/zones/${ZONE}/records/www/A`, undefined],
      ['POST', `/v1/zones/${ZONE}/records/batch`, { operations: [{ op: 'put', name: 'zz', type: 'A', ttl: 60, rdata: ['192.0.2.9'] }] }],
      ['PUT', `/v1/zones/${ZONE}/policy`, { targets: { a: { region: 'r', ipv4: ['192.0.2.1'] } }, names: { fo: { policy: [{ all: {} }], targets: ['a'] } } }],
      ['DELETE', `/v1/zones/${ZONE}/policy`, undefined],
      ['PUT', `/v1/zones/${ZONE}/policy/targets/primary`, { region: 'one', ipv4: ['192.0.2.251'] }],
      ['DELETE', `/v1/zones/${ZONE}/policy/names/lat`, undefined],
      ['DELETE', `/v1/zones/${ZONE}`, undefined],
    ];
    for (const [method, url, body] of cases) {
      for (const ifMatch of [stale, `W/${stale}`, '"0"', `"${stale}-x"`]) {
        const r = await call(m, method, url, body, RW_TOKEN, { 'if-match': ifMatch });
        assert.equal(r.status, 412, `${method} ${url} If-Match ${ifMatch}: ${r.text}`);
        assert.equal(r.json.error, 'GSLB_ERR_API_STALE');
      }
    }
    const afterwards = snapshot();
    assert.ok(afterwards.zone.equals(before.zone), 'zone file unchanged byte for byte');
    assert.ok(afterwards.policy.equals(before.policy), 'policy file unchanged byte for byte');
    assert.equal(await etagNow(), current);
    assert.deepEqual(await addresses(m, 'www.adm.test'), ['192.0.2.80']);
    assert.deepEqual(await addresses(m, 'fo.adm.test'), ['198.51.100.1']);
    assert.deepEqual(await addresses(m, 'zz.adm.test'), []);
  });

  it('accepts the current serial as "n", W/"n", in a list, or "*"', async () => {
    let serial = Number(JSON.parse(await etagNow()));
    for (const ifMatch of [`"${serial}"`, `W/"${serial + 1}"`, `"1", "${serial + 2}"`, '*']) {
      const r = await call(m, 'PUT', `/v1/zones/${ZONE}/records/im/A`, { ttl: 60, rdata: [`192.0.2.${serial % 200}`] }, RW_TOKEN, { 'if-match': ifMatch });
      assert.equal(r.status, 200, `If-Match ${ifMatch}: ${r.text}`);
      assert.equal(r.etag, `"${++serial}"`);
    }
  });

  it('loses no record write among concurrent writes without If-Match', async () => {
    const serial = Number(JSON.parse(await etagNow()));
    const n = 12;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => call(m, 'PUT', `/v1/zones/${ZONE}/records/c${i}/A`, { ttl: 60, rdata: [`192.0.2.${i + 1}`] })));
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(n).fill(200),
    );
    assert.deepEqual(
      replies.map((r) => r.json.serial).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => serial + i + 1),
      'one serial each, none shared',
    );
    for (let i = 0; i < n; i++) assert.deepEqual(await addresses(m, `c${i}.adm.test`), [`192.0.2.${i + 1}`]);
    assert.equal(await soaSerial(m), serial + n);
  });

  it('loses no policy write among concurrent writes to different targets without If-Match', async () => {
    const n = 8;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => call(m, 'PUT', `/v1/zones/${ZONE}/policy/targets/extra${i}`, { region: `x${i}`, ipv4: [`203.0.113.${i + 1}`] })));
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(n).fill(200),
      replies.map((r) => r.text).join('\n'),
    );
    const policy = (await call(m, 'GET', `/v1/zones/${ZONE}/policy`)).json;
    const missing = Array.from({ length: n }, (_, i) => `extra${i}`).filter((id) => policy.targets[id] === undefined);
    assert.deepEqual(missing, [], 'every acknowledged target write is in the policy');
  });

  it('does not silently discard a hand edit of the zone file that is not loaded yet', async () => {
    fs.appendFileSync(ws.zoneFile, 'hand.adm.test. 60 IN A 192.0.2.44\n');
    const r = await call(m, 'PUT', `/v1/zones/${ZONE}/records/api/A`, { ttl: 60, rdata: ['192.0.2.45'] });
    const onDisk = fs.readFileSync(ws.zoneFile, 'utf8');
    if (r.status === 409) {
      assert.ok(onDisk.includes('192.0.2.44'), 'refused, and the hand edit is still in the file');
    } else {
      assert.equal(r.status, 200, r.text);
      assert.ok(onDisk.includes('192.0.2.44'), `the hand edit is gone from the file:\n${onDisk}`);
      assert.deepEqual(await addresses(m, 'hand.adm.test'), ['192.0.2.44']);
    }
  });
});
