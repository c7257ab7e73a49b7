/**
 * `serve --workers 2` with dns.reusePort (issue #17, item 2): each worker binds its own UDP
 * socket and TCP listener in the port's SO_REUSEPORT group, and the kernel spreads queries
 * over them. Seen from outside with `ss -p` (which process holds which socket) and with the
 * per-worker counter /metrics keeps apart (meridian_dns_worker_messages_total{worker}).
 * Port 0 gives both workers the one port the primary picked; a killed worker's replacement
 * binds it again; a second meridian on the port is refused. With dns.reusePort off, cluster's
 * shared sockets still serve.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, sendTcp, sendUdp } from '../support/dns-client.js';
import { cliPath, servingPortsWithApi, untilServing } from '../support/process.js';
import { childrenOf, eventually, socketsOn, workerMessages } from '../support/workers.js';
import { call, childEnv, RW_TOKEN, runMeridian, startMeridian, workspace, type Meridian, type Workspace } from '../admin/helpers.js';
import { resolveReusePort } from '../../src/server/reuse-port.js';

const skip = process.platform === 'linux' ? false : 'SO_REUSEPORT spreads queries on Linux only';
const aOf = (raw: Buffer): string[] =>
  decode(raw)
    .answers.filter((a) => a.type === 'A')
    .map((a) => String(a.data))
    .sort();

/** 120 UDP queries, each from a socket of its own (so a port of its own), and 16 TCP connections of 4; all must be answered right. */
async function queryMany(port: number, host = '127.0.0.1'): Promise<void> {
  const udpAll = Array.from({ length: 120 }, async (_, i) => {
    const raw = await sendUdp(port, buildQuery('www.adm.test', 'A', { id: i }), host, 5000);
    assert.equal(raw.readUInt16BE(0), i);
    assert.deepEqual(aOf(raw), ['192.0.2.80']);
  });
  const tcpAll = Array.from({ length: 16 }, async (_, c) => {
    const raws = await sendTcp(
      port,
      Array.from({ length: 4 }, (_, i) => buildQuery('www.adm.test', 'A', { id: c * 10 + i })),
      host,
      10_000,
    );
    for (const raw of raws) assert.deepEqual(aOf(raw), ['192.0.2.80']);
  });
  await Promise.all([...udpAll, ...tcpAll]);
}

async function scrape(api: number): Promise<Map<string, number>> {
  const r = await call({ api }, 'GET', '/metrics');
  assert.equal(r.status, 200, r.text);
  return workerMessages(r.text);
}

/** The "meridian is serving" log line. */
function servingLine(output: string): { listen: Array<{ host: string; port: number }>; workers: number[]; reusePort: boolean } {
  return JSON.parse(output.split('\n').find((l) => l.includes('meridian is serving'))!);
}

