/**
 * The semantic checks of a zone, a pass of their own (as Knot's semantic-check.c): buildZone
 * gathers the records into nodes, then runs checkZone over them; an incremental update
 * (zone-update.ts) runs checkNode, checkSteered and checkApex on the nodes it touched, so
 * both give the same problems with the same `file:line`.
 */
import { type Name, nameKey, nameToText } from '../dns/name.js';
import { RRType, typeToText } from '../dns/constants.js';
import type { SourcePos } from '../problems/types.js';
import type { SteeredName } from '../steer/types.js';
import type { RRset } from './zone.js';

/** Types that may sit at a zone cut beside NS (RFC 4035 §2.4 for DS; NSEC/RRSIG for DNSSEC). */
export const TYPES_AT_CUT = new Set<number>([RRType.NS, RRType.DS, RRType.NSEC, RRType.RRSIG]);
/** Below a cut only address glue may exist (RFC 1034 §4.2.1). */
export const GLUE_TYPES = new Set<number>([RRType.A, RRType.AAAA]);
/** Types allowed beside CNAME (RFC 1034 §3.6.2; RFC 4035 for DNSSEC types). */
export const CNAME_COMPANIONS = new Set<number>([RRType.CNAME, RRType.RRSIG, RRType.NSEC]);

/** A node as the checks read it: its name and RRsets. */
export interface CheckedNode {
  readonly name: Name;
  readonly rrsets: ReadonlyMap<number, RRset>;
}

export type ProblemSink = (source: SourcePos, message: string) => void;

/** What the per-node checks need to know of the zone around a node. */
export interface NodeCheck {
  readonly originKey: string;
  readonly isCut: (key: string) => boolean;
  /** The key of the cut a name is below, or null. */
  readonly belowCut: (name: Name) => string | null;
  readonly error: ProblemSink;
}

/**
 * Every check of a zone's nodes, by nameKey: the apex (checkApex), each node (checkNode) and
 * each steered name (checkSteered, whose node must exist). Returns the apex SOA (undefined
 * when missing) and the keys of the zone cuts: names other than the apex with NS.
 */
export function checkZone(origin: Name, file: string, nodes: ReadonlyMap<string, CheckedNode>, steered: readonly SteeredName[], error: ProblemSink): { soa: RRset | undefined; cuts: Set<string> } {
  const originKey = nameKey(origin);
  const soa = checkApex(nodes.get(originKey)!, file, error);
  const cuts = new Set<string>();
  for (const [key, node] of nodes) {
    if (key !== originKey && node.rrsets.has(RRType.NS)) cuts.add(key);
  }
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
  return { soa, cuts };
}

/** The checks of one node: SOA only at the apex, CNAME alone, only NS/DS at a cut, only glue below one. */
export function checkNode(key: string, node: CheckedNode, c: NodeCheck): void {
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
