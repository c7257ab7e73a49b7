/**
 * Cluster mode over real sockets (issue #13, part 2): three `meridian serve --cluster` nodes
 * and nats-server on loopback. A write on one node is answered over UDP by the others; a
 * drain on one applies everywhere; a stale If-Match is 412 on any node; a node cut off NATS
 * keeps answering, refuses writes with 503 (and says so in /v1/status and /metrics), then
 * catches up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { natsServerPath, startNats, startRelay, type CuttableRelay, type NatsServer } from '../support/nats.js';
import { answerA, api, CLUSTER_POLICY_TEXT, CLUSTER_TOKEN, CLUSTER_ZONE, CLUSTER_ZONE_TEXT, clusterStatus, eventually, startClusterNode, type ClusterNode } from '../support/cluster-nodes.js';
import { dumpDom, elementWith, findChromium } from '../e2e/helpers/chromium.js';
import type { DashboardCluster } from '../../src/admin/dashboard.js';

const skip = natsServerPath() === null ? 'nats-server is not installed' : false;

const FILES = { [`${CLUSTER_ZONE}.zone`]: CLUSTER_ZONE_TEXT, [`${CLUSTER_ZONE}.policy.yaml`]: CLUSTER_POLICY_TEXT };

let nats: NatsServer;
let relay: CuttableRelay;
let nodes: ClusterNode[] = [];
let a: ClusterNode, b: ClusterNode, c: ClusterNode;

const noChromium = findChromium() === null;
const dashboardCluster = async (n: ClusterNode): Promise<DashboardCluster> => (await api(n, 'GET', '/v1/dashboard')).json.cluster;
/** The status page as a browser renders it, or null without chromium (the JSON checks still run). */
const page = async (n: ClusterNode): Promise<string | null> => (noChromium ? null : dumpDom(`http://127.0.0.1:${n.api}/dashboard#token=${CLUSTER_TOKEN}`));

const etagOf = async (n: ClusterNode): Promise<string | null> => (await api(n, 'GET', `/v1/zones/${CLUSTER_ZONE}`)).etag;

before(async () => {
  if (skip) return;
  nats = await startNats();
  // C reaches NATS through a relay the partition test cuts.
  relay = await startRelay(nats.url);
  nodes = await Promise.all([
    startClusterNode({ name: 'a', servers: nats.url, zones: FILES }),
    startClusterNode({ name: 'b', servers: nats.url, zones: FILES }),
    startClusterNode({ name: 'c', servers: relay.url, zones: FILES }),
  ]);
  [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  // In step, and every node serving the store's version of the zone (one of them seeded it).
  const ready = await eventually(async () => {
    for (const n of nodes) if ((await clusterStatus(n))?.synced !== true) return false;
    const tags = await Promise.all(nodes.map(etagOf));
    return tags[0]!.startsWith('"r') && tags.every((t) => t === tags[0]);
  }, 60_000);
  assert.ok(ready, `the nodes did not get in step:\n${nodes.map((n) => n.output()).join('\n')}`);
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await relay?.close();
  await nats?.stop();
});

test('a record written on A is answered over UDP by B and C, with one ETag on every node', { skip, timeout: 30_000 }, async () => {
  const put = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/new/A`, { ttl: 60, rdata: ['192.0.2.99'] });
  assert.equal(put.status, 200, put.text);
  assert.match(put.etag ?? '', /^"r\d+"$/);
  for (const n of [a, b, c]) {
    assert.ok(await eventually(async () => (await answerA(n, `new.${CLUSTER_ZONE}`)).join() === '192.0.2.99', 10_000), `node ${n.name} does not answer the write`);
    assert.ok(await eventually(async () => (await etagOf(n)) === put.etag, 10_000), `node ${n.name} has another ETag`);
  }
});

test('a write with a stale If-Match is 412 on another node, and nothing changes; the current ETag is taken there', { skip, timeout: 30_000 }, async () => {
  const old = await etagOf(b);
  const first = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/www/A`, { ttl: 60, rdata: ['192.0.2.81'] }, { 'if-match': old! });
  assert.equal(first.status, 200, first.text);
  assert.ok(await eventually(async () => (await etagOf(b)) === first.etag, 10_000));
  const stale = await api(b, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/www/A`, { ttl: 60, rdata: ['192.0.2.82'] }, { 'if-match': old! });
  assert.equal(stale.status, 412, stale.text);
  assert.equal(stale.json.code, 'GSLB_ERR_API_STALE');
  assert.deepEqual(await answerA(c, `www.${CLUSTER_ZONE}`), ['192.0.2.81']);
  const fresh = await api(b, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/www/A`, { ttl: 60, rdata: ['192.0.2.83'] }, { 'if-match': first.etag! });
  assert.equal(fresh.status, 200, fresh.text);
  for (const n of [a, b, c]) assert.ok(await eventually(async () => (await answerA(n, `www.${CLUSTER_ZONE}`)).join() === '192.0.2.83', 10_000), `node ${n.name}`);
});

