/**
 * Issue 14 item 5: policy ids that JavaScript objects treat specially, ids with "/", and
 * absurdly nested JSON. Before the fix `__proto__` answered 200 and bumped the serial while
 * storing nothing, GET of an absent `toString` found Object.prototype's, DELETE of an absent
 * `constructor` answered 200, and "a/b" or 3,000 levels of nesting answered 500. Latency
 * samples were keyed "network|region", so a region "a|b" was listed (and looked up) as "b".
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { addresses, call, RW_TOKEN, soaSerial, startMeridian, workspace, ZONE, type Meridian, type Workspace } from './helpers.js';

let ws: Workspace;
let m: Meridian;
const P = `/v1/zones/${ZONE}/policy`;

before(async () => {
  ws = workspace('health: { stateFile: null }\nzones: { watch: false }\n');
  m = await startMeridian(ws, { env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
});
after(async () => {
  await m.stop();
  ws.remove();
});

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth);
}

describe('admin API: policy ids and shapes', () => {
  it('refuses reserved and malformed ids and deep nesting with 400, changing nothing', async () => {
    const serial = await soaSerial(m);
    const file = fs.readFileSync(ws.policyFile, 'utf8');
    const target = { region: 'x', ipv4: ['192.0.2.9'] };
    const cases: Array<[string, string, unknown, string]> = [
      ['PUT', `${P}/targets/__proto__`, target, 'id'],
      ['PUT', `${P}/names/__proto__`, { targets: ['primary'], policy: [{ first: 1 }] }, 'id'],
      ['PUT', `${P}/probes/__proto__`, { type: 'tcp', port: 80 }, 'id'],
      ['PUT', `${P}/targets/a%2Fb`, target, 'id'],
      ['PUT', `${P}/probes/a%2Fb`, { type: 'tcp', port: 80 }, 'id'],
      ['PUT', `${P}/targets/eu%20west`, target, 'id'],
      ['PUT', P, `{"targets":{"a/b":{"region":"x","ipv4":["192.0.2.1"]}},"names":{}}`, 'policy'],
      ['PUT', P, `{"targets":{},"names":{},"x":${nested(3000)}}`, 'policy'],
      ['PUT', `${P}/targets/deep`, `{"region":"x","ipv4":["192.0.2.1"],"x":${nested(3000)}}`, 'policy'],
    ];
    for (const [method, url, body, field] of cases) {
      const r = await call(m, method, url, body);
      assert.equal(r.status, 400, `${method} ${url}: ${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(r.json.error, 'GSLB_ERR_API_INVALID');
      assert.ok(String(r.json.field).startsWith(field), `${url}: field ${r.json.field}, wanted ${field}`);
    }
    assert.equal(await soaSerial(m), serial, 'no refused write bumped the serial');
    assert.equal(fs.readFileSync(ws.policyFile, 'utf8'), file, 'the policy file is untouched');
  });

  it('stores ids named like Object.prototype members as plain ids', async () => {
    for (const id of ['constructor', 'toString', 'hasOwnProperty']) {
      assert.equal((await call(m, 'GET', `${P}/targets/${id}`)).status, 404, `GET absent ${id}`);
      assert.equal((await call(m, 'DELETE', `${P}/targets/${id}`)).status, 404, `DELETE absent ${id}`);
    }
    const serial = await soaSerial(m);
    assert.equal((await call(m, 'PUT', `${P}/targets/constructor`, { region: 'x', ipv4: ['192.0.2.9'] })).status, 200);
    assert.equal((await call(m, 'PUT', `${P}/names/ctor`, { ttl: 5, targets: ['constructor'], policy: [{ first: 1 }] })).status, 200);
    assert.deepEqual(await addresses(m, `ctor.${ZONE}`), ['192.0.2.9'], 'the target named "constructor" answers');
    assert.deepEqual((await call(m, 'GET', `${P}/targets/constructor`)).json, { region: 'x', ipv4: ['192.0.2.9'] });
    assert.equal((await call(m, 'DELETE', `${P}/names/ctor`)).status, 200);
    assert.equal((await call(m, 'DELETE', `${P}/targets/constructor`)).status, 200);
    assert.equal((await call(m, 'GET', `${P}/targets/constructor`)).status, 404);
    assert.equal(await soaSerial(m), serial + 4);
  });
});

describe('admin API: latency samples keyed by region', () => {
  it('keeps a region holding "|" apart from the region after it', async () => {
    const r = await call(m, 'POST', '/v1/latency', {
      samples: [
        { network: '10.0.0.0/8', region: 'a|b', ms: 5 },
        { network: '10.0.0.0/8', region: 'b', ms: 50 },
      ],
    });
    assert.equal(r.status, 200, r.text);
    const list = (await call(m, 'GET', '/v1/latency')).json.samples as Array<{ region: string; ms: number }>;
    assert.deepEqual(list.map((s) => [s.region, s.ms]).sort(), [
      ['a|b', 5],
      ['b', 50],
    ]);
  });
});
