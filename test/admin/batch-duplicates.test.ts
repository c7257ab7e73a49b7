/**
 * A batch that names one RRset several times applies its operations in order (the last one
 * wins), a duplicated record in one rdata list is stored once, and a second delete of an
 * RRset the batch already deleted is a 404 that changes nothing. Checked over UDP, through
 * the API, and after a restart from the file the API wrote.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addresses, call, RW_TOKEN, soaSerial, startMeridian, workspace, ZONE, type Meridian, type Workspace } from './helpers.js';

const env = { MERIDIAN_ADMIN_TOKEN: RW_TOKEN };
const B = `/v1/zones/${ZONE}/records/batch`;

describe('admin batch: duplicated operations on one RRset', () => {
  let ws: Workspace;
  let m: Meridian;
  before(async () => {
    ws = workspace();
    m = await startMeridian(ws, { env });
  });
  after(async () => {
    await m.stop();
    ws.remove();
  });

  it('applies them in order, the last wins, duplicate records are stored once', async () => {
    const operations = [
      { op: 'put', name: 'dup', type: 'A', ttl: 60, rdata: ['192.0.2.1'] },
      { op: 'put', name: 'dup', type: 'A', ttl: 60, rdata: ['192.0.2.2', '192.0.2.3'] },
      { op: 'delete', name: 'dup', type: 'A' },
      { op: 'put', name: 'dup', type: 'A', ttl: 60, rdata: ['192.0.2.4', '192.0.2.4', '192.0.2.5'] },
      { op: 'delete', name: 'www', type: 'A' },
      { op: 'put', name: 'www', type: 'A', ttl: 60, rdata: ['192.0.2.90'] },
      { op: 'put', name: 'gone', type: 'A', ttl: 60, rdata: ['192.0.2.6'] },
      { op: 'delete', name: 'gone', type: 'A' },
    ];
    const r = await call(m, 'POST', B, { operations });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await addresses(m, `dup.${ZONE}`), ['192.0.2.4', '192.0.2.5']);
    assert.deepEqual(await addresses(m, `www.${ZONE}`), ['192.0.2.90']);
    assert.deepEqual(await addresses(m, `gone.${ZONE}`), []);
  });

  it('refuses a second delete of the same RRset in one batch with 404, and nothing changes', async () => {
    const serial = await soaSerial(m);
    const r = await call(m, 'POST', B, {
      operations: [
        { op: 'put', name: 'dup', type: 'A', ttl: 60, rdata: ['192.0.2.7'] },
        { op: 'delete', name: 'old', type: 'A' },
        { op: 'delete', name: 'old', type: 'A' },
      ],
    });
    assert.equal(r.status, 404, r.text);
    assert.equal(await soaSerial(m), serial);
    assert.deepEqual(await addresses(m, `dup.${ZONE}`), ['192.0.2.4', '192.0.2.5']);
    assert.deepEqual(await addresses(m, `old.${ZONE}`), ['192.0.2.81']);
  });

  it('serves the same after a restart from the file it wrote', async () => {
    await m.stop();
    m = await startMeridian(ws, { env });
    assert.deepEqual(await addresses(m, `dup.${ZONE}`), ['192.0.2.4', '192.0.2.5']);
    assert.deepEqual(await addresses(m, `www.${ZONE}`), ['192.0.2.90']);
    assert.deepEqual(await addresses(m, `gone.${ZONE}`), []);
  });
});
