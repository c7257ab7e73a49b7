/**
 * Issue #18 item 5: snapshot publishing in process (src/control/publisher.ts,
 * src/snapshot/snapshot.ts): every publish is a new, higher version and leaves the one before
 * as it was; the client locator and the health monitor's view are carried into each one; and
 * `Snapshot.changes` (src/control/names-changed.ts) lists the names of a records-only write and
 * is empty for anything that may change more (a policy, a zone cut or DNAME, a reload over
 * another base, a zone added, health moved meanwhile).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { RRType } from '../../src/dns/constants.js';
import { nameKey, parseName } from '../../src/dns/name.js';
import { SnapshotPublisher } from '../../src/control/publisher.js';
import { SnapshotBuilder } from '../../src/control/snapshot-builder.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import { compilePolicyText } from '../../src/steer/policy-file.js';
import { MAX_CHANGES_KEPT, namesSince } from '../../src/snapshot/per-snapshot-cache.js';
import type { ClientLocator, Snapshot, SnapshotStore } from '../../src/snapshot/snapshot.js';
import { encodeRdataText } from '../../src/zone/rdata/index.js';
import { updateZone, type RRsetChange } from '../../src/zone/zone-update.js';
import type { Zone } from '../../src/zone/zone.js';
import { zoneFromText, zoneMap } from '../support/zone-text.js';

const ORIGIN = parseName('p.', null);
const ZONE = `$ORIGIN p.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 60
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.10
mx MX 10 www
old DNAME elsewhere.example.
sub NS ns1
`;
const POLICY = 'targets:\n  a:\n    region: r1\n    ipv4: [192.0.2.100]\n  b:\n    region: r2\n    ipv4: [192.0.2.101]\nnames:\n  lb:\n    policy:\n      - all: {}\n';
const OTHER = zoneFromText('q.', '$ORIGIN q.\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.2\n');
const SOURCE = { file: '(test)', line: 0 };

const key = (name: string): string => nameKey(parseName(name, ORIGIN));
const set = (name: string, type: number, ...rdata: string[]): RRsetChange => ({
  owner: parseName(name, ORIGIN),
  type,
  class: 1,
  ttl: 300,
  rdatas: rdata.map((r) => encodeRdataText(type, r, ORIGIN)),
  source: SOURCE,
});
const remove = (name: string, type: number): RRsetChange => ({ ...set(name, type), rdatas: null });
function updated(zone: Zone, ...changes: RRsetChange[]): Zone {
  const r = updateZone(zone, changes);
  assert.ok(r.zone, JSON.stringify(r.problems));
  return r.zone;
}

const locate1: ClientLocator = () => {
  throw new Error('not called');
};
const locate2: ClientLocator = () => {
  throw new Error('not called either');
};

/** A publisher over a store holding `zone`, with a real (never started) health monitor. */
function setUp(zone: Zone, publishOnHealth = true): { store: SnapshotStore; publisher: SnapshotPublisher; monitor: HealthMonitor; seen: Snapshot[] } {
  let publisher: SnapshotPublisher | null = null;
  const monitor = new HealthMonitor({
    prober: () => Promise.reject(new Error('no probes here')),
    concurrency: 1,
    log: pino({ level: 'silent' }),
    onChange: () => {
      if (publishOnHealth) publisher?.publish();
    },
  });
  monitor.sync(zone.monitored);
  // As main starts: the first snapshot already holds the monitor's view.
  const builder = new SnapshotBuilder({ version: null, identity: null }, locate1);
  const store = builder.store(1, { zones: zoneMap(zone), health: monitor.view() });
  const seen: Snapshot[] = [store.current];
  store.onPublish((s) => seen.push(s));
  publisher = new SnapshotPublisher(store, builder, monitor);
  return { store, publisher, monitor, seen };
}

describe('snapshot publishing', () => {
  it('every publish is a new snapshot one version up; the ones before stay as they were', () => {
    const base = zoneFromText('p.', ZONE, POLICY);
    const { store, publisher, monitor, seen } = setUp(base);
    const first = store.current;
    const next = updated(base, set('www', RRType.A, '192.0.2.11'));
    publisher.setZones(zoneMap(next));
    publisher.publish();
    publisher.setLocate(locate2);
    assert.ok(monitor.force(base.monitored[0]!.key, 'down'));
    assert.deepEqual(
      seen.map((s) => s.version),
      [1, 2, 3, 4, 5],
    );
    assert.equal(new Set(seen).size, 5, 'a new object each time');
    assert.equal(store.current, seen[4]);
    assert.equal(first.zones.get('p'), base, 'the first snapshot still holds the zone it had');
    assert.equal(seen[1]!.zones.get('p'), next);
    assert.equal(first.locate, locate1);
  });

  it("carries the locator (with its generation) and the monitor's health into every version", () => {
    const base = zoneFromText('p.', ZONE, POLICY);
    const { store, publisher, monitor, seen } = setUp(base);
    const [a, b] = base.monitored.map((t) => t.key);
    publisher.setZones(zoneMap(base, OTHER));
    assert.deepEqual([...store.current.health.keys()].sort(), [a, b], "health of the policy's targets, none forced");
    publisher.setLocate(locate2);
    assert.equal(store.current.locate, locate2);
    assert.equal(store.current.geoGeneration, 1);
    monitor.force(a!, 'down');
    const drained = store.current;
    assert.equal(drained.health.get(a!)?.forced, 'down');
    const target = drained.steered.get(key('lb'))!.name.targets.find((t) => t.key === a)!;
    assert.equal(drained.isUp(target), false);
    assert.equal(seen[2]!.isUp(target), true, 'an earlier snapshot keeps the health it was built with');
    publisher.setZones(zoneMap(updated(base, set('www', RRType.A, '192.0.2.12')), OTHER));
    assert.equal(store.current.locate, locate2, 'a later publish keeps the locator');
    assert.equal(store.current.geoGeneration, 1);
    assert.equal(store.current.health.get(a!)?.forced, 'down', 'and the health');
    assert.equal(store.current.steered.size, 1);
  });
});

