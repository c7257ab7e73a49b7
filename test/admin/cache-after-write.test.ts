/**
 * Issue #14 item 3: an admin write forgets only the cached answers it changes. Every other
 * answer keeps coming from the cache (a write used to empty the caches, so a stream of writes
 * sent every query down the full path), and no answer that depends on a changed name is served
 * stale: the name's own answers, CNAME chains through it, wildcard expansions, MX additional
 * addresses, and every negative answer (its SOA carries the serial each write moves).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { udp } from '../support/dns-client.js';
import { addresses, call, INITIAL_SERIAL, nextLog, startMeridian, workspace, ZONE, ZONE_TEXT, type Meridian, type Workspace } from './helpers.js';

let ws: Workspace;
let m: Meridian;

before(async () => {
  ws = workspace();
  fs.writeFileSync(
    ws.zoneFile,
    `${ZONE_TEXT}*.wild       IN A    192.0.2.90
mx           IN MX   10 mail
mail         IN A    192.0.2.25
`,
  );
  m = await startMeridian(ws);
});

after(async () => {
  await m.stop();
  ws.remove();
});

/** The answer cache's hit counter (the fast path counts its hits there too). */
async function cacheHits(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${m.api}/metrics`)).text();
  const line = /^meridian_answer_cache_hits_total(?:\{[^}]*\})? (\d+)/m.exec(text);
  assert.ok(line, 'the cache hit counter is exported');
  return Number(line[1]);
}

/** Served from the cache: the hit counter moves by one for one query. */
async function cached(name: string, type = 'A'): Promise<boolean> {
  const before = await cacheHits();
  await udp(m.dns, `${name}.${ZONE}`, type);
  return (await cacheHits()) === before + 1;
}

async function put(name: string, type: string, rdata: string[]): Promise<void> {
  const r = await call(m, 'PUT', `/v1/zones/${ZONE}/records/${name}/${type}`, { ttl: 300, rdata });
  assert.equal(r.status, 200, r.text);
}

/** The serial of the SOA in a negative answer's authority section. */
async function negativeSerial(name: string): Promise<number> {
  const { msg, raw } = await udp(m.dns, `${name}.${ZONE}`, 'A');
  assert.equal(raw[3]! & 0x0f, 3, 'NXDOMAIN');
  const soa = msg.authorities.find((a) => a.type === 'SOA');
  assert.ok(soa, 'a negative answer carries the SOA');
  return soa.data.serial as number;
}

const ask = async (): Promise<void> => {
  for (const [name, type] of [
    ['www', 'A'],
    ['old', 'A'],
    ['txt', 'TXT'],
    ['alias', 'A'],
    ['x.wild', 'A'],
    ['mx', 'MX'],
    ['nothing', 'A'],
  ] as const) {
    await udp(m.dns, `${name}.${ZONE}`, type);
  }
};

describe('the answer caches after an admin write', () => {
  it('keep the answers of names the write did not touch', async () => {
    await ask();
    assert.ok(await cached('old'), 'cached before any write');
    await put('www', 'A', ['192.0.2.180']);
    assert.ok(await cached('old'), 'an untouched name is still answered from the cache');
    assert.ok(await cached('txt', 'TXT'));
    // The written name's answer was dropped and is computed again, once.
    assert.deepEqual(await addresses(m, `www.${ZONE}`), ['192.0.2.180']);
    assert.ok(await cached('www'));
  });

  it('never serve an answer that depends on a written name', async () => {
    await ask();
    assert.equal(await negativeSerial('nothing'), INITIAL_SERIAL + 1);
    assert.deepEqual(await addresses(m, `alias.${ZONE}`), ['192.0.2.180']);
    await put('www', 'A', ['192.0.2.181']);
    assert.deepEqual(await addresses(m, `www.${ZONE}`), ['192.0.2.181']);
    assert.deepEqual(await addresses(m, `alias.${ZONE}`), ['192.0.2.181'], 'a CNAME chain through the written name');
    assert.equal(await negativeSerial('nothing'), INITIAL_SERIAL + 2, 'a negative answer carries the new serial');
    const soa = (await udp(m.dns, ZONE, 'SOA')).msg.answers.find((a) => a.type === 'SOA');
    assert.equal(soa?.data.serial, INITIAL_SERIAL + 2);

    assert.deepEqual(await addresses(m, `x.wild.${ZONE}`), ['192.0.2.90']);
    await put('*.wild', 'A', ['192.0.2.91']);
    assert.deepEqual(await addresses(m, `x.wild.${ZONE}`), ['192.0.2.91'], 'a wildcard expansion');

    const glue = async (): Promise<string[]> => (await udp(m.dns, `mx.${ZONE}`, 'MX')).msg.additionals.filter((a) => a.type === 'A').map((a) => String(a.data));
    assert.deepEqual(await glue(), ['192.0.2.25']);
    await put('mail', 'A', ['192.0.2.26']);
    assert.deepEqual(await glue(), ['192.0.2.26'], 'the additional address of an MX answer');

    // A name that did not exist: its cached NXDOMAIN goes.
    await put('nothing', 'A', ['192.0.2.77']);
    assert.deepEqual(await addresses(m, `nothing.${ZONE}`), ['192.0.2.77']);
    // And one removed: its cached answer goes.
    assert.ok(await cached('old'));
    assert.equal((await call(m, 'DELETE', `/v1/zones/${ZONE}/records/old/A`)).status, 200);
    assert.deepEqual(await addresses(m, `old.${ZONE}`), []);
  });

  it('keep negative answers through writes to other names, each with the serial of the moment', async () => {
    await udp(m.dns, `nx-kept.${ZONE}`, 'A');
    await udp(m.dns, `txt.${ZONE}`, 'MX');
    const serial = await negativeSerial('nx-kept');
    await put('www', 'A', ['192.0.2.183']);
    assert.ok(await cached('nx-kept'), 'an NXDOMAIN is still answered from the cache');
    assert.equal(await negativeSerial('nx-kept'), serial + 1, 'with the serial the write moved');
    assert.ok(await cached('txt', 'MX'), 'and so is a NODATA');
    const nodata = await udp(m.dns, `txt.${ZONE}`, 'MX');
    assert.equal(nodata.msg.authorities.find((a) => a.type === 'SOA')?.data.serial, serial + 1);
    // A name written below it: the NXDOMAIN becomes an empty non-terminal's NODATA.
    await put('a.nx-kept', 'A', ['192.0.2.184']);
    const ent = await udp(m.dns, `nx-kept.${ZONE}`, 'A');
    assert.equal(ent.raw[3]! & 0x0f, 0, 'NOERROR');
    assert.deepEqual(ent.msg.answers, []);
    // The name itself written: its NODATA goes.
    await put('txt', 'MX', ['10 mail']);
    assert.equal((await udp(m.dns, `txt.${ZONE}`, 'MX')).msg.answers.length, 1);
  });

  it('after a reload that changed one name, keep the answers of the others (the reload thread lists what differs)', async () => {
    await ask();
    await udp(m.dns, `ns1.${ZONE}`, 'A');
    assert.ok(await cached('ns1'));
    // A name added and a line inserted at the top: every line below moves, no other node changes.
    const text = fs.readFileSync(ws.zoneFile, 'utf8').replace('$TTL 300\n', '$TTL 300\n; a comment line\n');
    fs.writeFileSync(ws.zoneFile, `${text}fresh IN A 192.0.2.99\n`);
    const reloaded = nextLog(m, 'zones reloaded');
    m.child.kill('SIGHUP');
    await reloaded;
    assert.deepEqual(await addresses(m, `fresh.${ZONE}`), ['192.0.2.99']);
    assert.ok(await cached('ns1'), 'an unchanged name is still answered from the cache');
    assert.equal(await negativeSerial('nothing-here'), (await udp(m.dns, ZONE, 'SOA')).msg.answers.find((a) => a.type === 'SOA')?.data.serial);
  });

  it('empty the caches for a change that reaches other names: a new zone cut', async () => {
    await ask();
    assert.ok(await cached('txt', 'TXT'));
    await put('sub', 'NS', ['ns.elsewhere.example.']);
    assert.ok(!(await cached('txt', 'TXT')), 'a delegation may change any answer below it, so everything goes');
    const { msg } = await udp(m.dns, `a.sub.${ZONE}`, 'A');
    assert.equal(msg.authorities.find((a) => a.type === 'NS')?.data, 'ns.elsewhere.example', 'a referral');
    // The cut removed: the cached referral reads more than its own name, so it goes with any write.
    assert.equal((await call(m, 'DELETE', `/v1/zones/${ZONE}/records/sub/NS`)).status, 200);
    assert.equal((await udp(m.dns, `a.sub.${ZONE}`, 'A')).raw[3]! & 0x0f, 3, 'NXDOMAIN once the delegation is gone');
  });
});

describe('the answer caches after an admin write, while probes run', () => {
  let pws: Workspace;
  let pm: Meridian;
  let backend: net.Server;
  before(async () => {
    // A TCP probe that succeeds every second: each result moves the target's streak and RTT, never its status.
    backend = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    pws = workspace();
    const probes = `probes:\n  open: { type: tcp, port: ${(backend.address() as net.AddressInfo).port}, interval: 1, timeout: 900, jitter: 0 }\n`;
    fs.writeFileSync(
      pws.policyFile,
      probes +
        fs.readFileSync(pws.policyFile, 'utf8').replace('primary:   { region: one, ipv4: [198.51.100.1] }', 'primary:   { region: one, ipv4: [198.51.100.1], probe: open, probeAddress: 127.0.0.1 }'),
    );
    pm = await startMeridian(pws);
  });
  after(async () => {
    await pm?.stop();
    pws?.remove();
    await new Promise((r) => backend?.close(r));
  });

  it('keep the answers of names the write did not touch (a probe result that changes no answer is no health change)', async () => {
    const hits = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${pm.api}/metrics`)).text();
      return Number(/^meridian_answer_cache_hits_total(?:\{[^}]*\})? (\d+)/m.exec(text)![1]);
    };
    await udp(pm.dns, `old.${ZONE}`, 'A');
    // Probes answered since the snapshot the cached answer was made in.
    await new Promise((r) => setTimeout(r, 2500));
    const r = await call(pm, 'PUT', `/v1/zones/${ZONE}/records/www/A`, { ttl: 300, rdata: ['192.0.2.182'] });
    assert.equal(r.status, 200, r.text);
    const before = await hits();
    assert.deepEqual(await addresses(pm, `old.${ZONE}`), ['192.0.2.81']);
    assert.equal(await hits(), before + 1, 'an untouched name is still answered from the cache');
    assert.deepEqual(await addresses(pm, `www.${ZONE}`), ['192.0.2.182']);
  });
});
