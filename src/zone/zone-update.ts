/**
 * An incremental, copy-on-write update of a built zone (Knot's zone update): the changed
 * RRsets' nodes, their new or emptied ancestors and the touched shards of the node map are
 * copied; everything else is shared with the zone before, which stays as it was. The checks
 * of buildZone run on the touched nodes only, with the same messages. A change that turns a
 * name with names below it into a delegation would need those names checked: that (rare)
 * case rebuilds the zone in full.
 */
import { RRType } from '../dns/constants.js';
import { nameKey, type Name } from '../dns/name.js';
import type { FileProblem, SourcePos } from '../problems/types.js';
import type { ZoneRecord } from './record.js';
import { zoneRecords } from './serialize.js';
import { drain, drainSliced, type TimeSlicer } from './time-slice.js';
import type { SteeredName } from '../steer/types.js';
import type { MonitoredTarget } from '../health/types.js';
import { buildZone, soaFields, TypeMap, writtenOver, type BuildResult, type RRset, type Zone, type ZoneNode } from './zone.js';
import { checkApex, checkNode, checkSteered, type NodeCheck } from './semantic-check.js';

/** A new RRset for an owner and type (replacing any there), or `rdatas: null` to delete it. */
export interface RRsetChange {
  readonly owner: Name;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly rdatas: readonly Buffer[] | null;
  readonly source: SourcePos;
}

interface WorkNode {
  name: Name;
  rrsets: TypeMap<RRset>;
  isCut: boolean;
  children: number;
}

/** A new policy for the zone: its steered names and probed targets (compiled by steer/policy-file.ts). */
export interface PolicyChange {
  readonly steered: readonly SteeredName[];
  readonly monitored: readonly MonitoredTarget[];
}

/** `zone` with `changes` applied in order (and `policy`, when given); `zone` itself is not touched. */
export function updateZone(zone: Zone, changes: readonly RRsetChange[], policy?: PolicyChange): BuildResult {
  return drain(updateSteps(zone, changes, policy));
}

/** updateZone in time slices: a batch of thousands of changes does not hold the event loop. */
export function updateZoneSliced(zone: Zone, changes: readonly RRsetChange[], slicer: TimeSlicer, policy?: PolicyChange): Promise<BuildResult> {
  return drainSliced(updateSteps(zone, changes, policy), slicer);
}

