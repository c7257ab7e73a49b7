/**
 * Incremental zone updates (issue 14 item 3): after any sequence of RRset changes the zone
 * equals one built afresh from the same records (nodes, empty non-terminals, cuts, child
 * counts, record count, accepted or refused alike), every earlier version is unchanged, and
 * the delta a DNS worker receives rebuilds the same zone from the one before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RRType } from '../../src/dns/constants.js';
import { nameKey, parseName, type Name } from '../../src/dns/name.js';
import { parseMasterFile } from '../../src/zone/master-file.js';
import { encodeRdataText } from '../../src/zone/rdata/index.js';
import type { ZoneRecord } from '../../src/zone/record.js';
import { serializeZone, serializeZoneSliced, zoneRecords } from '../../src/zone/serialize.js';
import { TimeSlicer } from '../../src/zone/time-slice.js';
import { updateZone, type RRsetChange } from '../../src/zone/zone-update.js';
import { buildZone, type Zone } from '../../src/zone/zone.js';
import { applyZoneDelta, zoneDelta, zoneFromImage } from '../../src/zone/zone-transfer.js';

const ORIGIN = parseName('up.test.', null);
const FILE = 'up.test.zone';
const BASE = `$ORIGIN up.test.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.10
a.b.c.deep TXT "deep"
sub NS ns.sub
ns.sub A 192.0.2.53
alias CNAME www
*.wild A 192.0.2.99
`;
const SOURCE = { file: '(test)', line: 0 };

/** Every fact of a zone a query can see, as comparable text. */
function dump(zone: Zone): string[] {
  const out: string[] = [];
  for (const [key, node] of zone.nodes) {
    const sets = [...node.rrsets.values()]
      .map(
        (s) =>
          `${s.type}/${s.ttl}/${s.rdatas
            .map((r) => r.toString('hex'))
            .sort()
            .join(',')}`,
      )
      .sort();
    out.push(`${key} cut=${node.isCut} children=${node.children} ${sets.join(' ')}`);
  }
  return out.sort().concat(`records=${zone.recordCount} serial=${zone.serial} ttl-=${zone.negativeTtl}`);
}

function base(): { zone: Zone; records: ZoneRecord[] } {
  const parsed = parseMasterFile(BASE, { file: FILE, origin: ORIGIN });
  const built = buildZone(ORIGIN, FILE, parsed.records);
  assert.ok(built.zone, JSON.stringify(built.problems));
  return { zone: built.zone, records: parsed.records };
}

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OWNERS = ['@', 'www', 'new', 'x.y.z', 'y.z', 'z', 'a.b.c.deep', 'b.c.deep', 'sub', 'ns.sub', 'in.ns.sub', 'alias', '*.wild', 'q.wild', 'ns1', 'cut2', 'h.cut2'];
const TYPES: Array<[number, (rand: () => number) => string]> = [
  [RRType.A, (r) => `192.0.2.${Math.floor(r() * 4)}`],
  [RRType.AAAA, (r) => `2001:db8::${Math.floor(r() * 4)}`],
  [RRType.TXT, (r) => `"t${Math.floor(r() * 3)}"`],
  [RRType.NS, (r) => `ns${Math.floor(r() * 2)}.example.`],
  [RRType.CNAME, () => 'www.up.test.'],
  [RRType.MX, () => '10 mail.up.test.'],
];

function randomChange(rand: () => number): RRsetChange {
  const owner: Name = parseName(OWNERS[Math.floor(rand() * OWNERS.length)]!, ORIGIN);
  const [type, text] = TYPES[Math.floor(rand() * TYPES.length)]!;
  if (rand() < 0.35) return { owner, type, class: 1, ttl: 0, rdatas: null, source: SOURCE };
  const rdatas = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => encodeRdataText(type, text(rand), ORIGIN));
  return { owner, type, class: 1, ttl: 60 + Math.floor(rand() * 3), rdatas, source: SOURCE };
}

/** The records with `changes` applied the plain way: drop the RRset, add the new one. */
function applyToRecords(records: ZoneRecord[], changes: readonly RRsetChange[]): ZoneRecord[] {
  let out = records;
  for (const c of changes) {
    out = out.filter((r) => !(nameKey(r.owner) === nameKey(c.owner) && r.type === c.type));
    for (const rdata of c.rdatas ?? []) out.push({ owner: c.owner, type: c.type, class: c.class, ttl: c.ttl, rdata, source: c.source });
  }
  return out;
}

