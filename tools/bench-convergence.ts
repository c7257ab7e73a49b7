/**
 * Convergence benchmark (issue #13, part 2): how long a write on one node of a cluster takes
 * to be answered by every node. Starts nats-server (one, or a 3-server JetStream cluster
 * with --nats-cluster) and three `meridian serve --cluster` nodes on loopback; then, `--writes`
 * times, PUTs a new A record on one node (round robin with --rotate, else always the first)
 * and queries every node over UDP every millisecond until all three answer it. Prints the
 * write's own latency (the 200) and the time until all answer: median, p90 and max.
 *   node dist/tools/bench-convergence.js [--writes 20] [--nats-cluster] [--rotate]
 * Needs nats-server (Debian package nats-server).
 */
import { parseArgs } from 'node:util';
import { answerA, api, CLUSTER_POLICY_TEXT, CLUSTER_ZONE, CLUSTER_ZONE_TEXT, clusterStatus, eventually, startClusterNode, type ClusterNode } from '../test/support/cluster-nodes.js';
import { natsServerPath, startNats, startNatsCluster } from '../test/support/nats.js';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '20' },
    'nats-cluster': { type: 'boolean', default: false },
    rotate: { type: 'boolean', default: false },
  },
});
const writes = Number(values.writes);
if (!Number.isInteger(writes) || writes < 1 || writes > 250) throw new Error('--writes: a whole number from 1 to 250');
if (natsServerPath() === null) throw new Error('nats-server is not installed (apt-get install nats-server)');

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const nats = values['nats-cluster'] ? await startNatsCluster() : await startNats();
  const urls = 'urls' in nats ? nats.urls : nats.url;
  const replicas = values['nats-cluster'] ? 3 : 1;
  const files = { [`${CLUSTER_ZONE}.zone`]: CLUSTER_ZONE_TEXT, [`${CLUSTER_ZONE}.policy.yaml`]: CLUSTER_POLICY_TEXT };
  let nodes: ClusterNode[] = [];
  try {
    nodes = await Promise.all(['a', 'b', 'c'].map((name) => startClusterNode({ name, servers: urls, zones: files, config: `cluster: { node: ${name}, replicas: ${replicas} }` })));
    const ready = await eventually(async () => {
      for (const n of nodes) if ((await clusterStatus(n))?.synced !== true) return false;
      const tags = await Promise.all(nodes.map(async (n) => (await api(n, 'GET', `/v1/zones/${CLUSTER_ZONE}`)).etag));
      return tags[0]!.startsWith('"r') && tags.every((t) => t === tags[0]);
    }, 30_000);
    if (!ready) throw new Error('the nodes did not get in step');
    const acked: number[] = [];
    const converged: number[] = [];
    for (let i = 0; i < writes; i++) {
      const writer = values.rotate ? nodes[i % nodes.length]! : nodes[0]!;
      const address = `192.0.2.${i + 1}`;
      const started = performance.now();
      const r = await api(writer, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/c${i}/A`, { ttl: 60, rdata: [address] });
      if (r.status !== 200) throw new Error(`write ${i} on ${writer.name}: ${r.status} ${r.text}`);
      acked.push(performance.now() - started);
      const pending = new Set(nodes);
      while (pending.size > 0) {
        for (const n of Array.from(pending)) if ((await answerA(n, `c${i}.${CLUSTER_ZONE}`)).join() === address) pending.delete(n);
        if (pending.size > 0) await new Promise((res) => setTimeout(res, 1));
        if (performance.now() - started > 30_000) throw new Error(`write ${i} not answered by ${[...pending].map((n) => n.name).join(', ')} in 30 s`);
      }
      converged.push(performance.now() - started);
    }
    const a = [...acked].sort((x, y) => x - y);
    const c = [...converged].sort((x, y) => x - y);
    console.log(`${writes} writes, 3 nodes, ${values['nats-cluster'] ? '3-server NATS cluster (replicas 3)' : 'one nats-server'}, written on ${values.rotate ? 'each node in turn' : 'node a'}`);
    console.log(`  acknowledged (200):   median ${fmt(quantile(a, 0.5))}  p90 ${fmt(quantile(a, 0.9))}  max ${fmt(a[a.length - 1]!)}`);
    console.log(`  answered by all three: median ${fmt(quantile(c, 0.5))}  p90 ${fmt(quantile(c, 0.9))}  max ${fmt(c[c.length - 1]!)}  (goal: under 1000 ms)`);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await nats.stop();
  }
}

await main();
