/**
 * Issue #20 over real sockets, with the shipped example zones (zones/) served by the real CLI:
 * drain is never answered (items 1 and 2), ECS queries from a GB and a German network, the
 * admin API's drain and explain.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { udp } from '../support/dns-client.js';
import { ecsOf, ecsOption } from '../support/ecs.js';
import { tempCopy } from '../support/process.js';
import { projectRoot } from '../support/test-server.js';
import { call, runMeridian, RW_TOKEN, startMeridian, type Meridian, type Workspace } from '../admin/helpers.js';

let m: Meridian;
let ws: Workspace;

/** A GB network (81.2.64.0/18 in the shipped database) and a German one. */
const GB = '81.2.69.0/24';

async function ask(name: string, ecs: string, type = 'A'): Promise<{ addresses: string[]; scope: number | null; rcode: number }> {
  const { raw, msg } = await udp(m.dns, name, type, { edns: true, options: [ecsOption(ecs)] });
  return {
    addresses: msg.answers
      .filter((a) => a.type === type)
      .map((a) => String(a.data))
      .sort(),
    scope: ecsOf(raw)?.scope ?? null,
    rcode: raw[3]! & 0x0f,
  };
}

before(async () => {
  const copy = tempCopy(path.join(projectRoot, 'zones'));
  // A chain of two CNAMEs into the steered www, and a loop (item 4).
  fs.appendFileSync(path.join(copy.dir, 'example.com.zone'), 'shop IN CNAME app\nloop1 IN CNAME loop2\nloop2 IN CNAME loop1\n');
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

  it('a rule with no live target falls through (GB → the EU rule), a geofence never does', async () => {
    const before = await ask('www.example.com', GB);
    assert.deepEqual([before.addresses, before.scope], [['192.0.2.10'], 18], 'country GB rule: eu-west, the GeoIP record /18');
    assert.equal((await call(m, 'POST', '/v1/targets/eu-west/drain')).status, 200);
    try {
      const after = await ask('www.example.com', GB);
      // The EU continent rule (90/10 stable per /24 between eu-west and eu-central): only eu-central
      // is left, so nothing is weighed and the answer holds for the continent's GeoIP record, /18.
      assert.deepEqual([after.addresses, after.scope], [['192.0.2.20'], 18], "fell through to continent EU: eu-central, the continent's scope");
      const explained = await call(m, 'GET', `/v1/explain?name=www.example.com&type=A&client=${encodeURIComponent(GB)}`);
      assert.equal(explained.status, 200, explained.text);
      const why = (explained.json.trace as Array<{ why: string }>).map((t) => t.why).join(' | ');
      assert.match(why, /country GB matched rules\[0\]: no live target, falls through; continent EU matched rules\[1\]/);
      assert.deepEqual((await ask('eu-data.example.com', GB)).addresses, ['192.0.2.20'], 'inside the fence: eu-central');
      assert.equal((await call(m, 'POST', '/v1/targets/eu-central/drain')).status, 200);
      const fenced = await ask('eu-data.example.com', GB);
      assert.deepEqual([fenced.rcode, fenced.addresses], [0, []], 'both EU regions drained: NODATA, never us-east or ap-southeast');
      const www = await ask('www.example.com', GB);
      assert.ok(www.addresses.length > 0 && !www.addresses.some((a) => a.startsWith('192.0.2.')), `www falls through to default: ${www.addresses.join(', ')}`);
    } finally {
      await call(m, 'POST', '/v1/targets/eu-west/undrain');
      await call(m, 'POST', '/v1/targets/eu-central/undrain');
    }
  });

  it('a pushed /24 sample beats the static continent row, explain names it, and it stops counting past its TTL', async () => {
    const US = '8.8.8.0/24';
    const before = await ask('cdn.example.com', US);
    assert.deepEqual([before.addresses, before.scope], [['198.51.100.10'], 15], 'continent NA row: us-east 15 ms');
    const pushed = await call(m, 'POST', '/v1/latency', { samples: [{ network: US, region: 'us-east', ms: 300 }], ttlSec: 1 });
    assert.equal(pushed.status, 200, pushed.text);
    const after = await ask('cdn.example.com', US);
    assert.ok(after.addresses.length === 1 && after.addresses[0] !== '198.51.100.10', `measured 300 ms to us-east: ${after.addresses.join(', ')}`);
    assert.equal(after.scope, 24, "the sample's network");
    const explained = await call(m, 'GET', `/v1/explain?name=cdn.example.com&type=A&client=${encodeURIComponent(US)}`);
    const latency = (explained.json.trace as Array<{ filter: string; why: string }>).find((t) => t.filter === 'latency')!;
    assert.match(latency.why, /\(continent NA\)/, latency.why);
    // Past its TTL (1 s) the sample never counts: back to the table's figure.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual((await ask('cdn.example.com', US)).addresses, ['198.51.100.10']);
  });

  it('explain follows CNAME chains inside our zones into the steered name, CLI and admin API, as the server answers', async () => {
    const dns = await udp(m.dns, 'shop.example.com', 'A', { edns: true, options: [ecsOption(GB)] });
    const cnames = dns.msg.answers.filter((a) => a.type === 'CNAME').map((a) => `${a.name} ${String(a.data)}`);
    assert.deepEqual(cnames, ['shop.example.com app.example.com', 'app.example.com www.example.com']);
    const served = dns.msg.answers.filter((a) => a.type === 'A').map((a) => String(a.data));
    assert.deepEqual(served, ['192.0.2.10']);

    const api = await call(m, 'GET', `/v1/explain?name=shop.example.com&type=A&client=${encodeURIComponent(GB)}`);
    assert.equal(api.status, 200, api.text);
    assert.equal(api.json.steered, true, api.text);
    assert.deepEqual(api.json.cnames, ['shop.example.com. CNAME app.example.com.', 'app.example.com. CNAME www.example.com.']);
    assert.equal(api.json.steeredName, 'www.example.com.');
    assert.deepEqual(api.json.addresses, served);
    assert.equal(api.json.scope, ecsOf(dns.raw)!.scope, 'the scope the server answered with');
    assert.ok(
      (api.json.trace as Array<{ filter: string }>).some((t) => t.filter === 'geo'),
      "www's decision",
    );

    const cli = await runMeridian(['explain', 'app.example.com', '--client', GB, '--zones', ws.zones, '--config', ws.config]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /via: +app\.example\.com\. CNAME www\.example\.com\.\n +steered: +www\.example\.com\./);
    assert.match(cli.stdout, /geo +kept \[eu-west\]: country GB matched rules\[0\]/);
    assert.match(cli.stdout, /answer: +192\.0\.2\.10 \(TTL 30\)/);

    const loop = await call(m, 'GET', `/v1/explain?name=loop1.example.com&type=A&client=${encodeURIComponent(GB)}`);
    assert.equal(loop.status, 200, loop.text);
    assert.deepEqual([loop.json.steered, loop.json.cnames.length], [false, 2], 'a loop ends, not steered');
  });
});