/** The update, yielding after each change and each node checked (the base zone is immutable, so it may pause anywhere). */
function* updateSteps(zone: Zone, changes: readonly RRsetChange[], policy: PolicyChange | undefined): Generator<void, BuildResult> {
  const origin = zone.origin;
  const steered = policy === undefined ? zone.steered : new Map(policy.steered.map((s) => [s.key, s]));
  const overlay = new Map<string, WorkNode | null>();
  const current = (key: string): ZoneNode | WorkNode | undefined => {
    const o = overlay.get(key);
    return o === null ? undefined : (o ?? zone.nodes.get(key));
  };
  const writable = (key: string): WorkNode => {
    const o = overlay.get(key);
    if (o) return o;
    const base = zone.nodes.get(key)!;
    const copy: WorkNode = { name: base.name, rrsets: new TypeMap(), isCut: base.isCut, children: base.children };
    for (const [t, set] of base.rrsets) copy.rrsets.set(t, set);
    overlay.set(key, copy);
    return copy;
  };
  const ensure = (name: Name): WorkNode => {
    const key = nameKey(name);
    if (current(key) !== undefined) return writable(key);
    const node: WorkNode = { name, rrsets: new TypeMap(), isCut: false, children: 0 };
    overlay.set(key, node);
    if (name.length > origin.length) ensure(name.slice(1)).children++;
    return node;
  };

  let recordCount = zone.recordCount;
  for (const c of changes) {
    yield;
    const key = nameKey(c.owner);
    if (c.rdatas === null && current(key) === undefined) continue;
    const node = ensure(c.owner);
    recordCount -= node.rrsets.get(c.type)?.rdatas.length ?? 0;
    if (c.rdatas === null) {
      node.rrsets = withoutType(node.rrsets, c.type);
      continue;
    }
    // RRsets hold no duplicates (RFC 2181 §5), as in a zone built from a file.
    const rdatas: Buffer[] = [];
    for (const r of c.rdatas) if (!rdatas.some((x) => x.equals(r))) rdatas.push(r);
    node.rrsets.set(c.type, { owner: node.name, type: c.type, class: c.class, ttl: c.ttl, rdatas, source: c.source });
    recordCount += rdatas.length;
  }
  if (policy !== undefined) {
    // A steered name exists in the zone even without records (its other types get NODATA);
    // one no longer steered may leave an empty node, which the pruning below removes.
    for (const s of steered.values()) if (current(s.key) === undefined) ensure(s.owner);
    for (const key of zone.steered.keys()) if (!steered.has(key) && current(key) !== undefined) writable(key);
  }

  // A node left without RRsets and without names below it goes, and so may its ancestors.
  // A copy of the keys: the loop sets entries (to null) and may add parents while it walks.
  // oxlint-disable-next-line unicorn/no-useless-spread
  for (const key of [...overlay.keys()]) {
    yield;
    let k = key;
    for (;;) {
      const node = overlay.get(k);
      if (!node || node.rrsets.size > 0 || node.children > 0 || k === zone.originKey || steered.has(k)) break;
      overlay.set(k, null);
      if (node.name.length <= origin.length) break;
      const parentKey = nameKey(node.name.slice(1));
      writable(parentKey).children--;
      k = parentKey;
    }
  }

  let cutsChanged = false;
  for (const [key, node] of overlay) {
    // Each look at the old node decodes it: 10,000 of them held the thread 50 ms.
    yield;
    if (node === null) {
      cutsChanged ||= zone.nodes.get(key)?.isCut ?? false;
      continue;
    }
    const isCut = key !== zone.originKey && node.rrsets.has(RRType.NS);
    const was = zone.nodes.get(key)?.isCut ?? false;
    if (isCut !== was) {
      cutsChanged = true;
      // Names below a new cut must be glue: checking them needs the whole zone.
      if (isCut && node.children > 0) return rebuild(zone, changes, policy);
    }
    node.isCut = isCut;
  }

  const problems: FileProblem[] = [];
  const error = (source: SourcePos, message: string): void => {
    problems.push({ file: source.file, line: source.line, message, severity: 'error' });
  };
  const check: NodeCheck = {
    originKey: zone.originKey,
    isCut: (key) => current(key)?.isCut ?? false,
    belowCut: (name) => {
      for (let i = 1; name.length - i > origin.length; i++) {
        const k = nameKey(name.slice(i));
        if (current(k)?.isCut) return k;
      }
      return null;
    },
    error,
  };
  for (const [key, node] of overlay) {
    if (node !== null) checkNode(key, node, check);
    yield;
  }
  for (const s of steered.values()) {
    if (policy !== undefined || cutsChanged || overlay.has(s.key)) checkSteered(s, current(s.key)!, check);
  }
  const apex = current(zone.originKey)!;
  const soa = overlay.has(zone.originKey) ? checkApex(apex, zone.file, error) : zone.soa;
  if (problems.length > 0 || !soa) return { zone: null, problems };

  const { serial, minimum } = soaFields(soa.rdatas[0]!);
  const nodes = yield* zone.nodes.withSteps(overlay);
  return {
    zone: {
      ...zone,
      nodes,
      soa,
      serial,
      negativeTtl: Math.min(soa.ttl, minimum),
      recordCount,
      writtenOver: writtenOver(zone.nodes, overlay),
      ...(policy === undefined ? {} : { steered, monitored: policy.monitored }),
    },
    problems,
  };
}

function withoutType(map: TypeMap<RRset>, type: number): TypeMap<RRset> {
  const out = new TypeMap<RRset>();
  for (const [t, set] of map) if (t !== type) out.set(t, set);
  return out;
}

/** The zone built afresh from its records with `changes` applied: the same outcome, at the cost of the zone. */
function rebuild(zone: Zone, changes: readonly RRsetChange[], policy: PolicyChange | undefined): BuildResult {
  const replaced = new Set(changes.map((c) => `${nameKey(c.owner)}|${c.type}`));
  const records: ZoneRecord[] = zoneRecords(zone).filter((r) => !replaced.has(`${nameKey(r.owner)}|${r.type}`));
  const last = new Map<string, RRsetChange>();
  for (const c of changes) last.set(`${nameKey(c.owner)}|${c.type}`, c);
  for (const c of last.values()) {
    for (const rdata of c.rdatas ?? []) records.push({ owner: c.owner, type: c.type, class: c.class, ttl: c.ttl, rdata, source: c.source });
  }
  return buildZone(zone.origin, zone.file, records, policy?.steered ?? [...zone.steered.values()], policy?.monitored ?? zone.monitored);
}
