/**
 * Issue #20 over real sockets, with the shipped example zones (zones/) served by the real CLI:
 * drain is never answered (items 1 and 2), ECS queries from a GB and a German network, the
 * admin API's drain and explain.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { udp } from '../helpers/dns-client.js';
import { ecsOf, ecsOption } from '../helpers/ecs.js';
import { tempCopy } from '../helpers/process.js';
import { projectRoot } from '../helpers/test-server.js';
import { call, RW_TOKEN, startMeridian, type Meridian, type Workspace } from '../admin/helpers.js';

let m: Meridian;
let ws: Workspace;

/** A GB network (81.2.64.0/18 in the shipped database) and a German one. */
const GB = '81.2.69.0/24';

async function ask(name: string, ecs: string, type = 'A'): Promise<{ addresses: string[]; scope: number | null; rcode: number }> {
  const { raw, msg } = await udp(m.dns, name, type, { edns: true, options: [ecsOption(ecs)] });
  return {
    addresses: msg.answers.filter((a) => a.type === type).map((a) => String(a.data)).sort(),
    scope: ecsOf(raw)?.scope ?? null,
    rcode: raw[3]! & 0x0f,
  };
}

before(async () => {
  const copy = tempCopy(path.join(projectRoot, 'zones'));
  const config = path.join(copy.dir, 'meridian.yaml');
  fs.writeFileSync(config, 'health: { stateFile: null }\nzones: { watch: false }\n');
  ws = { root: copy.dir, zones: copy.dir, zoneFile: '', policyFile: '', config, remove: copy.remove };
  m = await startMeridian(ws, { env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
});
after(async () => {
  await m.stop();
  ws.remove();
});

describe('issue 20 over real sockets, example policy', () => {
  it('a drained target is never answered, not even by fail-open', async () => {
    assert.deepEqual((await ask('www.example.com', GB)).addresses, ['192.0.2.10'], 'before the drain: eu-west');
    const r = await call(m, 'POST', '/v1/targets/eu-west/drain');
    assert.equal(r.status, 200, r.text);
    try {
      const after = await ask('www.example.com', GB);
      assert.ok(after.addresses.length > 0, 'still answered');
      assert.ok(!after.addresses.includes('192.0.2.10'), `drained eu-west answered: ${after.addresses.join(', ')}`);
      // pool: fail-open multi-answer, servfail when all down; the drained one is out of it too.
      const pool = await ask('pool.example.com', GB);
      assert.ok(!pool.addresses.includes('192.0.2.10'), pool.addresses.join(', '));
    } finally {
      assert.equal((await call(m, 'POST', '/v1/targets/eu-west/undrain')).status, 200);
    }
    assert.deepEqual((await ask('www.example.com', GB)).addresses, ['192.0.2.10'], 'undrained: back');
  });
});
