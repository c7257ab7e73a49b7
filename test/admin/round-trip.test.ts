/**
 * Issue #5: every kind of change made over HTTP is answered over real UDP right after the
 * 2xx, and again after the process restarts on the same folder. The SOA serial goes up by
 * exactly one per change and the ETag is the quoted serial.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { udp } from '../support/dns-client.js';
import { addresses, call, INITIAL_SERIAL, rcode, RW_TOKEN, runMeridian, soaSerial, startMeridian, txt, workspace, ZONE, type Meridian, type Reply, type Workspace } from './helpers.js';

let ws: Workspace;
let m: Meridian | null = null;
const env = { MERIDIAN_ADMIN_TOKEN: RW_TOKEN };

before(() => {
  // The zones folder is watched here (the default), as users run it: API writes must not
  // be disturbed by the watcher seeing them.
  ws = workspace('health: { stateFile: null }\n');
});
after(async () => {
  await m?.stop();
  ws.remove();
});

/** Asserts a write answered 2xx with the next serial in the body and the ETag. */
function wrote(r: Reply, serial: number, status = 200): void {
  assert.equal(r.status, status, `${r.status} ${r.text}`);
  assert.equal(r.etag, `"${serial}"`, 'the ETag is the quoted new serial');
  assert.equal(r.json.serial, serial);
}

