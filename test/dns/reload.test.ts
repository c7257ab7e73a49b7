/** Reloads swap zones atomically: no dropped queries, no mixed answers, bad files keep the old data. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildQuery, decode, rcodeOf, udp } from '../support/dns-client.js';
import { servingPorts, startCliServer, tempCopy } from '../support/process.js';
import { fixtureZones, startTestServer } from '../support/test-server.js';

function version(n: number): string {
  // Two records that change together: an answer mixing versions would show it.
  return `$TTL 60
@ IN SOA ns1 hostmaster ${n} 7200 3600 1209600 60
@ IN NS ns1
ns1 IN A 192.0.2.1
pair IN A 10.${n % 250}.0.1
pair IN A 10.${n % 250}.0.2
`;
}

describe('zone reload', () => {
  it('answers every query during 40 reloads, each from one version or the next', async () => {
    const t = tempCopy(fixtureZones);
    const file = path.join(t.dir, 'swap.test.zone');
    fs.writeFileSync(file, version(1));
    const server = await startTestServer(t.dir);
    const sock = dgram.createSocket('udp4');
    const answers = new Map<number, string[]>();
    sock.on('message', (msg) => {
      const d = decode(msg);
      answers.set(d.id, (d.answers ?? []).map((a) => String(a.data)).sort());
    });
    let sent = 0;
    try {
      for (let n = 2; n <= 41; n++) {
        for (let i = 0; i < 25; i++) {
          sock.send(buildQuery('pair.swap.test', 'A', { id: sent++ }), server.port, '127.0.0.1');
        }
        fs.writeFileSync(file, version(n));
        assert.equal(server.reload(false), true);
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(answers.size, sent, `${sent - answers.size} queries unanswered`);
      for (const [id, data] of answers) {
        assert.equal(data.length, 2, `query ${id}`);
        const [a, b] = data.map((d) => d.split('.')[1]);
        assert.equal(a, b, `query ${id} mixed versions: ${data.join(', ')}`);
      }
    } finally {
      sock.close();
      await server.close();
      t.remove();
    }
  });

  it('keeps serving the old data when the new file is bad, and shows the error', async () => {
    const t = tempCopy(fixtureZones);
    const file = path.join(t.dir, 'swap.test.zone');
    fs.writeFileSync(file, version(1));
    const server = await startTestServer(t.dir);
    try {
      fs.writeFileSync(file, version(2) + 'broken IN A not-an-address\n');
      server.reload(false);
      const { msg } = await udp(server.port, 'pair.swap.test', 'A');
      assert.deepEqual(msg.answers?.map((a) => a.data).sort(), ['10.1.0.1', '10.1.0.2']);
      const status = server.zones.statuses.find((s) => s.file === file)!;
      assert.equal(status.zone?.serial, 1);
      assert.ok(
        status.problems.some((p) => p.severity === 'error' && p.line === 7),
        JSON.stringify(status.problems),
      );
    } finally {
      await server.close();
      t.remove();
    }
  });

  it('reloads on SIGHUP and by watching the folder, in the real CLI', async () => {
    const t = tempCopy(fixtureZones);
    const file = path.join(t.dir, 'swap.test.zone');
    fs.writeFileSync(file, version(1));
    const srv = await startCliServer(['--zones', t.dir, '--listen', '127.0.0.1:0', '--log-level', 'info']);
    const port = servingPorts(srv.output()).dns;
    try {
      fs.writeFileSync(file, version(2));
      srv.child.kill('SIGHUP');
      await waitFor(async () => (await udp(port, 'pair.swap.test', 'A')).msg.answers?.[0]?.data?.toString().startsWith('10.2.') ?? false);
      fs.writeFileSync(file, version(3));
      await waitFor(async () => (await udp(port, 'pair.swap.test', 'A')).msg.answers?.[0]?.data?.toString().startsWith('10.3.') ?? false);
      fs.writeFileSync(path.join(t.dir, 'new.test.zone'), version(4));
      await waitFor(async () => (await udp(port, 'pair.new.test', 'A')).msg.answers?.length === 2);
    } finally {
      assert.equal(await srv.stop(), 0);
      t.remove();
    }
  });

  it('starts with a bad zone as Knot does: logs file and line, serves the others, loads the fixed file', async () => {
    const t = tempCopy(fixtureZones);
    const file = path.join(t.dir, 'swap.test.zone');
    fs.writeFileSync(file, version(1) + 'x IN MX notanumber mail\n');
    const srv = await startCliServer(['--zones', t.dir, '--listen', '127.0.0.1:0']);
    const port = servingPorts(srv.output()).dns;
    try {
      assert.ok(srv.output().includes(`${file}:7:`), srv.output());
      assert.equal(rcodeOf((await udp(port, 'pair.swap.test', 'A')).raw), 5, 'the bad zone is REFUSED');
      assert.deepEqual(
        (await udp(port, 'www.rules.test', 'A')).msg.answers.map((a) => a.data),
        ['192.0.2.10'],
        'the other zones are served',
      );
      fs.writeFileSync(file, version(2));
      await waitFor(async () => (await udp(port, 'pair.swap.test', 'A')).msg.answers?.length === 2);
    } finally {
      assert.equal(await srv.stop(), 0);
      t.remove();
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}
