import { type Name, nameKey, nameToText, readWireName } from '../dns/name.js';
import { RRType, typeToText } from '../dns/constants.js';
import { checkZone } from './semantic-check.js';
import type { FileProblem, SourcePos } from '../problems/types.js';
import type { ZoneRecord } from './record.js';
import type { SteeredName } from '../steer/types.js';
import type { MonitoredTarget } from '../health/types.js';
import { TypeMap } from './type-map.js';
import { ZoneNodes } from './zone-nodes.js';
import type { PackedNodes } from './packed-nodes.js';

/** All records of one owner, type and class (RFC 2181 §5). Immutable once the zone is built. */
export interface RRset {
  readonly owner: Name;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly rdatas: readonly Buffer[];
  readonly source: SourcePos;
}

/** A node of the zone tree; an empty non-terminal has no RRsets (RFC 4592 §2.2.2). */
export interface ZoneNode {
  readonly name: Name;
  readonly rrsets: ReadonlyMap<number, RRset>;
  /** NS at a name other than the apex: a zone cut (RFC 1034 §4.2.1). */
  readonly isCut: boolean;
  /** Nodes one label below this one: an incremental update removes an empty node only when it has none. */
  readonly children: number;
}

/** A built, validated, immutable zone. Lookups are by `nameKey`. */
export interface Zone {
  readonly origin: Name;
  readonly originKey: string;
  readonly file: string;
  /** Persistent: an incremental update (zone-update.ts) shares every node it does not change. */
  readonly nodes: ZoneNodes;
  readonly soa: RRset;
  readonly serial: number;
  /** TTL for negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5). */
  readonly negativeTtl: number;
  readonly recordCount: number;
  /** Names whose A/AAAA answers a steering policy chooses (issue #3), by nameKey. */
  readonly steered: ReadonlyMap<string, SteeredName>;
  /** The probed targets of the zone's policy file (issue #4). */
  readonly monitored: readonly MonitoredTarget[];
  /**
   * Set on a zone loaded afresh over a served one (a reload): the packed base served before
   * and the names whose nodes differ from it, so the answer caches forget only those
   * (control/names-changed.ts). Absent: unknown.
   */
  readonly reloadedOver?: { readonly base: PackedNodes; readonly changed: readonly string[] };
  /**
   * Set on a zone an update built (zone-update.ts): the nodes it was built from and the keys
   * of the nodes it set or removed, so the caches need not find them by comparing the two
   * versions (which cost 30 ms for a 10,000-operation batch, on the answering thread).
   * `reachesBelow`: one of the nodes it set is a zone cut or holds a DNAME.
   */
  readonly writtenOver?: { readonly nodes: ZoneNodes; readonly keys: readonly string[]; readonly reachesBelow: boolean };
}

/**
 * The optional fields of Zone, present on every zone as built (undefined here), so that a zone
 * loaded, reloaded over another or written has one shape for V8: the answer path, optimized on
 * loaded zones, was deoptimized at the first admin write by the written zone's extra field.
 */
export const NO_HISTORY = { reloadedOver: undefined, writtenOver: undefined } as const satisfies Pick<Zone, 'reloadedOver' | 'writtenOver'>;

export interface BuildResult {
  zone: Zone | null;
  problems: FileProblem[];
}

interface MutableNode {
  name: Name;
  rrsets: TypeMap<MutableRRset>;
  isCut: boolean;
  children: number;
}
interface MutableRRset {
  owner: Name;
  type: number;
  class: number;
  ttl: number;
  rdatas: Buffer[];
  source: SourcePos;
}

export { TypeMap } from './type-map.js';

/** Reads the serial and MINIMUM out of SOA RDATA (RFC 1035 §3.3.13). */
/** A zone cut or a DNAME: the node decides the answers for the names below it. */
export function reachesBelow(node: ZoneNode | null | undefined): boolean {
  return node != null && (node.isCut || node.rrsets.has(RRType.DNAME));
}

/** Zone.writtenOver for a version built from `nodes` by setting or removing (null) these nodes. */
export function writtenOver(nodes: ZoneNodes, changes: ReadonlyMap<string, ZoneNode | null>): NonNullable<Zone['writtenOver']> {
  let below = false;
  for (const node of changes.values()) below ||= reachesBelow(node);
  return { nodes, keys: [...changes.keys()], reachesBelow: below };
}