describe('admin API: changes round-trip through DNS and a restart', () => {
  it('applies each kind of change at once, one serial each, and keeps them after a restart', async () => {
    m = await startMeridian(ws, { env });
    let serial = INITIAL_SERIAL;

    const zone = await call(m, 'GET', `/v1/zones/${ZONE}`);
    assert.equal(zone.status, 200);
    assert.equal(zone.etag, `"${serial}"`);
    assert.equal(zone.json.serial, serial);
    assert.equal(await soaSerial(m), serial);

    // PUT a record (replacing an RRset)
    wrote(await call(m, 'PUT', `/v1/zones/${ZONE}/records/www/A`, { ttl: 120, rdata: ['192.0.2.201', '192.0.2.202'] }), ++serial);
    assert.deepEqual(await addresses(m, 'www.adm.test'), ['192.0.2.201', '192.0.2.202']);
    assert.equal(await soaSerial(m), serial);
    // the same RRset read back over HTTP, with the ETag
    const rr = await call(m, 'GET', `/v1/zones/${ZONE}/records/www/A`);
    assert.equal(rr.status, 200);
    assert.equal(rr.etag, `"${serial}"`);
    assert.deepEqual({ ...rr.json, rdata: [...rr.json.rdata].sort() }, { name: 'www.adm.test.', type: 'A', ttl: 120, rdata: ['192.0.2.201', '192.0.2.202'] });

    // a new name, given as a full name without the final dot
    wrote(await call(m, 'PUT', `/v1/zones/${ZONE}/records/new.adm.test/AAAA`, { ttl: 60, rdata: ['2001:db8::1'] }), ++serial);
    assert.deepEqual(await addresses(m, 'new.adm.test', 'AAAA'), ['2001:db8::1']);

    // DELETE an RRset: the name is gone (NXDOMAIN)
    wrote(await call(m, 'DELETE', `/v1/zones/${ZONE}/records/old/A`), ++serial);
    assert.equal(await rcode(m, 'old.adm.test'), 3);

    // a batch: two puts and a delete, one serial
    wrote(
      await call(m, 'POST', `/v1/zones/${ZONE}/records/batch`, {
        operations: [
          { op: 'put', name: 'b1', type: 'A', ttl: 30, rdata: ['192.0.2.91'] },
          { op: 'put', name: 'txt', type: 'TXT', ttl: 30, rdata: ['"from the batch"', '"second string"'] },
          { op: 'delete', name: 'alias', type: 'CNAME' },
        ],
      }),
      ++serial,
    );
    assert.deepEqual(await addresses(m, 'b1.adm.test'), ['192.0.2.91']);
    assert.deepEqual(await txt(m, 'txt.adm.test'), ['from the batch', 'second string']);
    assert.equal(await rcode(m, 'alias.adm.test', 'CNAME'), 3);

    // a target's weight: light (0) is never picked while heavy has weight; two changes flip it
    assert.deepEqual(await addresses(m, 'w.adm.test'), ['198.51.100.11']);
    wrote(await call(m, 'PUT', `/v1/zones/${ZONE}/policy/targets/light`, { region: 'four', ipv4: ['198.51.100.12'], weight: 5 }), ++serial);
    wrote(await call(m, 'PUT', `/v1/zones/${ZONE}/policy/targets/heavy`, { region: 'three', ipv4: ['198.51.100.11'], weight: 0 }), ++serial);
    for (let i = 0; i < 10; i++) assert.deepEqual(await addresses(m, 'w.adm.test'), ['198.51.100.12'], 'heavy now has weight 0');
    const light = await call(m, 'GET', `/v1/zones/${ZONE}/policy/targets/light`);
    assert.equal(light.status, 200);
    assert.equal(light.json.weight, 5);
    assert.equal(light.etag, `"${serial}"`);

    // a steered name
    wrote(await call(m, 'PUT', `/v1/zones/${ZONE}/policy/names/steered`, { ttl: 7, targets: ['secondary'], policy: [{ all: {} }] }), ++serial);
    const steered = (await udp(m.dns, 'steered.adm.test', 'A')).msg.answers;
    assert.deepEqual(
      steered.map((a) => [a.data, a.ttl]),
      [['198.51.100.2', 7]],
    );

    // delete a steered name: no answer any more (NXDOMAIN: nothing else is at that name)
    wrote(await call(m, 'PUT', `/v1/zones/${ZONE}/policy/names/gone`, { targets: ['primary'], policy: [{ all: {} }] }), ++serial);
    assert.deepEqual(await addresses(m, 'gone.adm.test'), ['198.51.100.1']);
    wrote(await call(m, 'DELETE', `/v1/zones/${ZONE}/policy/names/gone`), ++serial);
    assert.equal(await rcode(m, 'gone.adm.test'), 3);

    // create a zone (serial 1), then a whole policy for it (serial 2)
    const created = await call(m, 'POST', '/v1/zones', {
      name: 'made.test',
      soa: { mname: 'ns1.made.test.', rname: 'hostmaster.made.test.' },
      ns: ['ns1.made.test.'],
      records: [
        { name: 'ns1', type: 'A', rdata: ['192.0.2.53'] },
        { name: 'www', type: 'A', ttl: 90, rdata: ['192.0.2.99'] },
      ],
    });
    wrote(created, 1, 201);
    assert.equal(created.json.zone, 'made.test.');
    assert.deepEqual(await addresses(m, 'www.made.test'), ['192.0.2.99']);
    assert.equal(await soaSerial(m, 'made.test'), 1);
    assert.ok(fs.existsSync(path.join(ws.zones, 'made.test.zone')));
    const policy = {
      targets: { a: { region: 'ra', ipv4: ['192.0.2.1'] }, b: { region: 'rb', ipv4: ['192.0.2.2'] } },
      names: { app: { ttl: 10, policy: [{ failover: { groups: [{ targets: ['b'] }, { targets: ['a'] }] } }] } },
    };
    wrote(await call(m, 'PUT', '/v1/zones/made.test/policy', policy), 2);
    assert.deepEqual(await addresses(m, 'app.made.test'), ['192.0.2.2']);
    assert.ok(fs.existsSync(path.join(ws.zones, 'made.test.policy.yaml')));
    const readBack = await call(m, 'GET', '/v1/zones/made.test/policy');
    assert.equal(readBack.status, 200);
    assert.deepEqual(readBack.json.names.app.policy, policy.names.app.policy);
    assert.equal(readBack.etag, '"2"');

    // the zone list agrees
    const list = await call(m, 'GET', '/v1/zones');
    const serials = Object.fromEntries(list.json.zones.map((z: { zone: string; serial: number }) => [z.zone, z.serial]));
    assert.deepEqual(serials, { 'adm.test.': serial, 'made.test.': 2 });

    // --- restart the process on the same folder: everything is still there
    assert.equal(await m.stop(), 0);
    m = await startMeridian(ws, { env });
    assert.equal(await soaSerial(m), serial);
    assert.equal((await call(m, 'GET', `/v1/zones/${ZONE}`)).etag, `"${serial}"`);
    assert.deepEqual(await addresses(m, 'www.adm.test'), ['192.0.2.201', '192.0.2.202']);
    assert.deepEqual(await addresses(m, 'new.adm.test', 'AAAA'), ['2001:db8::1']);
    assert.equal(await rcode(m, 'old.adm.test'), 3);
    assert.deepEqual(await addresses(m, 'b1.adm.test'), ['192.0.2.91']);
    assert.deepEqual(await txt(m, 'txt.adm.test'), ['from the batch', 'second string']);
    assert.equal(await rcode(m, 'alias.adm.test', 'CNAME'), 3);
    for (let i = 0; i < 5; i++) assert.deepEqual(await addresses(m, 'w.adm.test'), ['198.51.100.12']);
    assert.deepEqual(await addresses(m, 'steered.adm.test'), ['198.51.100.2']);
    assert.equal(await rcode(m, 'gone.adm.test'), 3);
    assert.deepEqual(await addresses(m, 'www.made.test'), ['192.0.2.99']);
    assert.deepEqual(await addresses(m, 'app.made.test'), ['192.0.2.2']);
    assert.equal(await soaSerial(m, 'made.test'), 2);

    // the next change after the restart continues from the stored serial
    wrote(await call(m, 'PUT', `/v1/zones/${ZONE}/records/after/A`, { ttl: 60, rdata: ['192.0.2.7'] }), ++serial);
    assert.deepEqual(await addresses(m, 'after.adm.test'), ['192.0.2.7']);

    // delete the created zone: REFUSED (not ours any more), both files gone, and still so after a restart
    const deleted = await call(m, 'DELETE', '/v1/zones/made.test');
    assert.equal(deleted.status, 204, deleted.text);
    assert.equal(await rcode(m, 'www.made.test'), 5);
    assert.equal(fs.existsSync(path.join(ws.zones, 'made.test.zone')), false);
    assert.equal(fs.existsSync(path.join(ws.zones, 'made.test.policy.yaml')), false);
    assert.equal(await m.stop(), 0);

    // the folder still passes `meridian check`; nothing but the zone and policy files is left
    const check = await runMeridian(['check', '--config', ws.config, '--zones', ws.zones]);
    assert.equal(check.code, 0, check.stderr);
    assert.deepEqual(fs.readdirSync(ws.zones).sort(), ['adm.test.policy.yaml', 'adm.test.zone']);

    m = await startMeridian(ws, { env });
    assert.equal(await rcode(m, 'www.made.test'), 5);
    assert.deepEqual(await addresses(m, 'after.adm.test'), ['192.0.2.7']);
    assert.equal(await soaSerial(m), serial);
    assert.equal(serial, INITIAL_SERIAL + 10, 'ten changes to adm.test, one serial each');
  });
});
