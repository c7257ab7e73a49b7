/**
 * Cluster mode against bad values (issue #13): a zone too large for one NATS message is
 * refused with 413 and changes nothing anywhere; a value in the bucket that is not a zone (a
 * hand-written one, say) is logged, the old zone keeps serving on every node, and the next
 * write replaces it; odd names (`__proto__`) are plain names; a node whose zone file is too
 * large to share still gets in step (it used to retry the seeding forever, refusing every write);
 * keys that another NATS client put straight into the bucket, with characters the KV client
 * refuses or a reserved name, are skipped by the nodes following it and by a node starting after.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { natsServerPath, startNats, type NatsServer } from '../support/nats.js';
import { answerA, api, CLUSTER_POLICY_TEXT, CLUSTER_ZONE, CLUSTER_ZONE_TEXT, clusterStatus, eventually, startClusterNode, type ClusterNode } from '../support/cluster-nodes.js';

const skip = natsServerPath() === null ? 'nats-server is not installed' : false;

let nats: NatsServer;
let nc: NatsConnection;
const nodes: ClusterNode[] = [];
const etagOf = async (n: ClusterNode): Promise<string | null> => (await api(n, 'GET', `/v1/zones/${CLUSTER_ZONE}`)).etag;

before(async () => {
  if (skip) return;
  // A small max_payload: a zone of a few hundred records is over it.
  nats = await startNats({ maxPayload: 8192 });
  const files = { [`${CLUSTER_ZONE}.zone`]: CLUSTER_ZONE_TEXT, [`${CLUSTER_ZONE}.policy.yaml`]: CLUSTER_POLICY_TEXT };
  nodes.push(...(await Promise.all(['a', 'b'].map((name) => startClusterNode({ name, servers: nats.url, zones: files })))));
  assert.ok(
    await eventually(async () => {
      for (const n of nodes) if ((await clusterStatus(n))?.synced !== true) return false;
      const tags = await Promise.all(nodes.map(etagOf));
      return tags[0]!.startsWith('"r') && tags.every((t) => t === tags[0]);
    }, 60_000),
    nodes.map((n) => n.output()).join('\n'),
  );
  nc = await connect({ servers: nats.url });
});

after(async () => {
  await nc?.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await nats?.stop();
});

test('a zone over the NATS message limit is refused with 413 and nothing changes', { skip, timeout: 30_000 }, async () => {
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  const before = await etagOf(a);
  const operations = Array.from({ length: 400 }, (_, i) => ({
    op: 'put',
    name: `big${i}`,
    type: 'TXT',
    ttl: 60,
    rdata: [`"${Buffer.from(`${i}-${Math.random()}`).toString('base64')}${'x'.repeat(i % 7)}"`],
  }));
  operations.push({ op: 'put', name: 'big-marker', type: 'A', ttl: 60, rdata: ['192.0.2.200'] });
  const r = await api(a, 'POST', `/v1/zones/${CLUSTER_ZONE}/records/batch`, { operations });
  assert.equal(r.status, 413, r.text);
  assert.equal(r.json.code, 'GSLB_ERR_API_CLUSTER_TOO_LARGE');
  assert.equal(await etagOf(a), before);
  assert.deepEqual(await answerA(a, `big-marker.${CLUSTER_ZONE}`), []);
  assert.deepEqual(await answerA(b, `big-marker.${CLUSTER_ZONE}`), []);
});

test('a value that is not a zone keeps the old zone serving everywhere; the next write replaces it', { skip, timeout: 30_000 }, async () => {
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  const kv = await new Kvm(nc).open('meridian');
  const key = `zone.${Buffer.from(`${CLUSTER_ZONE}.`).toString('base64url')}`;
  const garbage = await kv.put(key, 'not a zone');
  // Both nodes saw it (its revision is their ETag now) and serve the zone as it was.
  for (const n of nodes) assert.ok(await eventually(async () => (await etagOf(n)) === `"r${garbage}"`, 10_000), `${n.name}:\n${n.output()}`);
  // Logged asynchronously: it may reach the output after the ETag moved.
  assert.ok(await eventually(async () => a.output().includes('a zone value that cannot be read'), 10_000), a.output());
  for (const n of nodes) assert.deepEqual(await answerA(n, `www.${CLUSTER_ZONE}`), ['192.0.2.80']);
  const w = await api(b, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/after/A`, { ttl: 60, rdata: ['192.0.2.201'] }, { 'if-match': `"r${garbage}"` });
  assert.equal(w.status, 200, w.text);
  for (const n of nodes) assert.ok(await eventually(async () => (await answerA(n, `after.${CLUSTER_ZONE}`)).join() === '192.0.2.201', 10_000), n.name);
  assert.deepEqual(await answerA(a, `www.${CLUSTER_ZONE}`), ['192.0.2.80']);
});

test('a policy entry named __proto__ or a name with odd characters is a plain name in the store', { skip, timeout: 30_000 }, async () => {
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  const proto = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/policy/targets/__proto__`, { region: 'x', ipv4: ['198.51.100.9'] });
  assert.equal(proto.status, 400, proto.text);
  const odd = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/${encodeURIComponent('_x-y.__proto__')}/A`, { ttl: 60, rdata: ['192.0.2.202'] });
  assert.equal(odd.status, 200, odd.text);
  assert.ok(await eventually(async () => (await answerA(b, `_x-y.__proto__.${CLUSTER_ZONE}`)).join() === '192.0.2.202', 10_000));
});

test('a node with a zone file over the NATS message limit still gets in step: that zone serves from its file, the others are shared', { skip, timeout: 60_000 }, async () => {
  const [a] = nodes as [ClusterNode];
  // 400 random TXT records: several times the 8 KB max_payload once gzip'd.
  const big = ['$ORIGIN big.test.', '$TTL 300', '@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300', '@ IN NS ns1', 'ns1 IN A 192.0.2.53', 'marker IN A 192.0.2.210'];
  for (let i = 0; i < 400; i++) big.push(`t${i} IN TXT "${Buffer.from(`${i}-${Math.random()}-${Math.random()}`).toString('base64')}"`);
  const files = { [`${CLUSTER_ZONE}.zone`]: CLUSTER_ZONE_TEXT, [`${CLUSTER_ZONE}.policy.yaml`]: CLUSTER_POLICY_TEXT, 'big.test.zone': big.join('\n') + '\n' };
  const late = await startClusterNode({ name: 'late', servers: nats.url, zones: files });
  nodes.push(late);
  assert.ok(await eventually(async () => (await clusterStatus(late))?.synced === true, 20_000), `the node never got in step:\n${late.output()}`);
  // The log is written asynchronously: it may reach the output after the status says in step.
  const tooLarge = /big\.test\.[^\n]*too large|too large[^\n]*big\.test/i;
  assert.ok(await eventually(async () => tooLarge.test(late.output()), 10_000), late.output());
  // It serves the big zone from its file, the shared zone as the cluster has it, and takes writes.
  assert.deepEqual(await answerA(late, 'marker.big.test'), ['192.0.2.210']);
  assert.deepEqual(await answerA(a, 'marker.big.test'), []);
  assert.ok(await eventually(async () => (await etagOf(late)) === (await etagOf(a)), 10_000));
  const w = await api(late, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/from-late/A`, { ttl: 60, rdata: ['192.0.2.211'] });
  assert.equal(w.status, 200, w.text);
  assert.ok(await eventually(async () => (await answerA(a, `from-late.${CLUSTER_ZONE}`)).join() === '192.0.2.211', 10_000));
});

test(
  'keys put straight into the bucket by another client (characters the KV client refuses, __proto__) are skipped: running nodes follow on, a node started after gets in step',
  { skip, timeout: 60_000 },
  async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const js = jetstream(nc);
    for (const key of ['odd!key', 'zone.__proto__', '__proto__', 'zone.#$%']) await js.publish(`$KV.meridian.${key}`, 'not a value of ours');
    // The running nodes still take and pass on writes.
    const w = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/after-odd/A`, { ttl: 60, rdata: ['192.0.2.212'] });
    assert.equal(w.status, 200, w.text);
    assert.ok(await eventually(async () => (await answerA(b, `after-odd.${CLUSTER_ZONE}`)).join() === '192.0.2.212', 10_000), b.output());
    // A node started now reads every key of the bucket, these among them.
    const files = { [`${CLUSTER_ZONE}.zone`]: CLUSTER_ZONE_TEXT, [`${CLUSTER_ZONE}.policy.yaml`]: CLUSTER_POLICY_TEXT };
    const fresh = await startClusterNode({ name: 'fresh', servers: nats.url, zones: files });
    nodes.push(fresh);
    assert.ok(await eventually(async () => (await clusterStatus(fresh))?.synced === true, 20_000), `the node never got in step:\n${fresh.output()}`);
    assert.deepEqual(await answerA(fresh, `after-odd.${CLUSTER_ZONE}`), ['192.0.2.212']);
    const w2 = await api(fresh, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/from-fresh/A`, { ttl: 60, rdata: ['192.0.2.213'] });
    assert.equal(w2.status, 200, w2.text);
    assert.ok(await eventually(async () => (await answerA(a, `from-fresh.${CLUSTER_ZONE}`)).join() === '192.0.2.213', 10_000));
  },
);