describe('incremental zone update', () => {
  it('equals a fresh build after every one of many random changes, and leaves each older version as it was', () => {
    const rand = rng(14);
    let { zone, records } = base();
    let accepted = 0;
    let refused = 0;
    let deltas = 0;
    for (let step = 0; step < 1500; step++) {
      const changes = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => randomChange(rand));
      const before = dump(zone);
      const incremental = updateZone(zone, changes);
      const nextRecords = applyToRecords(records, changes);
      const fresh = buildZone(ORIGIN, FILE, nextRecords);
      assert.deepEqual(dump(zone), before, `step ${step}: the old version changed`);
      assert.equal(incremental.zone === null, fresh.zone === null, `step ${step}: accepted by one and not the other: ${JSON.stringify([incremental.problems, fresh.problems])}`);
      if (incremental.zone === null || fresh.zone === null) {
        refused++;
        continue;
      }
      assert.deepEqual(dump(incremental.zone), dump(fresh.zone), `step ${step}`);
      // What a DNS worker process receives: the changed nodes, applied to its own copy.
      // (None after the rare full rebuild: the workers then re-read the file.)
      const delta = zoneDelta(zone, incremental.zone);
      if (delta !== null) {
        deltas++;
        assert.deepEqual(dump(applyZoneDelta(zone, structuredClone(delta))!), dump(incremental.zone), `step ${step}: delta`);
      }
      accepted++;
      zone = incremental.zone;
      records = nextRecords;
    }
    assert.ok(accepted > 200 && refused > 200, `both outcomes exercised (${accepted} accepted, ${refused} refused)`);
    assert.ok(deltas > accepted / 2, `${deltas} of ${accepted} updates carried as deltas`);
  });

  it('gives a written zone the fields of a built one, in the same order (one shape for the answer path)', () => {
    const { zone } = base();
    const written = updateZone(zone, [{ owner: parseName('new.up.test.', null), type: RRType.A, class: 1, ttl: 60, rdatas: [Buffer.from([192, 0, 2, 7])], source: SOURCE }]).zone!;
    const fromImage = zoneFromImage(zone.nodes.base.image, zone.recordCount, ORIGIN, zone.originKey, FILE, [], []).zone!;
    assert.ok(written.writtenOver !== undefined);
    assert.deepEqual(Object.keys(written), Object.keys(zone));
    assert.deepEqual(Object.keys(fromImage), Object.keys(zone));
    assert.deepEqual(Object.keys({ ...fromImage, reloadedOver: { base: zone.nodes.base, changed: [] } }), Object.keys(zone));
  });

  it('gives the same problems as a fresh build for a refused change', () => {
    const { zone } = base();
    const cname = { owner: parseName('www', ORIGIN), type: RRType.CNAME, class: 1, ttl: 60, rdatas: [encodeRdataText(RRType.CNAME, 'x.up.test.', ORIGIN)], source: SOURCE };
    const result = updateZone(zone, [cname]);
    assert.equal(result.zone, null);
    assert.deepEqual(
      result.problems.map((p) => p.message),
      ['A record at www.up.test. beside a CNAME (RFC 1034 §3.6.2)'],
    );
  });

  it('writes in time slices a master file that loads back as the same zone', async () => {
    let { zone } = base();
    for (let i = 0; i < 1500; i++) {
      const change = { owner: parseName(`h${i}.g${i % 7}`, ORIGIN), type: RRType.A, class: 1, ttl: 60, rdatas: [encodeRdataText(RRType.A, `10.0.${i >> 8}.${i & 255}`, ORIGIN)], source: SOURCE };
      zone = updateZone(zone, [change]).zone!;
    }
    const text = Buffer.concat(await serializeZoneSliced(zone, 'note', new TimeSlicer(0))).toString();
    const lines = (t: string): string[] => t.split('\n').slice(2).sort();
    assert.deepEqual(lines(text), lines(serializeZone(zone.origin, zoneRecords(zone), 'note')));
    const parsed = parseMasterFile(text, { file: FILE, origin: ORIGIN });
    assert.deepEqual(dump(buildZone(ORIGIN, FILE, parsed.records).zone!), dump(zone));
  });
});