export function soaFields(rdata: Buffer): { serial: number; minimum: number } {
  const mname = readWireName(rdata, 0);
  const rname = readWireName(rdata, mname.next);
  const o = rname.next;
  return { serial: rdata.readUInt32BE(o), minimum: rdata.readUInt32BE(o + 16) };
}

/**
 * Builds a zone from parsed records: gathers them into RRsets and nodes (empty non-terminals
 * included), then checks the nodes the way named-checkzone and Knot do (semantic-check.ts).
 * Returns problems instead of throwing; a zone only when no problem is an error.
 */
export function buildZone(origin: Name, file: string, records: readonly ZoneRecord[], steered: readonly SteeredName[] = [], monitored: readonly MonitoredTarget[] = []): BuildResult {
  const problems: FileProblem[] = [];
  const error = (source: SourcePos, message: string): void => {
    problems.push({ file: source.file, line: source.line, message, severity: 'error' });
  };
  const warn = (source: SourcePos, message: string): void => {
    problems.push({ file: source.file, line: source.line, message, severity: 'warning' });
  };
  const originKey = nameKey(origin);
  const nodes = new Map<string, MutableNode>();
  const ensureNode = (name: Name): MutableNode => {
    const key = nameKey(name);
    let node = nodes.get(key);
    if (node) return node;
    node = { name, rrsets: new TypeMap(), isCut: false, children: 0 };
    nodes.set(key, node);
    // Empty non-terminals exist as nodes so they answer NODATA, not NXDOMAIN (RFC 4592 §2.2.2).
    for (let i = 1; name.length - i >= origin.length; i++) {
      const ancestor = name.slice(i);
      const aKey = nameKey(ancestor);
      const existing = nodes.get(aKey);
      if (existing) {
        existing.children++;
        break;
      }
      nodes.set(aKey, { name: ancestor, rrsets: new TypeMap(), isCut: false, children: 1 });
    }
    return node;
  };
  ensureNode(origin);

  let recordCount = 0;
  for (const rr of records) {
    const node = ensureNode(rr.owner);
    let set = node.rrsets.get(rr.type);
    if (!set) {
      // The node's Name is shared; the array starts at its exact size (a pushed-to array keeps room for 17).
      set = { owner: node.name, type: rr.type, class: rr.class, ttl: rr.ttl, rdatas: [rr.rdata], source: rr.source };
      node.rrsets.set(rr.type, set);
      recordCount++;
      continue;
    } else if (set.ttl !== rr.ttl) {
      // RFC 2181 §5.2: all TTLs of an RRset must match; like Knot, keep the first and warn.
      warn(rr.source, `TTL ${rr.ttl} differs from ${set.ttl} of the ${typeToText(rr.type)} RRset at ${nameToText(rr.owner)}; using ${set.ttl}`);
    }
    if (set.rdatas.some((r) => r.equals(rr.rdata))) continue; // RRsets hold no duplicates (RFC 2181 §5)
    set.rdatas.push(rr.rdata);
    recordCount++;
  }

  // A steered name exists in the zone even without static records, so its other types get NODATA.
  for (const s of steered) ensureNode(s.owner);

  // The semantic checks, a pass of their own over the gathered nodes (semantic-check.ts).
  const { soa, cuts } = checkZone(origin, file, nodes, steered, error);

  if (problems.some((p) => p.severity === 'error') || !soa) return { zone: null, problems };
  const { serial, minimum } = soaFields(soa.rdatas[0]!);
  for (const key of cuts) nodes.get(key)!.isCut = true;
  // Packed into one buffer: the objects built here are garbage once this returns.
  const frozenNodes = ZoneNodes.pack(nodes);
  nodes.clear();
  return {
    zone: {
      origin,
      originKey,
      file,
      nodes: frozenNodes,
      soa,
      serial,
      negativeTtl: Math.min(soa.ttl, minimum),
      recordCount,
      steered: new Map(steered.map((s) => [s.key, s])),
      monitored,
      ...NO_HISTORY,
    },
    problems,
  };
}
