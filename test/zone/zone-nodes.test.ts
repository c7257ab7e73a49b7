/**
 * The packed zone store (issue 14 item 3): a zone's nodes packed into one shared buffer,
 * under a copy-on-write delta of written nodes. Lookups, iteration and paging give what the
 * nodes were, for every kind of key (escaped dots, upper case, latin1 octets, the root, 63-
 * octet labels), across versions, and through a thread boundary.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { nameKey, parseName, type Name } from '../../src/dns/name.js';
import { TypeMap } from '../../src/zone/type-map.js';
import type { RRset, ZoneNode } from '../../src/zone/zone.js';
import { ZoneNodes } from '../../src/zone/zone-nodes.js';
import type { PackedImage, PackedNodes } from '../../src/zone/packed-nodes.js';
import { ZoneLoadThread } from '../../src/control/zone-load-thread-pool.js';
import { drain } from '../../src/zone/time-slice.js';

/** ZoneNodes.rebasedSteps run to its end at once. */
const rebaseAll = (nodes: ZoneNodes, base: PackedNodes, packed: ZoneNodes): ZoneNodes | null => drain(nodes.rebasedSteps(base, packed));

function node(text: string, sets: Array<[number, string[]]> = [], extra: Partial<ZoneNode> = {}): [string, ZoneNode] {
  const name = parseName(text, null);
  const rrsets = new TypeMap<RRset>();
  sets.forEach(([type, values], i) => {
    rrsets.set(type, { owner: name, type, class: 1, ttl: 300 + i, rdatas: values.map((v) => Buffer.from(v, 'latin1')), source: { file: `f${type}.zone`, line: 10 + i } });
  });
  return [nameKey(name), { name, rrsets, isCut: false, children: 0, ...extra }];
}

/** A node as comparable text (names keep their case: RFC 4343). */
function show(n: ZoneNode | undefined): string {
  if (n === undefined) return 'none';
  const sets = [...n.rrsets.values()].map((s) => `${s.type}/${s.class}/${s.ttl}/${s.source.file}:${s.source.line}/${s.rdatas.map((r) => r.toString('hex')).join(',')}/${s.owner.join('|')}`);
  return `${JSON.stringify(n.name)} cut=${n.isCut} children=${n.children} ${sets.join(' ')}`;
}

const NODES: Array<[string, ZoneNode]> = [
  node('example.'),
  node(
    'WWW.Example.',
    [
      [1, ['\x01\x02\x03\x04']],
      [28, ['x'.repeat(16)]],
    ],
    { children: 2 },
  ),
  node('a\\.b.example.', [[16, ['\x05hello']]]),
  node('\\128\\255x.example.', [[16, ['\x00']]]),
  node('sub.example.', [[2, ['\x02ns\x03sub\x07example\x00']]], { isCut: true }),
  node(`${'a'.repeat(63)}.example.`, [[99, ['y'.repeat(65535)]]]),
  node('.', [[6, ['soa']]]),
  node(
    'many.example.',
    Array.from({ length: 40 }, (_, i) => [1000 + i, [`v${i}`, `w${i}`]] as [number, string[]]),
  ),
];