test('a policy written on C steers on A and B; a drain on B applies on every node, and its undrain too', { skip, timeout: 30_000 }, async () => {
  const put = await api(c, 'PUT', `/v1/zones/${CLUSTER_ZONE}/policy/targets/primary`, { region: 'one', ipv4: ['198.51.100.7'] });
  assert.equal(put.status, 200, put.text);
  for (const n of [a, b, c]) assert.ok(await eventually(async () => (await answerA(n, `fo.${CLUSTER_ZONE}`)).join() === '198.51.100.7', 10_000), `node ${n.name} (policy)`);
  const drain = await api(b, 'POST', '/v1/targets/primary/drain');
  assert.equal(drain.status, 200, drain.text);
  for (const n of [a, b, c]) assert.ok(await eventually(async () => (await answerA(n, `fo.${CLUSTER_ZONE}`)).join() === '198.51.100.2', 10_000), `node ${n.name} (drain)`);
  const health = (await api(a, 'GET', '/v1/health')).json.targets.find((t: { id: string }) => t.id.endsWith('/primary'));
  assert.equal(health.forced, 'down');
  const undrain = await api(a, 'POST', '/v1/targets/primary/undrain');
  assert.equal(undrain.status, 200, undrain.text);
  for (const n of [a, b, c]) assert.ok(await eventually(async () => (await answerA(n, `fo.${CLUSTER_ZONE}`)).join() === '198.51.100.7', 10_000), `node ${n.name} (undrain)`);
});

test('latency samples posted on A are in force on B and C, and age out there with their TTL', { skip, timeout: 30_000 }, async () => {
  const post = await api(a, 'POST', '/v1/latency', {
    samples: [
      { network: '203.0.113.0/24', region: 'one', ms: 42 },
      { network: '2001:db8::/48', region: 'two', ms: 7 },
    ],
    ttlSec: 2,
  });
  assert.equal(post.status, 200, post.text);
  const listed = async (n: ClusterNode): Promise<string> =>
    (await api(n, 'GET', '/v1/latency')).json.samples
      .map((x: { network: string; region: string; ms: number }) => `${x.region} ${x.network} ${x.ms}`)
      .sort()
      .join(', ');
  for (const n of [b, c]) assert.ok(await eventually(async () => (await listed(n)) === 'one 203.0.113.0/24 42, two 2001:db8::/48 7', 10_000), `node ${n.name}: ${await listed(n)}`);
  for (const n of [a, b, c]) assert.ok(await eventually(async () => (await listed(n)) === '', 10_000), `node ${n.name} kept an expired sample`);
  const bad = await api(b, 'POST', '/v1/latency', { samples: [{ network: 'not-a-network', region: 'one', ms: 1 }] });
  assert.equal(bad.status, 400, bad.text);
});

test('the status page shows the cluster: this node, in step, writes taken, and the other nodes heard from', { skip, timeout: 30_000 }, async () => {
  // Every node reports its health view every 2 s: A soon holds a fresh report of B and of C.
  assert.ok(await eventually(async () => (await dashboardCluster(a)).peers.filter((p) => p.counted).length === 2, 10_000), JSON.stringify(await dashboardCluster(a)));
  const d = await dashboardCluster(a);
  assert.equal(d.node, 'a');
  assert.deepEqual([d.link, d.connected, d.synced, d.writes], ['in-step', true, true, 'accepted']);
  assert.deepEqual(d.servers, [nats.url]);
  assert.deepEqual(
    d.peers.map((p) => p.node),
    ['b', 'c'],
  );
  for (const p of d.peers) assert.ok(p.ageSec >= 0 && p.ageSec < 60, `${p.node} reported ${p.ageSec} s ago`);
  assert.ok(Date.parse(d.since) <= Date.now());
  const dom = await page(a);
  if (dom !== null) {
    assert.equal(elementWith(dom, 'id', 'cluster')?.['data-link'], 'in-step', dom);
    assert.match(dom, /node a: in step with the cluster store/);
    assert.equal(elementWith(dom, 'data-peer', 'b')?.['data-counted'], 'true');
  }
});

