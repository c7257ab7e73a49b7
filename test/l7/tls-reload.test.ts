/** The listener's TLS certificate reloaded (reload(), SIGHUP, --workers) without dropping open connections. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { TestPki, type Issued } from './pki.js';
import { pool, startBackend, startBalanceCli, startBalancer, waitFor, type TestBackend } from './helpers.js';

/** GET over `agent` (or a fresh connection); resolves with the body, the serial of the certificate served and the socket. */
function get(port: number, ca: Buffer, agent: https.Agent | false): Promise<{ body: string; serial: string; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/', ca, agent, servername: 'localhost' }, (res) => {
        const socket = res.socket as TLSSocket;
        const serial = socket.getPeerCertificate().serialNumber;
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ body, serial, socket }));
      })
      .on('error', reject);
  });
}

describe('TLS certificate reload', () => {
  const pki = new TestPki();
  let ca: Issued;
  let first: Issued & { serial: string };
  let second: Issued & { serial: string };
  let caPem: Buffer;
  let backend: TestBackend;
  before(async () => {
    ca = pki.ca('ca');
    caPem = fs.readFileSync(ca.cert);
    first = pki.issue(ca, 'first', ['localhost', '127.0.0.1']);
    second = pki.issue(ca, 'second', ['localhost', '127.0.0.1']);
    backend = await startBackend('a');
  });
  after(async () => {
    await backend.close();
    pki.remove();
  });

  /** The live pair the listener reads, as an operator's renewal rewrites it. */
  const install = (dir: string, pair: Issued): void => {
    fs.copyFileSync(pair.cert, path.join(dir, 'live.pem'));
    fs.copyFileSync(pair.key, path.join(dir, 'live.key'));
  };

  it('a reload installs the new certificate for new handshakes; an open keep-alive connection keeps going; a broken file keeps the old one', async () => {
    const dir = fs.mkdtempSync(path.join(pki.dir, 'live-'));
    install(dir, first);
    const lb = await startBalancer({ tls: { cert: path.join(dir, 'live.pem'), key: path.join(dir, 'live.key') }, pools: { default: pool([backend]) } });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const port = lb.balancer.address.port;
      const before = await get(port, caPem, agent);
      assert.equal(before.serial, first.serial);

      install(dir, second);
      assert.deepEqual(await lb.balancer.reload(), { ok: true });
      const kept = await get(port, caPem, agent);
      assert.equal(kept.socket, before.socket, 'the same connection');
      assert.equal(kept.body, 'a');
      assert.equal(kept.serial, first.serial, 'an open connection keeps its certificate');
      assert.equal((await get(port, caPem, false)).serial, second.serial, 'a new handshake gets the new certificate');

      fs.writeFileSync(path.join(dir, 'live.pem'), 'half-written');
      const bad = await lb.balancer.reload();
      assert.equal(bad.ok, false);
      assert.match(!bad.ok ? bad.errors.join('\n') : '', new RegExp(`tls: ${path.join(dir, 'live.pem').replace(/\./g, '\\.')} and .*live\\.key do not load`));
      assert.equal((await get(port, caPem, false)).serial, second.serial, 'the last good certificate keeps serving');
      fs.rmSync(path.join(dir, 'live.key'));
      const gone = await lb.balancer.reload();
      assert.match(!gone.ok ? gone.errors.join('\n') : '', /tls\.key: cannot read .*live\.key: ENOENT/);
      assert.equal((await get(port, caPem, agent)).socket, before.socket, 'still the first connection');
    } finally {
      agent.destroy();
      await lb.close();
    }
  });

  it('with --workers 2, SIGHUP to the primary makes every worker take the new certificate', async () => {
    const dir = fs.mkdtempSync(path.join(pki.dir, 'workers-'));
    install(dir, first);
    const file = path.join(dir, 'lb.json');
    const listen = '127.0.0.1:0';
    fs.writeFileSync(file, JSON.stringify({ listen, admin: { listen: '127.0.0.1:0' }, tls: { cert: 'live.pem', key: 'live.key' }, pools: { default: pool([backend]) } }));
    const lb = await startBalanceCli(file, ['--workers', '2']);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const port = Number(new URL(lb.url).port);
      const open = await get(port, caPem, agent);
      assert.equal(open.serial, first.serial);
      install(dir, second);
      lb.child.kill('SIGHUP');
      // Fresh connections go to either worker; six in a row with the new serial means both reloaded.
      let streak = 0;
      await waitFor(
        async () => {
          streak = (await get(port, caPem, false)).serial === second.serial ? streak + 1 : 0;
          return streak >= 6;
        },
        15_000,
        'both workers serving the new certificate',
      );
      const again = await get(port, caPem, agent);
      assert.equal(again.socket, open.socket, 'the open connection was not dropped');
      assert.equal(again.serial, first.serial);
    } finally {
      agent.destroy();
      await lb.stop();
    }
  });
});
