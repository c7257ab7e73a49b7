/**
 * The query log: with sample 1 every query is a JSON line with its fields (UDP and TCP,
 * ECS, a steered decision, errors); with sample 0 nothing is written; a share in between
 * logs about that share; a sink that stops reading costs dropped lines, never answers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, sendTcp, sendUdp } from '../support/dns-client.js';
import { workspace, type Workspace } from '../admin/helpers.js';
import { startConfigured } from './helpers.js';

let ws: Workspace;
before(() => {
  ws = workspace();
});
after(() => ws.remove());

/** Sends `packet` from a socket bound first, so the test knows its port. */
function fromPort(port: number, packet: Buffer): Promise<{ raw: Buffer; clientPort: number }> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1', () => {
      const clientPort = socket.address().port;
      socket.once('message', (raw) => {
        socket.close();
        resolve({ raw, clientPort });
      });
      socket.send(packet, port, '127.0.0.1');
    });
  });
}

const lines = (file: string): Array<Record<string, unknown>> =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

describe('query log', () => {
  it('logs every query with its fields when sample is 1', async () => {
    const file = path.join(ws.root, 'all.jsonl');
    const s = await startConfigured(`dns: { queryLog: { path: "${file}", sample: 1, flushMs: 20 } }\n`, ['127.0.0.1:0'], ws.zones);
    const port = s.ports[0]!;
    const ecs = { code: 8, data: Buffer.from([0, 1, 24, 0, 81, 2, 69]) };
    const { clientPort } = await fromPort(port, buildQuery('fo.adm.test', 'A', { id: 4242, edns: true, dnssecOk: true, options: [ecs] }));
    await sendTcp(port, [buildQuery('nope.adm.test', 'A', { id: 4343 })]);
    const formerr = buildQuery('www.adm.test', 'A', { id: 4444 });
    formerr.writeUInt16BE(0, 4); // QDCOUNT 0
    await sendUdp(port, formerr);
    await s.stop();

    const got = lines(file);
    assert.equal(got.length, 3);
    const [steered, nx, bad] = got as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.ok(!Number.isNaN(Date.parse(String(steered.time))));
    assert.equal(steered.client, '127.0.0.1');
    assert.equal(steered.port, clientPort);
    assert.equal(steered.transport, 'udp');
    assert.equal(steered.id, 4242);
    assert.equal(steered.qname, 'fo.adm.test.');
    assert.equal(steered.qtype, 'A');
    assert.equal(steered.rcode, 'NOERROR');
    assert.equal(steered.answers, 1);
    assert.match(String(steered.flags), /\baa\b.*\brd\b.*\bdo\b/);
    assert.equal(steered.ecs, '81.2.69.0/24');
    assert.deepEqual(steered.steered, { outcome: 'answer', targets: ['primary'], regions: ['one'], scope: 0 });
    assert.equal(steered.rrl, 'pass');
    assert.equal(typeof steered.latencyUs, 'number');
    assert.equal(nx.transport, 'tcp');
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.equal(nx.steered, null);
    assert.equal(bad.rcode, 'FORMERR');
    assert.equal(bad.qname, null);
  });

  it('writes nothing when sample is 0, and about the share asked otherwise', async () => {
    const none = path.join(ws.root, 'none.jsonl');
    const half = path.join(ws.root, 'half.jsonl');
    const [s0, s5] = await Promise.all([
      startConfigured(`dns: { queryLog: { path: "${none}", sample: 0, flushMs: 20 } }\n`, ['127.0.0.1:0'], ws.zones),
      startConfigured(`dns: { queryLog: { path: "${half}", sample: 0.5, flushMs: 20 } }\n`, ['127.0.0.1:0'], ws.zones),
    ]);
    const packets = Array.from({ length: 200 }, (_, i) => buildQuery('www.adm.test', 'A', { id: i }));
    await sendTcp(s0.ports[0]!, packets, '127.0.0.1', 10_000);
    await sendTcp(s5.ports[0]!, [...packets, ...packets], '127.0.0.1', 10_000);
    await Promise.all([s0.stop(), s5.stop()]);
    assert.equal(lines(none).length, 0);
    const n = lines(half).length;
    // Binomial(400, 0.5): mean 200, standard deviation 10.
    assert.ok(n >= 140 && n <= 260, `${n} of 400 logged at sample 0.5`);
  });

  it('a sink that stops reading costs dropped lines, never answers, unbounded memory or a stuck shutdown', async () => {
    const fifo = path.join(ws.root, 'stuck.fifo');
    execFileSync('mkfifo', [fifo]);
    // A reader that never reads: the pipe fills (64 KiB) and the writer's write blocks.
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const s = await startConfigured(`dns: { queryLog: { path: "${fifo}", sample: 1, maxPending: 100, flushMs: 5 } }\n`, ['127.0.0.1:0'], ws.zones);
    const log = s.server.responder.protection.queryLog!;
    let answered = 0;
    for (let round = 0; round < 10; round++) {
      const packets = Array.from({ length: 200 }, (_, i) => buildQuery('www.adm.test', 'A', { id: i }));
      answered += (await sendTcp(s.ports[0]!, packets, '127.0.0.1', 10_000)).length;
    }
    assert.equal(answered, 2000, 'every query answered');
    assert.ok(log.dropped > 0, `dropped ${log.dropped}, written ${log.written}`);
    // What is neither written nor dropped is queued, and the queue holds maxPending lines at most.
    assert.ok(log.written + log.dropped >= 2000 - 100, `written ${log.written} + dropped ${log.dropped}`);
    // The sink still takes nothing: stopping gives up on its lines rather than wait for it.
    const stopping = Date.now();
    await s.stop();
    assert.ok(Date.now() - stopping < 10_000, `stopped in ${Date.now() - stopping} ms`);
    fs.closeSync(reader); // the blocked write now fails (EPIPE) and its thread is free
  });

  it('hostile queries each make one parseable line: odd octets in a label, a 1-octet packet, a malformed ECS', async () => {
    const file = path.join(ws.root, 'hostile.jsonl');
    const s = await startConfigured(`dns: { queryLog: { path: "${file}", sample: 1, flushMs: 20 } }\n`, ['127.0.0.1:0'], ws.zones);
    const port = s.ports[0]!;
    // A label holding a quote, a newline, a backslash, a dot and a NUL: must not split or break the JSON line.
    const odd = buildQuery('xxxxx.adm.test', 'A', { id: 5151 });
    odd.set(Buffer.from('"\n\\.\0', 'latin1'), 13);
    await sendUdp(port, odd);
    // One octet: dropped without an answer, still logged.
    const junk = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => junk.send(Buffer.from([0x42]), port, '127.0.0.1', () => resolve()));
    junk.close();
    await sendUdp(port, buildQuery('fo.adm.test', 'A', { id: 5252, edns: true, options: [{ code: 8, data: Buffer.from([0, 1, 99]) }] }));
    await s.stop();

    const got = lines(file);
    assert.equal(got.length, 3);
    const [label, dropped, ecs] = got as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.equal(label.id, 5151);
    assert.match(String(label.qname), /\.adm\.test\.$/);
    assert.ok(!String(label.qname).startsWith('xxxxx'));
    assert.equal(dropped.id, null);
    assert.equal(dropped.rcode, null);
    assert.equal(dropped.qname, null);
    assert.equal(ecs.id, 5252);
    assert.equal(ecs.rcode, 'FORMERR');
    assert.equal(ecs.ecs, 'malformed');
  });

  it('a path that cannot be opened stops start-up naming the field', async () => {
    await assert.rejects(startConfigured(`dns: { queryLog: { path: "${path.join(ws.root, 'no/such/dir/q.jsonl')}" } }\n`, ['127.0.0.1:0'], ws.zones), /dns\.queryLog\.path/);
  });
});
