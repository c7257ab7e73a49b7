/** test/support/nats.ts: the nats-server the cluster tests start, alone and as a 3-server JetStream cluster. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { natsServerPath, startNats, startNatsCluster, startRelay, waitFor } from '../support/nats.js';

const skip = natsServerPath() === null ? 'nats-server is not installed' : false;

test('one nats-server on a port of its own choosing keeps a KV value; a relay can cut a client off', { skip, timeout: 30_000 }, async () => {
  const server = await startNats();
  const relay = await startRelay(server.url);
  const nc = await connect({ servers: relay.url, reconnectTimeWait: 100 });
  try {
    const kv = await new Kvm(nc).create('t');
    const rev = await kv.put('a', 'one');
    assert.equal((await kv.get('a'))?.string(), 'one');
    assert.equal((await kv.get('a'))?.revision, rev);
    const events: string[] = [];
    const back = (async () => {
      for await (const s of nc.status()) {
        events.push(s.type);
        if (s.type === 'reconnect') return;
      }
    })();
    relay.cut();
    relay.restore();
    await back;
    assert.ok(events.includes('disconnect'), events.join());
    assert.equal((await kv.get('a'))?.string(), 'one');
  } finally {
    await nc.close();
    await relay.close();
    await server.stop();
  }
});

test('a 3-server cluster keeps a replicated KV value when one server is killed', { skip, timeout: 60_000 }, async () => {
  const cluster = await startNatsCluster();
  const nc = await connect({ servers: cluster.urls.split(','), reconnectTimeWait: 100 });
  try {
    // The third server may not be a JetStream peer yet: "no suitable peers for placement".
    const kv = await waitFor(() => new Kvm(nc).create('t', { replicas: 3 }).catch(() => null), 30_000, 'a bucket with 3 replicas');
    await kv.put('a', 'one');
    cluster.servers[2]!.kill();
    // The stream may have lost its leader: the write waits for the election.
    await waitFor(() => kv.put('b', 'two').catch(() => null), 30_000, 'a write after the kill');
    assert.equal((await kv.get('a'))?.string(), 'one');
    assert.equal((await kv.get('b'))?.string(), 'two');
  } finally {
    await nc.close();
    await cluster.stop();
  }
});
