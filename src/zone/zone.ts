import { type Name, nameKey, nameToText, readWireName } from '../dns/name.js';
import { RRType, typeToText } from '../dns/constants.js';
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
}

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

/** Types that may sit at a zone cut beside NS (RFC 4035 §2.4 for DS; NSEC/RRSIG for DNSSEC). */
export const TYPES_AT_CUT = new Set<number>([RRType.NS, RRType.DS, RRType.NSEC, RRType.RRSIG]);
/** Below a cut only address glue may exist (RFC 1034 §4.2.1). */
export const GLUE_TYPES = new Set<number>([RRType.A, RRType.AAAA]);
/** Types allowed beside CNAME (RFC 1034 §3.6.2; RFC 4035 for DNSSEC types). */
export const CNAME_COMPANIONS = new Set<number>([RRType.CNAME, RRType.RRSIG, RRType.NSEC]);

/** What the per-node checks need to know of the zone around a node. */
export interface NodeCheck {
  readonly originKey: string;
  readonly isCut: (key: string) => boolean;
  /** The key of the cut a name is below, or null. */
  readonly belowCut: (name: Name) => string | null;
  readonly error: (source: SourcePos, message: string) => void;
}

/** The checks of one node: SOA only at the apex, CNAME alone, only NS/DS at a cut, only glue below one. */
export function checkNode(key: string, node: { readonly name: Name; readonly rrsets: ReadonlyMap<number, RRset> }, c: NodeCheck): void {
  for (const set of node.rrsets.values()) {
    if (set.type === RRType.SOA && key !== c.originKey) c.error(set.source, `SOA record at ${nameToText(node.name)}, which is not the zone apex`);
  }
  const cname = node.rrsets.get(RRType.CNAME);
  if (cname) {
    if (cname.rdatas.length > 1) c.error(cname.source, `${cname.rdatas.length} CNAME records at ${nameToText(node.name)}; a name has at most one`);
    for (const set of node.rrsets.values()) {
      if (!CNAME_COMPANIONS.has(set.type)) {
        c.error(set.source, `${typeToText(set.type)} record at ${nameToText(node.name)} beside a CNAME (RFC 1034 §3.6.2)`);
      }
    }
  }
  if (c.isCut(key)) {
    for (const set of node.rrsets.values()) {
      if (!TYPES_AT_CUT.has(set.type)) c.error(set.source, `${typeToText(set.type)} record at the delegation point ${nameToText(node.name)}; only NS and DS belong there`);
    }
  }
  if (node.rrsets.size > 0) {
    const cut = c.belowCut(node.name);
    if (cut !== null) {
      for (const set of node.rrsets.values()) {
        if (!GLUE_TYPES.has(set.type)) c.error(set.source, `${typeToText(set.type)} record at ${nameToText(node.name)} is below the delegation to ${cut}.; only A/AAAA glue may be there`);
      }
    }
  }
}

/** Exactly one SOA and some NS at the apex, no DS there; returns the SOA RRset. */
export function checkApex(apex: { readonly name: Name; readonly rrsets: ReadonlyMap<number, RRset> }, file: string, error: NodeCheck['error']): RRset | undefined {
  const zoneFile = { file, line: 0 };
  const soa = apex.rrsets.get(RRType.SOA);
  if (!soa) error(zoneFile, `no SOA record at the zone apex ${nameToText(apex.name)}`);
  else if (soa.rdatas.length > 1) error(soa.source, `${soa.rdatas.length} SOA records at the apex; exactly one is allowed`);
  if (!apex.rrsets.has(RRType.NS)) error(soa?.source ?? zoneFile, `no NS records at the zone apex ${nameToText(apex.name)}`);
  const apexDs = apex.rrsets.get(RRType.DS);
  if (apexDs) error(apexDs.source, 'DS record at the zone apex; it belongs in the parent zone');
  return soa;
}

/** A steered name is neither at nor below a cut, and has no static A, AAAA or CNAME. */
export function checkSteered(s: SteeredName, node: { readonly rrsets: ReadonlyMap<number, RRset> }, c: NodeCheck): void {
  const where = `steered name ${nameToText(s.owner)}`;
  if (s.key !== c.originKey && c.belowCut(s.owner) !== null) c.error(s.source, `${where} is below a delegation`);
  if (c.isCut(s.key)) c.error(s.source, `${where} is a delegation point`);
  for (const type of [RRType.A, RRType.AAAA, RRType.CNAME]) {
    const set = node.rrsets.get(type);
    if (set) c.error(s.source, `${where} also has a static ${typeToText(type)} record at ${set.source.file}:${set.source.line}; a policy answers A/AAAA alone`);
  }
}

/** Reads the serial and MINIMUM out of SOA RDATA (RFC 1035 §3.3.13). */
export function soaFields(rdata: Buffer): { serial: number; minimum: number } {
  const mname = readWireName(rdata, 0);
  const rname = readWireName(rdata, mname.next);
  const o = rname.next;
  return { serial: rdata.readUInt32BE(o), minimum: rdata.readUInt32BE(o + 16) };
}

/**
 * Builds a zone from parsed records and checks it the way named-checkzone and Knot do:
 * exactly one SOA at the apex, NS at the apex, CNAME alone at its name, nothing but
 * glue below a delegation. Returns problems instead of throwing.
 */
export function buildZone(
  origin: Name,
  file: string,
  records: readonly ZoneRecord[],
  steered: readonly SteeredName[] = [],
  monitored: readonly MonitoredTarget[] = [],
): BuildResult {
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

  const apex = nodes.get(originKey)!;
  const soa = checkApex(apex, file, error);

  const cutKeys: string[] = [];
  for (const [key, node] of nodes) {
    if (key !== originKey && node.rrsets.has(RRType.NS)) cutKeys.push(key);
  }
  const cuts = new Set(cutKeys);
  const belowCut = (name: Name): string | null => {
    for (let i = 1; name.length - i > origin.length; i++) {
      const k = nameKey(name.slice(i));
      if (cuts.has(k)) return k;
    }
    return null;
  };

  const check: NodeCheck = { originKey, isCut: (key) => cuts.has(key), belowCut, error };
  for (const [key, node] of nodes) checkNode(key, node, check);
  for (const s of steered) checkSteered(s, nodes.get(s.key)!, check);

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
    },
    problems,
  };
}
