/**
 * `--listen 0.0.0.0:53` / `[::]:53` on a machine with several addresses (issue #14, item 2):
 * every answer must leave from the address the query was sent to, or resolvers drop it.
 * Runs `meridian serve` in a network namespace of its own with two interfaces (a veth pair)
 * and extra loopback addresses, and asks with dig from a different local address than the
 * one asked, so a reply routed from the "natural" source is caught (dig refuses a reply from
 * an unexpected source). Addresses added or removed while it runs are picked up by the
 * periodic scan, and by SIGHUP with --workers.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNetNs, netnsUnavailable, type NetNs } from '../support/netns.js';
import { cliPath, untilServing } from '../support/process.js';
import { fixtureZones } from '../support/test-server.js';

const skip = netnsUnavailable();
const PORT = '5300';
const ANSWER = '192.0.2.10'; // www.rules.test A in the fixture zones

interface Served {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `meridian serve` on both wildcards inside `ns`, once it says it is serving. */
async function serve(ns: NetNs, configFile: string, extra: string[] = [], port = PORT): Promise<Served> {
  const child = ns.spawn(process.execPath, [
    cliPath,
    'serve',
    '--config',
    configFile,
    '--zones',
    fixtureZones,
    '--listen',
    `0.0.0.0:${port}`,
    '--listen',
    `[::]:${port}`,
    '--admin',
    'off',
    '--log-level',
    'info',
    ...extra,
  ]);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const output = await untilServing(child, 20_000);
  return {
    child,
    output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** dig from `source` to `server`: the A record, or dig's complaint (a reply from the wrong source is one). */
async function ask(ns: NetNs, server: string, source: string, tcp = false, port = PORT): Promise<string> {
  const r = await ns.exec('dig', [`@${server}`, '-p', port, '-b', source, 'www.rules.test', 'A', '+short', '+tries=2', '+time=2', ...(tcp ? ['+tcp'] : [])]);
  return r.stdout.trim().replace(/\s+/g, ' ');
}

/** Polls until `server` answers (an address the scan has to find first). */
async function eventuallyAnswers(ns: NetNs, server: string, source: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    last = await ask(ns, server, source);
    if (last === ANSWER) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${server} not answered within ${ms} ms: ${last}`);
}

/** [asked, asked from]: each pair two different local addresses. */
const PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['127.0.0.2', '127.0.0.1'],
  ['127.0.0.1', '127.0.0.2'],
  ['10.9.0.2', '10.9.0.1'],
  ['10.9.1.1', '10.9.0.1'],
  ['fd00:9::2', 'fd00:9::1'],
  ['fd00:9:1::1', 'fd00:9::2'],
  ['::1', '::1'],
];

describe('wildcard listen addresses in a namespace with two interfaces', { skip: skip ?? false }, () => {
  let ns: NetNs;
  let dir: string;
  before(async () => {
    ns = await createNetNs('mdn-wild');
    await ns.ip('addr', 'add', '127.0.0.2/8', 'dev', 'lo');
    await ns.ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    for (const dev of ['v0', 'v1']) await ns.ip('link', 'set', dev, 'up');
    for (const a of ['10.9.0.1/24', '10.9.0.2/24']) await ns.ip('addr', 'add', a, 'dev', 'v0');
    await ns.ip('addr', 'add', '10.9.1.1/24', 'dev', 'v1');
    // nodad: usable at once, without waiting out duplicate address detection.
    for (const a of ['fd00:9::1/64', 'fd00:9::2/64']) await ns.ip('addr', 'add', a, 'dev', 'v0', 'nodad');
    await ns.ip('addr', 'add', 'fd00:9:1::1/64', 'dev', 'v1', 'nodad');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdn-wild-'));
    const common = 'geoip: { location: null }\nhealth: { stateFile: null }\nzones: { watch: false }\n';
    fs.writeFileSync(path.join(dir, 'scan.yaml'), `dns: { interfaceScanMs: 300 }\n${common}`);
    fs.writeFileSync(path.join(dir, 'hup.yaml'), `dns: { interfaceScanMs: 0 }\n${common}`);
  });
  after(async () => {
    await ns?.remove();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers each address, IPv4 and IPv6, from that address; follows the interfaces by itself', async () => {
    const m = await serve(ns, path.join(dir, 'scan.yaml'));
    try {
      for (const [server, source] of PAIRS) assert.equal(await ask(ns, server, source), ANSWER, `UDP to ${server} from ${source}`);
      assert.equal(await ask(ns, '10.9.1.1', '10.9.0.2', true), ANSWER, 'TCP');
      assert.equal(await ask(ns, 'fd00:9::2', 'fd00:9:1::1', true), ANSWER, 'TCP over IPv6');

      await ns.ip('addr', 'add', '10.9.1.2/24', 'dev', 'v1');
      await ns.ip('addr', 'add', 'fd00:9:1::2/64', 'dev', 'v1', 'nodad');
      await ns.ip('addr', 'del', '10.9.0.2/24', 'dev', 'v0');
      // With duplicate address detection: listed at once, but cannot be bound for a second or so.
      await ns.ip('addr', 'add', 'fd00:9:1::3/64', 'dev', 'v1');
      await eventuallyAnswers(ns, '10.9.1.2', '10.9.1.1');
      await eventuallyAnswers(ns, 'fd00:9:1::2', 'fd00:9::1');
      await eventuallyAnswers(ns, 'fd00:9:1::3', 'fd00:9::1');
      await waitFor(() => m.output().includes('"address":"10.9.0.2:5300","msg":"address left the interfaces'), 'the removed address closed');
      const sockets = await ns.exec('ss', ['-Hulnt', `sport = :${PORT}`]);
      assert.ok(!sockets.stdout.includes('10.9.0.2:'), `no socket left on the removed address:\n${sockets.stdout}`);
      assert.ok(!/(^|\s)(0\.0\.0\.0|\*|\[::\]):5300/m.test(sockets.stdout), `no wildcard socket:\n${sockets.stdout}`);
    } finally {
      await m.stop();
      await ns.ip('addr', 'replace', '10.9.0.2/24', 'dev', 'v0');
    }
  });

  it('with --workers 2, every worker serves each address; SIGHUP re-reads the interfaces', async () => {
    const m = await serve(ns, path.join(dir, 'hup.yaml'), ['--workers', '2']);
    try {
      // Several rounds, so both workers (the kernel wakes either) answer each address.
      for (let round = 0; round < 3; round++) {
        for (const [server, source] of PAIRS) assert.equal(await ask(ns, server, source), ANSWER, `UDP to ${server} from ${source}`);
        assert.equal(await ask(ns, '10.9.1.1', '127.0.0.1', true), ANSWER, 'TCP');
      }
      await ns.ip('addr', 'add', '10.9.1.3/24', 'dev', 'v1');
      m.child.kill('SIGHUP');
      await eventuallyAnswers(ns, '10.9.1.3', '10.9.0.1');
      for (let round = 0; round < 4; round++) assert.equal(await ask(ns, '10.9.1.3', '10.9.0.1'), ANSWER);
    } finally {
      await m.stop();
    }
  });

  it('with --workers 2 and port 0 (dns.reusePort): both workers bind each address on the one port picked', async () => {
    const m = await serve(ns, path.join(dir, 'hup.yaml'), ['--workers', '2'], '0');
    try {
      const serving = JSON.parse(
        m
          .output()
          .split('\n')
          .find((l) => l.includes('meridian is serving'))!,
      );
      const [port4, port6] = serving.listen.map((a: { port: number }) => String(a.port));
      assert.ok(Number(port4) > 0 && Number(port6) > 0, m.output());
      for (const [server, source] of PAIRS) assert.equal(await ask(ns, server, source, false, server.includes(':') ? port6 : port4), ANSWER, `UDP to ${server} from ${source}`);
      assert.equal(await ask(ns, '10.9.1.1', '127.0.0.1', true, port4), ANSWER, 'TCP');
      // Two sockets per address and transport, one in each worker (ss -p: one holder each).
      const udp = (await ns.exec('ss', ['-Hulnp', `sport = :${port4}`])).stdout;
      for (const host of ['127.0.0.1', '127.0.0.2', '10.9.0.1', '10.9.1.1']) {
        const lines = udp.split('\n').filter((l) => l.includes(` ${host}:${port4} `));
        assert.equal(lines.length, 2, `UDP sockets on ${host}:${port4}:\n${udp}`);
        for (const l of lines) assert.equal([...l.matchAll(/pid=/g)].length, 1, l);
      }
    } finally {
      await m.stop();
    }
  });
});

async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
