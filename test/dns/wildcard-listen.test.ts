/**
 * A wildcard listen address as one socket per interface address (issue #14, item 2), on
 * loopback only: the interface list is given to the server, and every 127.0.0.0/8 address is
 * local on Linux, so several can be bound without root. wildcard-netns.test.ts runs the real
 * interfaces in a namespace.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { DnsServer, type DnsServerOptions } from '../../src/server/dns-server.js';
import { interfaceAddresses, type InterfaceTable } from '../../src/server/interface-addresses.js';
import { parseListenAddress } from '../../src/net/listen-address.js';
import { buildQuery, sendTcp } from '../support/dns-client.js';
import { nativeUdpOrSkip } from '../support/native-udp.js';
import { freePort } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const info = (address: string, family: 'IPv4' | 'IPv6'): os.NetworkInterfaceInfo =>
  ({
    address,
    family,
    netmask: family === 'IPv4' ? '255.0.0.0' : 'ffff:ffff:ffff:ffff::',
    mac: '00:00:00:00:00:00',
    internal: true,
    cidr: null,
    ...(family === 'IPv6' && { scopeid: 0 }),
  }) as os.NetworkInterfaceInfo;

const loopbacks = (...v4: string[]): InterfaceTable => ({ lo: [...v4.map((a) => info(a, 'IPv4')), info('::1', 'IPv6'), info('fe80::1', 'IPv6')] });

/** Asks `server` from 127.0.0.1 on an unconnected socket; resolves with where the answer came from. */
function askFrom127(server: string, port: number): Promise<{ from: string; answer: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no answer from ${server}`));
    }, 2000);
    s.on('message', (answer, rinfo) => {
      clearTimeout(timer);
      s.close();
      resolve({ from: rinfo.address, answer });
    });
    s.bind(0, server.includes(':') ? '::1' : '127.0.0.1', () => s.send(buildQuery('www.rules.test', 'A'), port, server));
  });
}

/** A connected UDP socket sees the ICMP port unreachable a closed address gives (ECONNREFUSED). */
function refused(server: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const done = (v: boolean): void => {
      clearTimeout(timer);
      s.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), 2000);
    s.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
    s.on('message', () => done(false));
    s.connect(port, server, () => s.send(buildQuery('www.rules.test', 'A')));
  });
}

describe('interfaceAddresses', () => {
  it('lists each address of the family once, sorted, without IPv6 link-local', () => {
    const table: InterfaceTable = {
      lo: [info('127.0.0.1', 'IPv4'), info('::1', 'IPv6')],
      eth0: [info('192.0.2.7', 'IPv4'), info('fe80::2', 'IPv6'), info('FEBF::9', 'IPv6'), info('2001:db8::7', 'IPv6')],
      eth1: [info('192.0.2.7', 'IPv4')],
      down: undefined,
    };
    assert.deepEqual(interfaceAddresses(4, table), ['127.0.0.1', '192.0.2.7']);
    assert.deepEqual(interfaceAddresses(6, table), ['2001:db8::7', '::1']);
  });
});

describe('the config of the interface scan and the TCP limits', () => {
  const withConfig =
    (yaml: string): (() => unknown) =>
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdn-scan-'));
      try {
        fs.writeFileSync(path.join(dir, 'm.yaml'), yaml);
        return loadConfig(path.join(dir, 'm.yaml'), {}, {});
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    };
  it('takes 0 or 100 ms and up; a small number, likely meant as seconds, is refused with file, line and field', () => {
    assert.equal((withConfig('dns:\n  interfaceScanMs: 0\n')() as { dns: { interfaceScanMs: number } }).dns.interfaceScanMs, 0);
    assert.throws(withConfig('log: { level: info }\ndns:\n  interfaceScanMs: 60\n'), /m\.yaml:3: dns\.interfaceScanMs: 60 is in milliseconds/);
    assert.throws(withConfig('dns:\n  tcp:\n    maxConnectionsPerClient: 0\n'), /m\.yaml:3: dns\.tcp\.maxConnectionsPerClient/);
  });
});

// On both UDP layers (issue #19): the native one where it is built, and node:dgram.
const { skip: nativeSkip } = nativeUdpOrSkip();
for (const udpSocket of ['native', 'dgram'] as const)
  describe(`a wildcard listen address (${udpSocket} UDP)`, { skip: udpSocket === 'native' ? nativeSkip : false }, () => {
    let base: TestServer;
    let table: InterfaceTable;
    const servers: DnsServer[] = [];
    const make = (extra: Partial<DnsServerOptions> = {}): DnsServer => {
      const s = new DnsServer(
        base.responder,
        {
          tcp: { idleTimeoutMs: 2000, messageTimeoutMs: 2000, maxConnections: 100, maxConnectionsPerClient: 16, maxPendingOutputBytes: 65536 },
          interfaceScanMs: 0,
          interfaces: () => table,
          udpSocket,
          ...extra,
        },
        pino({ level: 'silent' }),
      );
      servers.push(s);
      return s;
    };
    before(async () => {
      base = await startTestServer();
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
      await base.close();
    });

    it('binds each interface address on one port and answers from the address asked', async () => {
      table = loopbacks('127.0.0.1', '127.0.0.2');
      const server = make();
      const [v4, v6] = await server.listen([parseListenAddress('0.0.0.0:0'), parseListenAddress('[::]:0')]);
      assert.equal(v4!.host, '0.0.0.0');
      const listed = server.endpoints.map((e) => `${e.host} ${e.port}`).sort();
      assert.deepEqual(listed, [`127.0.0.1 ${v4!.port}`, `127.0.0.2 ${v4!.port}`, `::1 ${v6!.port}`].sort());
      for (const host of ['127.0.0.1', '127.0.0.2']) {
        const got = await askFrom127(host, v4!.port);
        assert.equal(got.from, host, `the answer to ${host} comes from ${host}`);
        assert.equal(got.answer.readUInt16BE(6), 1);
      }
      assert.equal((await askFrom127('::1', v6!.port)).from, '::1');
      const [overTcp] = await sendTcp(v4!.port, [buildQuery('www.rules.test', 'A')], '127.0.0.2');
      assert.equal(overTcp!.readUInt16BE(6), 1);
    });

    it('binds addresses that appear and closes those that go, on rescan and on its timer', async () => {
      table = loopbacks('127.0.0.1', '127.0.0.2');
      const server = make({ interfaceScanMs: 100 });
      const [v4] = await server.listen([parseListenAddress('0.0.0.0:0')]);
      const port = v4!.port;
      assert.equal((await askFrom127('127.0.0.2', port)).from, '127.0.0.2');
      const before = server.udpCounters();
      table = loopbacks('127.0.0.1', '127.0.0.3');
      await server.rescan();
      if (udpSocket === 'native') assert.ok(server.udpCounters()!.received >= before!.received, 'what a closed socket counted is kept');
      assert.deepEqual(server.endpoints.map((e) => e.host).sort(), ['127.0.0.1', '127.0.0.3']);
      assert.equal((await askFrom127('127.0.0.3', port)).from, '127.0.0.3');
      assert.ok(await refused('127.0.0.2', port), 'the address that went is closed (port unreachable), not answered from elsewhere');
      table = loopbacks('127.0.0.1', '127.0.0.3', '127.0.0.4');
      const end = Date.now() + 5000;
      while (!server.endpoints.some((e) => e.host === '127.0.0.4') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal((await askFrom127('127.0.0.4', port)).from, '127.0.0.4', 'the periodic scan found it');
    });

    it('leaves an address named on its own to its own entry, on the same port', async () => {
      table = loopbacks('127.0.0.1', '127.0.0.2');
      const port = await freePort();
      const server = make();
      const bound = await server.listen([parseListenAddress(`0.0.0.0:${port}`), parseListenAddress(`127.0.0.2:${port}`)]);
      assert.deepEqual(bound, [
        { host: '0.0.0.0', port },
        { host: '127.0.0.2', port },
      ]);
      assert.deepEqual(server.endpoints.map((e) => e.host).sort(), ['127.0.0.1', '127.0.0.2']);
      assert.equal((await askFrom127('127.0.0.2', port)).from, '127.0.0.2');
    });

    it('says why when the interfaces cannot be read, and a scan that cannot read them keeps every socket', async () => {
      // What os.networkInterfaces() throws when a sandbox forbids netlink sockets.
      const unreadable = (): InterfaceTable => {
        throw new Error('A system error occurred: uv_interface_addresses returned Unknown system error 97');
      };
      const refused = make({ interfaces: unreadable });
      await assert.rejects(refused.listen([parseListenAddress('0.0.0.0:0')]), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'GSLB_ERR_LISTEN_FAILED');
        assert.match(err.message, /^cannot listen on 0\.0\.0\.0:0: cannot read the interface addresses \(.*error 97\).*AF_NETLINK/);
        return true;
      });
      let readable = true;
      table = loopbacks('127.0.0.1', '127.0.0.2');
      const server = make({ interfaces: () => (readable ? table : unreadable()) });
      const [v4] = await server.listen([parseListenAddress('0.0.0.0:0')]);
      readable = false;
      await server.rescan();
      assert.deepEqual(server.endpoints.map((e) => e.host).sort(), ['127.0.0.1', '127.0.0.2']);
      assert.equal((await askFrom127('127.0.0.2', v4!.port)).from, '127.0.0.2');
    });

    it('coexists with another daemon on an address it does not list, on the same port (a stub resolver on 127.0.0.53)', async () => {
      table = loopbacks('127.0.0.1');
      // The port picked on 127.0.0.53 may be held on 127.0.0.1 by another test's socket (both
      // from the ephemeral range): only that case is tried again, on another port.
      for (let attempt = 1; ; attempt++) {
        const other = make();
        const [stub] = await other.listen([parseListenAddress('127.0.0.53:0')]);
        const server = make();
        try {
          await server.listen([parseListenAddress(`0.0.0.0:${stub!.port}`)]);
        } catch (err) {
          if (attempt < 5 && /EADDRINUSE[^\n]*127\.0\.0\.1:/.test((err as Error).message)) continue;
          throw err;
        }
        assert.equal((await askFrom127('127.0.0.1', stub!.port)).from, '127.0.0.1');
        return;
      }
    });

    it('refuses to start when no address can be bound, naming them', async () => {
      table = loopbacks('127.0.0.1');
      const holder = make();
      const [held] = await holder.listen([parseListenAddress('127.0.0.1:0')]);
      const server = make();
      await assert.rejects(server.listen([parseListenAddress(`0.0.0.0:${held!.port}`)]), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'GSLB_ERR_LISTEN_FAILED');
        assert.match(err.message, new RegExp(`0\\.0\\.0\\.0:${held!.port}.*127\\.0\\.0\\.1: .*EADDRINUSE`));
        return true;
      });
    });
  });
