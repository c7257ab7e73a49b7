/**
 * Cluster mode when no JetStream consumer can be made (as while the NATS cluster re-elects its
 * metadata leader after a server died, which can take many seconds): the nodes still get in
 * step and follow every change by reading the stream, and take a watch once one can be made
 * again, losing nothing at the switch. What another client puts straight into the bucket (a
 * key the KV client refuses, a zone value that is not a zone) reaches them the same way and is
 * skipped or logged, the old zone serving on. The NATS user here may not create consumers until the
 * server's config is reloaded with that permission back.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { natsServerPath, startNats, type NatsServer } from '../support/nats.js';
import { answerA, api, CLUSTER_ZONE, CLUSTER_ZONE_TEXT, clusterStatus, eventually, startClusterNode, type ClusterNode } from '../support/cluster-nodes.js';

const skip = natsServerPath() === null ? 'nats-server is not installed' : false;

const user = (deny: boolean): string[] => [
  'authorization {',
  '  users: [{ user: meridian, password: s3cret, permissions: {',
  `    publish: { allow: [">"]${deny ? ', deny: ["$JS.API.CONSUMER.CREATE.>", "$JS.API.CONSUMER.DURABLE.CREATE.>"]' : ''} }`,
  '  } }]',
  '}',
];

let nats: NatsServer | null = null;
const nodes: ClusterNode[] = [];

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await nats?.stop();
});

const address = (i: number): string => `192.0.2.${(i % 250) + 1}`;

test('with no consumer to be had, nodes follow the store by reading it, then take a watch and lose nothing at the switch', { skip, timeout: 120_000 }, async () => {
  nats = await startNats({ extra: user(true) });
  const config = (name: string): string => `cluster: { node: ${name}, user: meridian, password: s3cret }`;
  const files = { [`${CLUSTER_ZONE}.zone`]: CLUSTER_ZONE_TEXT };
  nodes.push(...(await Promise.all(['a', 'b'].map((name) => startClusterNode({ name, servers: nats!.url, zones: files, config: config(name) })))));
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  const follows = async (n: ClusterNode): Promise<unknown> => (await clusterStatus(n))?.follows;
  assert.ok(await eventually(async () => (await follows(a)) === 'reads' && (await follows(b)) === 'reads', 30_000), `not in step by reads:\n${a.output()}\n${b.output()}`);
  assert.ok(await eventually(async () => b.output().includes('cannot watch the store'), 10_000), b.output());

  // Writes and a delete on A reach B.
  for (let i = 0; i < 5; i++) {
    const r = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/r${i}/A`, { ttl: 60, rdata: [address(i)] });
    assert.equal(r.status, 200, r.text);
  }
  for (let i = 0; i < 5; i++) assert.ok(await eventually(async () => (await answerA(b, `r${i}.${CLUSTER_ZONE}`)).join() === address(i), 10_000), `B missed r${i}:\n${b.output()}`);
  const deleted = await api(a, 'DELETE', `/v1/zones/${CLUSTER_ZONE}/records/r0/A`);
  assert.equal(deleted.status, 200, deleted.text);
  assert.ok(await eventually(async () => (await answerA(b, `r0.${CLUSTER_ZONE}`)).length === 0, 10_000), 'B kept a deleted record');

  // What another client puts straight into the bucket comes through the reads too: a key the KV
  // client refuses is skipped, a zone value that is not a zone is logged and the zone served on.
  const raw = await connect({ servers: nats.url, user: 'meridian', pass: 's3cret' });
  try {
    const js = jetstream(raw);
    await js.publish('$KV.meridian.odd!key', 'not ours');
    await js.publish(`$KV.meridian.zone.${Buffer.from(`${CLUSTER_ZONE}.`).toString('base64url')}`, 'not a zone');
  } finally {
    await raw.close();
  }
  assert.ok(await eventually(async () => b.output().includes('a zone value that cannot be read'), 10_000), b.output());
  assert.deepEqual(await answerA(b, `r1.${CLUSTER_ZONE}`), [address(1)], 'the zone as it was');
  assert.equal((await clusterStatus(b))?.follows, 'reads');

  // A watch is tried again every 5 s; the failure is logged once, not at each try.
  await new Promise((res) => setTimeout(res, 5_500));
  assert.equal(b.output().split('cannot watch the store').length - 1, 1, b.output());

  // Consumers allowed again: each node takes a watch within its retry interval while writes go on.
  nats.reload(user(false));
  let i = 5;
  const deadline = Date.now() + 30_000;
  while (((await follows(a)) !== 'watch' || (await follows(b)) !== 'watch') && Date.now() < deadline) {
    const r = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/r${i}/A`, { ttl: 60, rdata: [address(i)] });
    assert.equal(r.status, 200, r.text);
    i++;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(await follows(b), 'watch', `B never took a watch:\n${b.output()}`);
  assert.equal(await follows(a), 'watch', `A never took a watch:\n${a.output()}`);
  assert.ok(await eventually(async () => b.output().includes('watching the store again'), 10_000), b.output());
  for (let k = 0; k < 5; k++, i++) assert.equal((await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/r${i}/A`, { ttl: 60, rdata: [address(i)] })).status, 200);
  for (let k = 1; k < i; k++) assert.ok(await eventually(async () => (await answerA(b, `r${k}.${CLUSTER_ZONE}`)).join() === address(k), 10_000), `B missed r${k} of ${i}:\n${b.output()}`);
});
