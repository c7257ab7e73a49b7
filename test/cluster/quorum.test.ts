/**
 * Quorum health (issue #13): three nodes probe one HTTP target. The target's server answers
 * 503 to the nodes the test picks, telling them apart by the process that owns the probing
 * socket (/proc), so each node really probes and really sees what it sees. Seen down by one
 * node of three, the target stays in every node's answers (that node's own view says down in
 * /v1/health); seen down by two, it leaves every node's answers, the third's too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { natsServerPath, startNats, type NatsServer } from '../support/nats.js';
import { answerA, api, clusterStatus, eventually, startClusterNode, type ClusterNode } from '../support/cluster-nodes.js';

const skip = natsServerPath() === null ? 'nats-server is not installed' : process.platform !== 'linux' ? 'reads /proc' : false;

const ZONE = 'qh.test';
const zoneText = `$ORIGIN ${ZONE}.\n$TTL 60\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n`;
const policyText = (port: number): string => `probes:
  web: { type: http, port: ${port}, path: /health, interval: 1, timeout: 500, fall: 1, rise: 1, jitter: 0 }
targets:
  probed: { region: one, ipv4: [192.0.2.1], probe: web, probeAddress: 127.0.0.1 }
  spare:  { region: two, ipv4: [192.0.2.2] }
names:
  www:
    ttl: 5
    policy:
      - failover:
          groups: [{ targets: [probed] }, { targets: [spare] }]
`;

/** The pid among `pids` owning the IPv4 loopback socket 127.0.0.1:`port` connected to 127.0.0.1:`peer`. */
function ownerOf(port: number, peer: number, pids: readonly number[]): number | null {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  const line = fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] === `0100007F:${hex(port)}` && f[2] === `0100007F:${hex(peer)}`);
  if (line === undefined) return null;
  const socket = `socket:[${line[9]}]`;
  for (const pid of pids) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === socket) return pid;
    } catch {
      // gone, or an fd closed meanwhile
    }
  }
  return null;
}

let nats: NatsServer;
let probeServer: http.Server;
const nodes: ClusterNode[] = [];
/** Names of the nodes the target answers 503. */
const downFor = new Set<string>();

before(async () => {
  if (skip) return;
  nats = await startNats();
  probeServer = http.createServer((req, res) => {
    const pid = ownerOf(
      req.socket.remotePort!,
      (probeServer.address() as AddressInfo).port,
      nodes.map((n) => n.child.pid!),
    );
    const node = nodes.find((n) => n.child.pid === pid);
    res.statusCode = node !== undefined && downFor.has(node.name) ? 503 : 200;
    res.end();
  });
  await new Promise<void>((resolve) => probeServer.listen(0, '127.0.0.1', resolve));
  const port = (probeServer.address() as AddressInfo).port;
  const files = { [`${ZONE}.zone`]: zoneText, [`${ZONE}.policy.yaml`]: policyText(port) };
  nodes.push(...(await Promise.all(['a', 'b', 'c'].map((name) => startClusterNode({ name, servers: nats.url, zones: files, config: `cluster: { node: ${name}, healthReportMs: 300 }` })))));
  assert.ok(
    await eventually(async () => {
      for (const n of nodes) if ((await clusterStatus(n))?.synced !== true) return false;
      return true;
    }, 60_000),
    nodes.map((n) => n.output()).join('\n'),
  );
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await new Promise((resolve) => probeServer?.close(resolve));
  await nats?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const target = async (n: ClusterNode): Promise<any> => (await api(n, 'GET', '/v1/health')).json.targets.find((t: { id: string }) => t.id.endsWith('/probed'));

test('a target seen down by 1 node of 3 stays up everywhere; by 2 of 3 it goes down everywhere, and back', { skip, timeout: 60_000 }, async () => {
  const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  for (const n of nodes) {
    assert.ok(await eventually(async () => (await target(n))?.quorum?.reporting === 3, 20_000), `node ${n.name} does not hear from all three:\n${n.output()}`);
    assert.deepEqual(await answerA(n, `www.${ZONE}`), ['192.0.2.1']);
  }

  downFor.add('a');
  assert.ok(await eventually(async () => (await target(a)).state === 'down', 10_000), 'A never saw it down');
  // Every node has heard A's report (1 down of 3, 2 needed) ...
  for (const n of nodes) assert.ok(await eventually(async () => (await target(n)).quorum.down === 1, 10_000), `node ${n.name}`);
  // ... and keeps the target, A included.
  for (const n of nodes) {
    const t = await target(n);
    assert.deepEqual({ state: t.quorum.state, healthy: t.healthy, needed: t.quorum.needed }, { state: 'up', healthy: true, needed: 2 }, n.name);
    assert.deepEqual(await answerA(n, `www.${ZONE}`), ['192.0.2.1'], `node ${n.name} answers`);
  }
  assert.equal((await target(a)).state, 'down', "A's own view stays visible");

  downFor.add('b');
  for (const n of nodes) assert.ok(await eventually(async () => (await answerA(n, `www.${ZONE}`)).join() === '192.0.2.2', 10_000), `node ${n.name} still answers the target seen down by 2 of 3`);
  const seenByC = await target(c);
  assert.equal(seenByC.state, 'up', "C's own probes still pass");
  assert.equal(seenByC.quorum.state, 'down');
  assert.equal(seenByC.healthy, false);

  downFor.clear();
  for (const n of [a, b, c]) assert.ok(await eventually(async () => (await answerA(n, `www.${ZONE}`)).join() === '192.0.2.1', 10_000), `node ${n.name} did not take it back`);
});
