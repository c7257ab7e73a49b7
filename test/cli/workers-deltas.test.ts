/**
 * `serve --workers 2` after an admin write (issue 14 item 3): the workers receive the nodes
 * the write changed and apply them to the zone they serve, rather than re-reading every zone
 * file (which, for a large zone, held each worker as long as a full load).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rcodeOf, udp } from '../helpers/dns-client.js';
import { call, RW_TOKEN, startMeridian, workspace, ZONE, type Meridian, type Workspace } from '../admin/helpers.js';

describe('serve --workers 2: admin writes reach the workers as changes', () => {
  let ws: Workspace;
  let m: Meridian;
  before(async () => {
    ws = workspace();
    m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2', MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
  });
  after(async () => {
    await m?.kill();
    ws?.remove();
  });

  it('applies a PUT and a DELETE as deltas in both workers, and answers them', async () => {
    const put = await call(m, 'PUT', `/v1/zones/${ZONE}/records/delta/A`, { ttl: 60, rdata: ['192.0.2.77'] });
    assert.equal(put.status, 200, put.text);
    const del = await call(m, 'DELETE', `/v1/zones/${ZONE}/records/old/A`);
    assert.equal(del.status, 200, del.text);
    const deadline = Date.now() + 20_000; // generous: a loaded machine delays the workers, not the outcome
    const applied = (): number => m.output().split('applied the zone changes of an admin write').length - 1;
    while (applied() < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    assert.equal(applied(), 4, `each worker applies both writes as changes:\n${m.output()}`);
    // UDP goes to whichever worker reads first: ask enough times to reach both.
    for (let i = 0; i < 20; i++) {
      const a = await udp(m.dns, `delta.${ZONE}`, 'A');
      assert.deepEqual(a.msg.answers.map((r) => String(r.data)), ['192.0.2.77']);
      const gone = await udp(m.dns, `old.${ZONE}`, 'A');
      assert.equal(rcodeOf(gone.raw), 3, 'NXDOMAIN');
    }
  });
});