test('a node cut off NATS keeps answering, refuses writes with 503 and says so, then catches up', { skip, timeout: 60_000 }, async () => {
  relay.cut();
  assert.ok(await eventually(async () => (await clusterStatus(c)).synced === false, 20_000), 'C never noticed');
  const status = await clusterStatus(c);
  assert.equal(status.connected, false);
  assert.ok(status.lastError);
  const metrics = (await api(c, 'GET', '/metrics')).text;
  assert.match(metrics, /^meridian_cluster_synced 0$/m);
  assert.match(metrics, /^meridian_cluster_connected 0$/m);
  // The status page says so too: cut off since when, writes refused.
  const cut = await dashboardCluster(c);
  assert.deepEqual([cut.node, cut.link, cut.connected, cut.writes], ['c', 'cut-off', false, 'refused']);
  assert.equal(cut.since, status.since);
  assert.ok(cut.lastError);
  const dom = await page(c);
  if (dom !== null) {
    assert.equal(elementWith(dom, 'id', 'cluster')?.['data-link'], 'cut-off', dom);
    assert.equal(elementWith(dom, 'id', 'cluster')?.['data-writes'], 'refused');
    assert.match(dom, /node c: cut off from NATS \([^)]*\) since \d+:\d+:\d+[^(]* \(\d+ s ago\): serving its last state; writes are refused \(503\)/);
  }

  // Refused, and nothing written here.
  const refused = await api(c, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/cut/A`, { ttl: 60, rdata: ['192.0.2.66'] });
  assert.equal(refused.status, 503, refused.text);
  assert.equal(refused.json.code, 'GSLB_ERR_API_CLUSTER_UNAVAILABLE');
  const drain = await api(c, 'POST', '/v1/targets/secondary/drain');
  assert.equal(drain.status, 503, drain.text);
  const latency = await api(c, 'POST', '/v1/latency', { samples: [{ network: '198.18.0.0/15', region: 'one', ms: 5 }] });
  assert.equal(latency.status, 503, latency.text);
  assert.deepEqual((await api(c, 'GET', '/v1/latency')).json.samples, []);
  assert.deepEqual(await answerA(c, `cut.${CLUSTER_ZONE}`), []);
  assert.equal((await api(c, 'GET', '/v1/health')).json.targets.find((t: { id: string }) => t.id.endsWith('/secondary')).forced, null);

  // The others go on; C keeps answering what it had.
  const meanwhile = await api(a, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/meanwhile/A`, { ttl: 60, rdata: ['192.0.2.77'] });
  assert.equal(meanwhile.status, 200, meanwhile.text);
  assert.equal((await api(b, 'POST', '/v1/targets/secondary/drain')).status, 200);
  assert.deepEqual(await answerA(c, `www.${CLUSTER_ZONE}`), ['192.0.2.83']);
  assert.deepEqual(await answerA(c, `meanwhile.${CLUSTER_ZONE}`), []);

  relay.restore();
  assert.ok(await eventually(async () => (await answerA(c, `meanwhile.${CLUSTER_ZONE}`)).join() === '192.0.2.77', 20_000), `C did not catch up:\n${c.output()}`);
  assert.ok(await eventually(async () => (await clusterStatus(c)).synced === true, 10_000));
  // Following by a watch again (reads only while no consumer can be made: no-consumers.test.ts).
  assert.ok(await eventually(async () => (await clusterStatus(c)).follows === 'watch', 10_000), c.output());
  assert.ok(await eventually(async () => (await api(c, 'GET', '/v1/health')).json.targets.find((t: { id: string }) => t.id.endsWith('/secondary')).forced === 'down', 10_000));
  assert.match((await api(c, 'GET', '/metrics')).text, /^meridian_cluster_synced 1$/m);
  const back = await dashboardCluster(c);
  assert.deepEqual([back.link, back.connected, back.writes], ['in-step', true, 'accepted']);
  assert.ok(Date.parse(back.since) > Date.parse(cut.since), 'in step since the reconnect');
  const after = await api(c, 'PUT', `/v1/zones/${CLUSTER_ZONE}/records/cut/A`, { ttl: 60, rdata: ['192.0.2.66'] });
  assert.equal(after.status, 200, after.text);
  for (const n of [a, b]) assert.ok(await eventually(async () => (await answerA(n, `cut.${CLUSTER_ZONE}`)).join() === '192.0.2.66', 10_000), `node ${n.name}`);
});