describe('packed zone nodes', () => {
  it('finds every node as it was packed, and nothing else', () => {
    const packed = ZoneNodes.pack(NODES);
    assert.equal(packed.size, NODES.length);
    for (const [key, n] of NODES) {
      assert.equal(show(packed.get(key)), show(n), key);
      assert.equal(packed.has(key), true);
    }
    for (const key of ['www.example.x', 'ww.example', 'www.example.', 'WWW.example', 'a.b.example', '\u0100', '']) {
      if (NODES.some(([k]) => k === key)) continue;
      assert.equal(packed.get(key), undefined, key);
    }
    assert.deepEqual([...packed.keys()].sort(), NODES.map(([k]) => k).sort());
  });

  it('keeps lookups right with thousands of keys that share hash slots', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => node(`h${i}.z.`, [[1, [String(i)]]]));
    const packed = ZoneNodes.pack(many);
    for (const [key, n] of many) assert.equal(show(packed.get(key)), show(n));
    assert.equal(packed.get('h20000.z'), undefined);
  });

  it('writes go to a delta: earlier versions unchanged, removed base nodes gone, changes listed', () => {
    const v0 = ZoneNodes.pack(NODES);
    const [added, addedNode] = node('new.example.', [[1, ['abcd']]]);
    const [, replaced] = node('WWW.Example.', [[1, ['zzzz']]]);
    const v1 = v0.with(
      new Map<string, ZoneNode | null>([
        [added, addedNode],
        ['www.example', replaced],
        ['a\\.b.example', null],
        ['absent.example', null],
      ]),
    );
    assert.equal(v1.size, NODES.length); // +1 -1
    assert.equal(show(v1.get(added)), show(addedNode));
    assert.equal(show(v1.get('www.example')), show(replaced));
    assert.equal(v1.get('a\\.b.example'), undefined);
    assert.equal(v1.has('a\\.b.example'), false);
    assert.equal(show(v0.get('www.example')), show(NODES[1]![1]));
    assert.notEqual(v0.get('a\\.b.example'), undefined);
    const keys = [...v1.keys()];
    assert.equal(keys.length, v1.size);
    assert.ok(keys.includes(added) && !keys.includes('a\\.b.example'));

    // Removing a node only the delta had leaves no trace; re-adding a removed base node works.
    const v2 = v1.with(
      new Map<string, ZoneNode | null>([
        [added, null],
        ['a\\.b.example', NODES[2]![1]],
      ]),
    );
    assert.equal(v2.size, NODES.length);
    assert.equal(v2.get(added), undefined);
    assert.equal(show(v2.get('a\\.b.example')), show(NODES[2]![1]));

    const changes = v2.changesSince(v1)!;
    assert.deepEqual([...changes.keys()].sort(), [added, 'a\\.b.example'].sort());
    assert.equal(changes.get(added), null);
    assert.equal(show(changes.get('a\\.b.example') ?? undefined), show(NODES[2]![1]));
    const fromStart = v2.changesSince(v0)!;
    assert.deepEqual([...fromStart.keys()].sort(), ['www.example'].concat(['a\\.b.example']).sort());
    assert.equal(v2.changesSince(ZoneNodes.pack(NODES)), null, 'another base: only a full load tells');
  });

  it('pages in one order across versions: each key once, resumable from any key, removed ones included', () => {
    const many = Array.from({ length: 3000 }, (_, i) => node(`n${i}.p.`, [[1, [String(i)]]]));
    let v = ZoneNodes.pack(many);
    const all = [...v.entriesFrom(null)].map(([k]) => k);
    assert.equal(new Set(all).size, 3000);
    // Writes between pages: 200 new names, 100 removed; a walk by cursor still sees every
    // name that existed throughout exactly once.
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; ; page++) {
      const it: Iterator<[string, ZoneNode]> = v.entriesFrom(cursor);
      const got: string[] = [];
      for (let r = it.next(); !r.done && got.length < 251; r = it.next()) got.push(r.value[0]);
      seen.push(...got.slice(0, 250));
      if (got.length <= 250) break;
      cursor = got[250]!;
      const changes = new Map<string, ZoneNode | null>();
      for (let i = 0; i < 20; i++) changes.set(node(`x${page}-${i}.p.`, [[1, ['x']]])[0], node(`x${page}-${i}.p.`, [[1, ['x']]])[1]);
      for (let i = 0; i < 10; i++) changes.set(`n${page * 10 + i}.p`, null);
      v = v.with(changes);
    }
    const kept = all.filter((k) => v.has(k));
    const seenSet = new Set(seen);
    assert.equal(seen.length, seenSet.size, 'no key twice');
    for (const k of kept) assert.ok(seenSet.has(k), `${k} missed`);
    const full = [...v.entriesFrom(null)].map(([k]) => k);
    assert.equal(full.length, v.size);
  });

  it('repacks on the load thread: base and delta become one base, and writes made meanwhile stay as the delta', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => node(`r${i}.q.`, [[1, [String(i)]]]));
    let v1 = ZoneNodes.pack(many);
    const changes = new Map<string, ZoneNode | null>();
    for (let i = 0; i < 300; i++) changes.set(`r${i}.q`, null);
    for (let i = 0; i < 500; i++) changes.set(...node(`w${i}.q.`, [[16, [`w${i}`]]]));
    for (let i = 300; i < 400; i++) changes.set(...node(`r${i}.q.`, [[1, ['changed']]]));
    v1 = v1.with(changes);
    const thread = new ZoneLoadThread();
    try {
      const base = await thread.repack(v1);
      assert.equal(base.size, v1.size);
      // Written while the thread packed: kept over the new base.
      const v2 = v1.with(new Map<string, ZoneNode | null>([['w0.q', null], [...node('late.q.', [[1, ['late']]])], ['r1999.q', null]]));
      const rebased = rebaseAll(v2, base, v1)!;
      assert.equal(rebased.deltaSize, 3);
      assert.equal(rebased.size, v2.size);
      assert.deepEqual([...rebased.keys()].sort(), [...v2.keys()].sort());
      for (const [key, n] of v2) assert.equal(show(rebased.get(key)), show(n), key);
      assert.equal(rebased.get('r5.q'), undefined);
      assert.equal(rebaseAll(v2, base, ZoneNodes.pack(many)), null, 'not an earlier version of it');
    } finally {
      await thread.close();
    }
  });

  it('rebases in steps: thousands of writes made during a repack are applied a few hundred at a time, to the same nodes', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => node(`r${i}.q.`, [[1, [String(i)]]]));
    const v1 = ZoneNodes.pack(many).with(new Map([node('first.q.', [[1, ['1']]])]));
    const thread = new ZoneLoadThread();
    try {
      const base = await thread.repack(v1);
      // A batch of 10,000 writes landed while the thread packed.
      const during = new Map<string, ZoneNode | null>();
      for (let i = 0; i < 10_000; i++) during.set(...node(`r${i * 2}.q.`, [[1, [`new${i}`]]]));
      for (let i = 0; i < 500; i++) during.set(`r${i * 2 + 1}.q`, null);
      const v2 = v1.with(during);
      const steps = v2.rebasedSteps(base, v1);
      let yields = 0;
      let step = steps.next();
      for (; !step.done; step = steps.next()) yields++;
      const rebased = step.value!;
      assert.ok(yields >= 20, `${yields} yields`);
      assert.equal(rebased.deltaSize, 10_500);
      assert.equal(rebased.size, v2.size);
      for (const key of ['first.q', 'r0.q', 'r1.q', 'r2.q', 'r1001.q', 'r19998.q', 'r19999.q']) assert.equal(show(rebased.get(key)), show(v2.get(key)), key);
      assert.equal(show(rebaseAll(v2, base, v1)!.get('r4.q')), show(rebased.get('r4.q')));
    } finally {
      await thread.close();
    }
  });

  it('crosses to another thread as one shared buffer, read there as it is here', async () => {
    const packed = ZoneNodes.pack(NODES);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const bytes = new Uint8Array(workerData.image.buffer);
      parentPort.postMessage({ length: bytes.length, shared: workerData.image.buffer instanceof SharedArrayBuffer });`;
    const worker = new Worker(code, { eval: true, workerData: { image: packed.base.image } });
    const reply = await new Promise<{ length: number; shared: boolean }>((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    assert.equal(reply.shared, true);
    assert.equal(reply.length, packed.base.image.buffer.byteLength);
    const there = ZoneNodes.fromImage(structuredClone<PackedImage>(packed.base.image));
    for (const [key, n] of NODES) assert.equal(show(there.get(key)), show(n));
  });
});

// Names used above must parse as the test means them.
const _check: Name = parseName('\\128\\255x.example.', null);
assert.equal(_check[0], '\u0080\u00ffx');

describe('PackedNodes.differingKeys: what a reload changed', () => {
  const moved = (e: [string, ZoneNode]): [string, ZoneNode] => {
    const rrsets = new TypeMap<RRset>();
    for (const [t, set] of e[1].rrsets) rrsets.set(t, { ...set, source: { file: 'other.zone', line: set.source.line + 7 } });
    return [e[0], { ...e[1], rrsets }];
  };
  const base = ZoneNodes.pack(NODES).base;

  it('finds nothing between a zone and itself packed again, whatever lines the records came from', () => {
    assert.deepEqual(base.differingKeys(ZoneNodes.pack(NODES.map(moved)).base, 100), []);
  });

  it('finds the names added, removed, and changed in any part of their node', () => {
    const www = nameKey(parseName('WWW.Example.', null));
    const rest = NODES.filter(([k]) => k !== www);
    const changedTtl = node('a\\.b.example.', [[16, ['\x05hello']]]);
    (changedTtl[1].rrsets.get(16) as { ttl: number }).ttl = 1;
    const next = [
      node(
        'WWW.Example.',
        [
          [1, ['\x01\x02\x03\x05']],
          [28, ['x'.repeat(16)]],
        ],
        { children: 2 },
      ),
      ...rest.filter(([k]) => k !== changedTtl[0] && k !== nameKey(parseName('sub.example.', null))),
      changedTtl,
      node('new.example.', [[1, ['\x01\x01\x01\x01']]]),
    ];
    const got = base.differingKeys(ZoneNodes.pack(next).base, 100);
    assert.deepEqual(new Set(got), new Set([www, changedTtl[0], nameKey(parseName('sub.example.', null)), nameKey(parseName('new.example.', null))]));
    assert.equal(base.differingKeys(ZoneNodes.pack(next).base, 3), null, 'more than the limit: not listed');
  });
});
