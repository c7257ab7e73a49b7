/**
 * `meridian cluster import DIR` and `export DIR` (issue #13) against nats-server and a running
 * node: an imported folder is served by the node; a folder with an error is refused whole,
 * naming file:line, and changes nothing; an export writes back the files the store holds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { natsServerPath, startNats, type NatsServer } from '../support/nats.js';
import { runCli } from '../support/process.js';
import { answerA, CLUSTER_ZONE, CLUSTER_ZONE_TEXT, clusterStatus, eventually, startClusterNode, type ClusterNode } from '../support/cluster-nodes.js';

const skip = natsServerPath() === null ? 'nats-server is not installed' : false;

const IMP_ZONE = `$ORIGIN imp.test.
; kept: a comment in the imported file
$TTL 300
@    3600 IN SOA ns1 hostmaster 7 7200 3600 1209600 300
@    3600 IN NS  ns1
ns1       IN A   192.0.2.53
www       IN A   192.0.2.70
`;
const IMP_POLICY = `targets:
  one: { region: one, ipv4: [198.51.100.70] }
names:
  lb:
    ttl: 5
    targets: [one]
    policy:
      - first: 1
`;

let nats: NatsServer;
let node: ClusterNode;
let tmp: string;
const env = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MERIDIAN_')));

before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-cluster-io-'));
  nats = await startNats();
  node = await startClusterNode({ name: 'a', servers: nats.url, zones: { [`${CLUSTER_ZONE}.zone`]: CLUSTER_ZONE_TEXT } });
  assert.ok(await eventually(async () => (await clusterStatus(node))?.synced === true, 60_000), node.output());
});

after(async () => {
  await node?.stop();
  await nats?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('import refuses a folder with an error whole, naming file:line; a good folder is served by the running node', { skip, timeout: 60_000 }, async () => {
  const bad = path.join(tmp, 'bad');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'imp.test.zone'), IMP_ZONE);
  fs.writeFileSync(path.join(bad, 'other.test.zone'), '$ORIGIN other.test.\n@ 300 IN SOA ns1 hostmaster 1 2 3 4 5\n@ 300 IN NS ns1\nns1 300 IN A 999.1.2.3\n');
  const refused = await runCli(['cluster', 'import', bad, '--cluster', nats.url], 30_000, env());
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /other\.test\.zone:4: /);
  assert.match(refused.stderr, /nothing imported/);
  assert.deepEqual(await answerA(node, 'www.imp.test'), []);

  const good = path.join(tmp, 'good');
  fs.mkdirSync(good);
  fs.writeFileSync(path.join(good, 'imp.test.zone'), IMP_ZONE);
  fs.writeFileSync(path.join(good, 'imp.test.policy.yaml'), IMP_POLICY);
  const imported = await runCli(['cluster', 'import', good, '--cluster', nats.url], 30_000, env());
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /1 zone\(s\) imported/);
  assert.ok(await eventually(async () => (await answerA(node, 'www.imp.test')).join() === '192.0.2.70', 10_000), node.output());
  assert.deepEqual(await answerA(node, 'lb.imp.test'), ['198.51.100.70']);
});

test('export writes every zone of the store, with its policy, as the files it was given', { skip, timeout: 60_000 }, async () => {
  const out = path.join(tmp, 'out');
  const exported = await runCli(['cluster', 'export', out, '--cluster', nats.url], 30_000, env());
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(fs.readFileSync(path.join(out, 'imp.test.zone'), 'utf8'), IMP_ZONE);
  assert.equal(fs.readFileSync(path.join(out, 'imp.test.policy.yaml'), 'utf8'), IMP_POLICY);
  // The zone the node seeded the store with is there too, and loads.
  assert.match(fs.readFileSync(path.join(out, `${CLUSTER_ZONE}.zone`), 'utf8'), /192\.0\.2\.80/);
  const check = await runCli(['check', '--zones', out], 30_000, env());
  assert.equal(check.code, 0, check.stdout + check.stderr);
});

test('import and export without any NATS server named say so', { skip, timeout: 30_000 }, async () => {
  const r = await runCli(['cluster', 'export', path.join(tmp, 'none')], 30_000, env());
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no NATS servers: give --cluster/);
});
