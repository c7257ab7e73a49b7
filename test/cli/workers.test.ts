/**
 * `meridian serve --workers 2` (issue #7): the CLI on ephemeral ports, two DNS workers sharing
 * the UDP and TCP sockets, fed by the primary. Answers are right over both transports; a drain
 * and an admin write reach the workers; a killed worker is replaced; SIGTERM stops every
 * process. Bad --workers values are refused before anything starts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, sendTcp, sendUdp, tcp, udp } from '../support/dns-client.js';
import { childrenOf, eventually } from '../support/workers.js';
import { call, RW_TOKEN, runMeridian, startMeridian, workspace, type Meridian, type Workspace } from '../admin/helpers.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const aOf = (raw: Buffer | null): string[] =>
  raw === null
    ? []
    : decode(raw)
        .answers.filter((a) => a.type === 'A')
        .map((a) => String(a.data))
        .sort();

describe('serve --workers 2', () => {
  let ws: Workspace;
  let m: Meridian;
  let workers: number[];
  before(async () => {
    ws = workspace();
    m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2', MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
    workers = childrenOf(m.child.pid!);
  });
  after(async () => {
    await m?.kill();
    ws?.remove();
  });

  it('two worker processes answer; the primary logs them', () => {
    assert.equal(workers.length, 2, `children of the primary: ${workers.join(', ')}`);
    const serving = m
      .output()
      .split('\n')
      .find((l) => l.includes('meridian is serving'))!;
    assert.deepEqual([...JSON.parse(serving).workers].sort(), [...workers].sort());
  });

  it('many UDP and TCP queries, concurrently, all answered right', async () => {
    const udpAll = Array.from({ length: 300 }, async (_, i) => {
      const name = i % 2 === 0 ? 'www.adm.test' : 'fo.adm.test';
      const raw = await sendUdp(m.dns, buildQuery(name, 'A', { id: i }));
      assert.equal(raw.readUInt16BE(0), i);
      assert.deepEqual(aOf(raw), i % 2 === 0 ? ['192.0.2.80'] : ['198.51.100.1']);
    });
    // Several connections (cluster hands them out round robin), each with pipelined queries.
    const tcpAll = Array.from({ length: 6 }, async (_, c) => {
      const packets = Array.from({ length: 50 }, (_, i) => buildQuery(i % 2 === 0 ? 'alias.adm.test' : 'txt.adm.test', i % 2 === 0 ? 'A' : 'TXT', { id: c * 100 + i }));
      const raws = await sendTcp(m.dns, packets, '127.0.0.1', 10_000);
      raws.forEach((raw, i) => {
        assert.equal(raw.readUInt16BE(0), c * 100 + i);
        const msg = decode(raw);
        if (i % 2 === 0) assert.deepEqual(aOf(raw), ['192.0.2.80']);
        else assert.equal(String((msg.answers[0]!.data as Buffer[])[0]), 'hello');
      });
    });
    await Promise.all([...udpAll, ...tcpAll]);
  });

  it('a drain and an undrain reach every worker, UDP and TCP', async () => {
    assert.equal((await call(m, 'POST', '/v1/targets/primary/drain')).status, 200);
    // Several queries in a row: UDP may land on either worker; TCP connections alternate.
    await eventually('drain', async () => {
      const answers = await Promise.all([
        ...Array.from({ length: 8 }, async () => aOf((await udp(m.dns, 'fo.adm.test', 'A')).raw)),
        ...Array.from({ length: 4 }, async () => aOf((await tcp(m.dns, 'fo.adm.test', 'A')).raw)),
      ]);
      return answers.every((a) => a.join() === '198.51.100.2');
    });
    assert.equal((await call(m, 'POST', '/v1/targets/primary/undrain')).status, 200);
    await eventually('undrain', async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, async () => aOf((await udp(m.dns, 'fo.adm.test', 'A')).raw)));
      return answers.every((a) => a.join() === '198.51.100.1');
    });
  });

  it('an admin write to the zone reaches every worker', async () => {
    const put = await call(m, 'PUT', '/v1/zones/adm.test/records/new/A', { ttl: 300, rdata: ['192.0.2.77'] });
    assert.equal(put.status, 200, put.text);
    await eventually('new record', async () => {
      const answers = await Promise.all([
        ...Array.from({ length: 8 }, async () => aOf((await udp(m.dns, 'new.adm.test', 'A')).raw)),
        ...Array.from({ length: 4 }, async () => aOf((await tcp(m.dns, 'new.adm.test', 'A')).raw)),
      ]);
      return answers.every((a) => a.join() === '192.0.2.77');
    });
  });

  it('a killed worker is replaced; queries keep being answered meanwhile', async () => {
    const victim = workers[0]!;
    process.kill(victim, 'SIGKILL');
    // With dns.reusePort (the default here) a datagram the kernel queued on the dying worker's
    // own socket goes with it, as a resolver's retry covers: a timeout is one more try.
    await eventually('answers after the kill', async () => aOf((await udp(m.dns, 'www.adm.test', 'A').catch(() => null))?.raw ?? null).join() === '192.0.2.80', 10_000);
    await eventually(
      'a replacement worker',
      async () => {
        const now = childrenOf(m.child.pid!);
        return now.length === 2 && !now.includes(victim);
      },
      10_000,
    );
    workers = childrenOf(m.child.pid!);
    assert.match(m.output(), /DNS worker exited; starting another/);
    await eventually('the replacement answers TCP too', async () => {
      const answers = await Promise.all(Array.from({ length: 4 }, async () => aOf((await tcp(m.dns, 'www.adm.test', 'A')).raw)));
      return answers.every((a) => a.join() === '192.0.2.80');
    });
  });

  it('SIGTERM stops the primary and every worker', async () => {
    const all = [m.child.pid!, ...childrenOf(m.child.pid!)];
    assert.equal(all.length, 3);
    assert.equal(await m.stop(), 0);
    await eventually('no process left', async () => all.every((pid) => !alive(pid)), 5000);
  });
});

describe('serve --workers: bad values are refused', () => {
  for (const bad of ['0', '-1', 'two', '1.5', '257', '']) {
    it(`--workers ${JSON.stringify(bad)}`, async () => {
      const r = await runMeridian(['serve', '--workers', bad, '--listen', '127.0.0.1:0', '--admin', 'off']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /whole number from 1 to 256/);
    });
  }
  it('MERIDIAN_WORKERS=abc', async () => {
    const r = await runMeridian(['serve', '--listen', '127.0.0.1:0', '--admin', 'off'], { MERIDIAN_WORKERS: 'abc' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /MERIDIAN_WORKERS: "abc" is not a whole number from 1 to 256/);
  });
});