/** [what, the zones after the change (given the zone served), the changed names expected (null: [])] */
const changeRows: Array<[string, (z: Zone) => ReadonlyMap<string, Zone>, string[] | null]> = [
  ['a records-only write lists its name', (z) => zoneMap(updated(z, set('www', RRType.A, '192.0.2.11'))), [key('www')]],
  [
    'a write of several names lists each (one removed: its parent too, one child fewer)',
    (z) => zoneMap(updated(z, set('www', RRType.A, '192.0.2.11'), remove('mx', RRType.MX))),
    [key('www'), key('mx'), key('@')],
  ],
  ['a new name lists it (and the empty non-terminal and parent it touches)', (z) => zoneMap(updated(z, set('a.new', RRType.TXT, '"x"'))), [key('a.new'), key('new'), key('@')]],
  ["a write to a steered name's other types lists it", (z) => zoneMap(updated(z, set('lb', RRType.TXT, '"t"'))), [key('lb')]],
  ['a new zone cut: everything', (z) => zoneMap(updated(z, set('cut', RRType.NS, 'ns1'))), null],
  // What read the cut or the DNAME (referrals, DNAME answers) reads more than its own name, and every change drops it.
  ['a zone cut removed: its names only', (z) => zoneMap(updated(z, remove('sub', RRType.NS))), [key('sub'), key('@')]],
  ['a new DNAME: everything', (z) => zoneMap(updated(z, set('d', RRType.DNAME, 'x.example.'))), null],
  ['a DNAME removed: its names only', (z) => zoneMap(updated(z, remove('old', RRType.DNAME))), [key('old'), key('@')]],
  ['a policy change: everything', (z) => zoneMap(updateZone(z, [], { steered: [], monitored: [] }).zone!), null],
  [
    'a policy change with the same targets (health the same): everything',
    (z) => zoneMap(updateZone(z, [], compilePolicyText(POLICY.replace('  lb:\n', '  lb:\n    ttl: 99\n'), 'p.policy.yaml', ORIGIN)).zone!),
    null,
  ],
  ['a reload over another base: everything', () => zoneMap(zoneFromText('p.', ZONE + 'www TXT "reloaded"\n', POLICY)), null],
  [
    'a reload whose thread listed the names that differ from the base served: those',
    (z) => {
      const reloaded = zoneFromText('p.', ZONE + 'www TXT "reloaded"\n', POLICY);
      return zoneMap({ ...reloaded, steered: z.steered, monitored: z.monitored, reloadedOver: { base: z.nodes.base, changed: [key('www')] } });
    },
    [key('www')],
  ],
  ['a zone added: everything', (z) => zoneMap(z, OTHER), null],
  ['the same zones: nothing changed, an empty list', (z) => zoneMap(z), []],
];

describe('Snapshot.changes', () => {
  for (const [what, change, names] of changeRows) {
    it(what, () => {
      const base = zoneFromText('p.', ZONE, POLICY);
      const { store, publisher } = setUp(base);
      publisher.setZones(change(base));
      const want = names === null ? [] : [{ version: 2, names: [...names].sort() }];
      assert.deepEqual(
        store.current.changes.map((c) => ({ version: c.version, names: [...c.names].sort() })),
        want,
      );
    });
  }

  it('consecutive writes accumulate, at most MAX_CHANGES_KEPT; a publish of anything else starts again', () => {
    let zone = zoneFromText('p.', ZONE, POLICY);
    const { store, publisher } = setUp(zone);
    for (let i = 0; i < MAX_CHANGES_KEPT + 4; i++) {
      zone = updated(zone, set(`h${i}`, RRType.A, '192.0.2.50'));
      publisher.setZones(zoneMap(zone));
    }
    const v = store.current.version;
    assert.equal(v, MAX_CHANGES_KEPT + 5);
    assert.deepEqual(
      store.current.changes.map((c) => c.version),
      Array.from({ length: MAX_CHANGES_KEPT }, (_, i) => v - MAX_CHANGES_KEPT + 1 + i),
    );
    assert.deepEqual([...namesSince(v - 2, v, store.current.changes)!].sort(), [key(`h${MAX_CHANGES_KEPT + 2}`), key(`h${MAX_CHANGES_KEPT + 3}`), key('@')]);
    assert.equal(namesSince(v - MAX_CHANGES_KEPT - 1, v, store.current.changes), null, 'a cache further behind empties');
    publisher.publish();
    assert.deepEqual(store.current.changes, []);
    zone = updated(zone, set('www', RRType.A, '192.0.2.13'));
    publisher.setZones(zoneMap(zone));
    assert.deepEqual(store.current.changes, [{ version: v + 2, names: [key('www')] }], 'not carried over the version that changed more');
  });

  it('a write while health moved without a publish: everything', () => {
    const base = zoneFromText('p.', ZONE, POLICY);
    const { store, publisher, monitor } = setUp(base, false);
    monitor.force(base.monitored[0]!.key, 'down');
    publisher.setZones(zoneMap(updated(base, set('www', RRType.A, '192.0.2.11'))));
    assert.deepEqual(store.current.changes, []);
    assert.equal(store.current.health.get(base.monitored[0]!.key)?.forced, 'down');
  });
});
