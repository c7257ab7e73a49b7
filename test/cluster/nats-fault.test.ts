/**
 * Cluster mode on a 3-server NATS cluster (bucket replicas: 3): a NATS server is killed
 * (SIGKILL) in the middle of a stream of admin writes, and no acknowledged write is lost: the
 * other node answers each, and so does a node started afterwards from the store alone.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { natsServerPath, startNatsCluster, type NatsCluster } from '../support/nats.js';
import { answerA, api, CLUSTER_ZONE, CLUSTER_ZONE_TEXT, clusterStatus, eventually, startClusterNode, type ClusterNode } from '../support/cluster-nodes.js';

const skip = natsServerPath() === null ? 'nats-server is not installed' : false;

let nats: NatsCluster | null = null;
const nodes: ClusterNode[] = [];

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await nats?.stop();
});

/** The last lines of each NATS server's log: elections and routes, for a failure's message. */
const natsLogs = (cluster: NatsCluster): string => cluster.servers.map((s) => `--- ${s.name}\n${s.output().split('\n').slice(-40).join('\n')}`).join('\n');

const inStep = async (list: readonly ClusterNode[]): Promise<boolean> => {
  for (const n of list) if ((await clusterStatus(n))?.synced !== true) return false;
  const tags = await Promise.all(list.map(async (n) => (await api(n, 'GET', `/v1/zones/${CLUSTER_ZONE}`)).etag));
  return tags[0]!.startsWith('"r') && tags.every((t) => t === tags[0]);
};

test('a NATS server killed mid-stream of writes loses no acknowledged write', { skip, timeout: 120_000 }, async (t) => {
  nats = await startNatsCluster();
  const config = (name: string): string => `cluster: { node: ${name}, replicas: 3, writeTimeoutMs: 2000 }`;
  const files = { [`${CLUSTER_ZONE}.zone`]: CLUSTER_ZONE_TEXT };
  nodes.push(...(await Promise.all(['a', 'b'].map((name) => startClusterNode({ name, servers: nats!.urls, zones: files, config: config(name) })))));
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  assert.ok(await eventually(() => inStep([a, b]), 30_000), `not in step:\n${a.output()}\n${b.output()}`);

  const acknowledged: number[] = [];
  const refused: string[] = [];
  const KILL_AT = 8;
  // Writes go on until five more were taken after the kill (NATS elects new leaders meanwhile: seconds).
  const deadline = Date.now() + 60_000;
  for (let i = 0; acknowledged.filter((k) => k >= KILL_AT).length < 5 && Date.now() < deadline; i++) {
    if (i === KILL_AT) nats.servers[0]!.kill();
    const r = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/w${i}/A`, { ttl: 60, rdata: [`192.0.2.${(i % 250) + 1}`] });
    if (r.status === 200) acknowledged.push(i);
    else {
      // Refused while NATS elects a new leader or the node reconnects: 503 (or 412 after a write
      // whose acknowledgement was lost), never a 2xx that is not kept.
      assert.ok(r.status === 503 || r.status === 412, r.text);
      refused.push(`w${i}: ${r.status}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  t.diagnostic(`${acknowledged.length} writes acknowledged; refused: ${refused.join(', ') || 'none'}`);
  assert.ok(
    acknowledged.some((i) => i >= KILL_AT),
    `no write was taken after the kill: ${refused.join(', ')}\n${a.output()}`,
  );

  // A node started now learns the zone from the store alone.
  const late = await startClusterNode({ name: 'late', servers: nats.urls, zones: {}, config: config('late') });
  nodes.push(late);
  for (const n of [a, b, late]) {
    for (const i of acknowledged) {
      assert.ok(
        await eventually(async () => (await answerA(n, `w${i}.${CLUSTER_ZONE}`)).join() === `192.0.2.${(i % 250) + 1}`, 20_000),
        `node ${n.name} lost the acknowledged write w${i}:\n${n.output()}\n${natsLogs(nats)}`,
      );
    }
  }
});