describe('serve --workers 2 with dns.reusePort (the default on Linux), on port 0', { skip }, () => {
  let ws: Workspace;
  let child: ChildProcess;
  let exited: Promise<void>;
  let output: () => string;
  let api: number;
  let port4: number;
  let port6: number;
  let workers: number[];
  before(async () => {
    ws = workspace();
    child = spawn(
      process.execPath,
      [cliPath, 'serve', '--config', ws.config, '--zones', ws.zones, '--listen', '127.0.0.1:0', '--listen', '[::1]:0', '--admin', '127.0.0.1:0', '--workers', '2', '--log-level', 'info'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: childEnv({ MERIDIAN_ADMIN_TOKEN: RW_TOKEN }),
        cwd: ws.root,
      },
    );
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    output = await untilServing(child, 30_000);
    api = servingPortsWithApi(output()).api;
    const serving = servingLine(output());
    [port4, port6] = serving.listen.map((a) => a.port) as [number, number];
    workers = serving.workers;
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    ws?.remove();
  });

  it('each worker binds its own UDP socket and TCP listener on the one port picked for 0; the primary holds none', () => {
    assert.equal(servingLine(output()).reusePort, true);
    assert.ok(port4 > 0 && port6 > 0, output());
    for (const [host, port] of [
      ['127.0.0.1', port4],
      ['::1', port6],
    ] as const) {
      for (const transport of ['udp', 'tcp'] as const) {
        const sockets = socketsOn(transport, host, port);
        // Before: one socket, held by the primary (and, for UDP, shared with both workers).
        assert.deepEqual(
          sockets,
          [...workers].sort((a, b) => a - b).map((pid) => [pid]),
          `${transport} on ${host}:${port}`,
        );
      }
    }
  });

  it('UDP and TCP queries are answered and spread over both workers', async () => {
    await queryMany(port4);
    await queryMany(port6, '::1');
    const counts = await scrape(api);
    for (const key of ['0/udp', '1/udp', '0/tcp', '1/tcp']) assert.ok((counts.get(key) ?? 0) > 0, `worker ${key}: ${JSON.stringify([...counts])}`);
    assert.ok(counts.get('0/udp')! + counts.get('1/udp')! >= 240);
    assert.ok(counts.get('0/tcp')! + counts.get('1/tcp')! >= 128);
  });

  it('a second meridian on the same address is refused, not let into the group to take a share', async () => {
    const r = await runMeridian(['serve', '--zones', ws.zones, '--listen', `127.0.0.1:${port4}`, '--admin', 'off', '--workers', '2'], {}, 30_000);
    assert.notEqual(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, new RegExp(`cannot pick a port for 127\\.0\\.0\\.1:${port4}: EADDRINUSE: the port is in use already`));
    // Before, its workers joined the group and the first one's sockets were 2 of 4.
    assert.deepEqual(
      socketsOn('udp', '127.0.0.1', port4),
      [...workers].sort((a, b) => a - b).map((pid) => [pid]),
    );
    await queryMany(port4);
  });

  it('a killed worker is replaced in its slot; the replacement binds the port again and takes its share', async () => {
    const victim = workers[0]!;
    process.kill(victim, 'SIGKILL');
    await eventually(
      'a replacement worker',
      async () => {
        const now = childrenOf(child.pid!);
        return now.length === 2 && !now.includes(victim);
      },
      15_000,
    );
    workers = childrenOf(child.pid!).sort((a, b) => a - b);
    await eventually(
      'the replacement holds its own sockets',
      async () => {
        const want = JSON.stringify(workers.map((pid) => [pid]));
        return JSON.stringify(socketsOn('udp', '127.0.0.1', port4)) === want && JSON.stringify(socketsOn('tcp', '127.0.0.1', port4)) === want;
      },
      15_000,
    );
    const before = await scrape(api);
    await queryMany(port4);
    const later = await scrape(api);
    // The replacement counts from zero; either way each slot read more than before.
    for (const key of ['0/udp', '1/udp', '0/tcp', '1/tcp']) assert.ok((later.get(key) ?? 0) > (before.get(key) ?? 0), `worker ${key}: ${JSON.stringify([...before])} → ${JSON.stringify([...later])}`);
  });
});

describe('serve --workers 2 with dns.reusePort: off (cluster shares the sockets)', () => {
  let ws: Workspace;
  let m: Meridian;
  before(async () => {
    ws = workspace('health: { stateFile: null }\nzones: { watch: false }\ndns: { reusePort: off }\n');
    m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2', MERIDIAN_ADMIN_TOKEN: RW_TOKEN }, startTimeoutMs: 30_000 });
  });
  after(async () => {
    await m?.kill();
    ws?.remove();
  });

  it('one UDP socket read by both workers, one TCP listener in the primary; both answer', async () => {
    const serving = servingLine(m.output());
    assert.equal(serving.reusePort, false);
    const primary = m.child.pid!;
    if (process.platform === 'linux') {
      assert.deepEqual(socketsOn('udp', '127.0.0.1', m.dns), [[primary, ...serving.workers].sort((a, b) => a - b)]);
      assert.deepEqual(socketsOn('tcp', '127.0.0.1', m.dns), [[primary]]);
    }
    await queryMany(m.dns);
    const counts = await scrape(m.api);
    // cluster hands connections out round robin; UDP goes to whichever worker the kernel wakes.
    for (const key of ['0/tcp', '1/tcp']) assert.ok((counts.get(key) ?? 0) > 0, `worker ${key}: ${JSON.stringify([...counts])}`);
    assert.ok(counts.get('0/udp')! + counts.get('1/udp')! >= 120);
  });
});

describe('dns.reusePort: on where it cannot work', () => {
  it('is refused, naming the field; auto falls back to the shared sockets', () => {
    assert.throws(
      () => resolveReusePort('on', 2, 'the kernel of darwin does not spread queries'),
      (err: Error & { code?: string }) => err.code === 'GSLB_ERR_CONFIG_INVALID' && err.message.includes('dns.reusePort: "on" but the kernel of darwin'),
    );
    assert.equal(resolveReusePort('auto', 2, 'the kernel of darwin does not spread queries'), false);
    assert.equal(resolveReusePort('on', 1, 'the kernel of darwin does not spread queries'), false);
  });
});
