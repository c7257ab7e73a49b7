/**
 * Answers one question from a snapshot (RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC 6604,
 * RFC 8482). Pure: no I/O, no clock; the result is encoded and cached by the caller.
 */
import { Rcode, RRClass, RRType } from '../dns/constants.js';
import { type Name, labelKey, readWireName } from '../dns/name.js';
import { findZone, type Snapshot } from '../snapshot/snapshot.js';
import { lookupName, suffixKey } from '../zone/lookup.js';
import type { RRset, Zone, ZoneNode } from '../zone/zone.js';
import { emptyResolution, type Resolution, type SectionEntry } from './resolution.js';
import { chaosAnswer } from './chaos.js';
import type { Decision } from '../steer/decide.js';
import type { SteeredName } from '../steer/types.js';

export interface Question {
  /** QNAME labels as asked. */
  readonly labels: readonly string[];
  readonly labelKeys: readonly string[];
  readonly qtype: number;
  readonly qclass: number;
}

export interface ResolveOptions {
  /** RFC 8482 §4.1: over UDP an ANY query gets one RRset, over TCP all of them. */
  readonly minimalAny: boolean;
  /** Decides a steered name's A/AAAA answer for this query's client (issue #3). */
  readonly steer: (name: SteeredName, qtype: number) => Decision;
  /** RRsets an apex holds beside its nodes' (a signed zone's DNSKEY, CDS, CDNSKEY), listed by ANY. */
  readonly apexSets?: (zone: Zone) => readonly RRset[];
}

/** A CNAME chain is followed at most this far, which also bounds loops we fail to spot. */
const MAX_CNAME_CHAIN = 12;

/** Types whose RDATA names a host for which in-zone addresses go in the additional section (RFC 1035 §3.3.9, §3.3.11; RFC 2782). */
const ADDITIONAL_TARGET_OFFSET = new Map<number, number>([
  [RRType.NS, 0],
  [RRType.MX, 2],
  [RRType.SRV, 6],
]);

export function resolve(snapshot: Snapshot, q: Question, options: ResolveOptions): Resolution {
  if (q.qtype === RRType.OPT) return emptyResolution(Rcode.FORMERR);
  if (q.qclass === RRClass.CH) return chaosAnswer(snapshot.chaos, q);
  if (q.qclass !== RRClass.IN && q.qclass !== RRClass.ANY) return emptyResolution(Rcode.REFUSED);
  // Zone transfers go over TCP to src/transfer/; here (UDP) they get what Knot answers.
  if (q.qtype === RRType.AXFR) return emptyResolution(Rcode.NOTIMP);
  if (q.qtype === RRType.IXFR) return emptyResolution(Rcode.NOTAUTH);
  // Meta-queries for mailboxes are obsolete.
  if (q.qtype === RRType.MAILA || q.qtype === RRType.MAILB) return emptyResolution(Rcode.NOTIMP);

  const zone = findZone(snapshot, q.labelKeys, q.qtype);
  if (zone === null) return emptyResolution(Rcode.REFUSED);

  const answer: SectionEntry[] = [];
  const visited = new Set<string>();
  let current: { zone: Zone; labels: readonly string[]; labelKeys: readonly string[] } = { zone, labels: q.labels, labelKeys: q.labelKeys };
  for (let hop = 0; ; hop++) {
    visited.add(suffixKey(current.labelKeys, 0));
    const step = answerName(current.zone, current.labels, current.labelKeys, q.qtype, options);
    if (step.kind === 'referral') {
      // A referral reached through a CNAME stays authoritative for the CNAME part.
      return { ...step.resolution, authoritative: answer.length > 0, answer: answer.concat(step.resolution.answer) };
    }
    if (step.kind === 'done') {
      return { ...step.resolution, answer: answer.concat(step.resolution.answer) };
    }
    answer.push(step.cname);
    const target = readWireName(step.cname.set.rdatas[0]!, 0).name;
    const targetKeys = target.map(labelKey);
    const nextZone = findZone(snapshot, targetKeys, q.qtype);
    // Stop where the chain leaves our zones, loops, or grows too long: the resolver follows it (RFC 1034 §3.6.2).
    if (nextZone === null || visited.has(suffixKey(targetKeys, 0)) || hop >= MAX_CNAME_CHAIN) {
      return { rcode: Rcode.NOERROR, authoritative: true, answer, authority: [], additional: [], glueRequired: false };
    }
    current = { zone: nextZone, labels: target, labelKeys: targetKeys };
  }
}

type Step = { kind: 'done'; resolution: Resolution } | { kind: 'referral'; resolution: Resolution } | { kind: 'cname'; cname: SectionEntry };

function answerName(zone: Zone, labels: readonly string[], labelKeys: readonly string[], qtype: number, options: ResolveOptions): Step {
  const found = lookupName(zone, labelKeys, qtype);
  if (found.kind === 'delegation') return { kind: 'referral', resolution: referral(zone, found.cut) };
  if (found.kind === 'nxdomain') return { kind: 'done', resolution: negative(zone, Rcode.NXDOMAIN) };

  const node = found.node;
  const owner: Name = found.wildcard ? labels : node.name;
  if ((qtype === RRType.A || qtype === RRType.AAAA) && !found.wildcard && zone.steered.size > 0) {
    const steered = zone.steered.get(suffixKey(labelKeys, 0));
    if (steered) return { kind: 'done', resolution: steeredAnswer(zone, steered, qtype, options.steer(steered, qtype)) };
  }
  const cname = node.rrsets.get(RRType.CNAME);
  if (cname && qtype !== RRType.CNAME && qtype !== RRType.ANY) {
    return { kind: 'cname', cname: { owner, set: cname, ttl: cname.ttl } };
  }
  let sets: RRset[];
  if (qtype === RRType.ANY) {
    sets = [...node.rrsets.values()];
    // A steered name's addresses are part of its RRsets too.
    const steered = found.wildcard ? undefined : zone.steered.get(suffixKey(labelKeys, 0));
    if (steered) {
      for (const t of [RRType.A, RRType.AAAA]) {
        for (const e of steeredAnswer(zone, steered, t, options.steer(steered, t)).answer) sets.push(e.set);
      }
    }
    if (!found.wildcard && options.apexSets !== undefined && suffixKey(labelKeys, 0) === zone.originKey) sets.push(...options.apexSets(zone));
    if (options.minimalAny && sets.length > 1) sets = [smallestRRset(sets)];
  } else {
    const set = node.rrsets.get(qtype);
    sets = set ? [set] : [];
  }
  if (sets.length === 0) return { kind: 'done', resolution: negative(zone, Rcode.NOERROR) };
  const answer = sets.map((set) => ({ owner, set, ttl: set.ttl }));
  return {
    kind: 'done',
    resolution: { rcode: Rcode.NOERROR, authoritative: true, answer, authority: [], additional: addressesOf(zone, answer), glueRequired: false },
  };
}

/** The addresses of the targets a decision chose, as one RRset owned by the steered name. */
function steeredAnswer(zone: Zone, name: SteeredName, qtype: number, decision: Decision): Resolution {
  if (decision.outcome === 'servfail') return emptyResolution(Rcode.SERVFAIL);
  const rdatas: Buffer[] = [];
  for (const t of decision.targets) {
    const r = name.rdata.get(t.id);
    if (r) rdatas.push(...(qtype === RRType.A ? r.a : r.aaaa));
  }
  if (decision.outcome === 'nodata' || rdatas.length === 0) return negative(zone, Rcode.NOERROR);
  // While a target is down, a shorter TTL brings resolvers back sooner (as gdnsd does).
  const ttl = decision.anyDown && name.downTtl !== null ? Math.min(name.ttl, name.downTtl) : name.ttl;
  const set: RRset = { owner: name.owner, type: qtype, class: RRClass.IN, ttl, rdatas, source: name.source };
  return { rcode: Rcode.NOERROR, authoritative: true, answer: [{ owner: name.owner, set, ttl }], authority: [], additional: [], glueRequired: false };
}

/** RFC 8482 §4.1 leaves the choice of RRset open; the smallest one keeps the UDP answer short. */
function smallestRRset(sets: readonly RRset[]): RRset {
  let best = sets[0]!;
  let bestSize = Infinity;
  for (const s of sets) {
    const size = s.rdatas.reduce((n, r) => n + r.length, 0);
    if (size < bestSize) {
      best = s;
      bestSize = size;
    }
  }
  return best;
}

/** NXDOMAIN or NODATA: the SOA in authority with TTL min(SOA TTL, MINIMUM) (RFC 2308 §3, §5). */
function negative(zone: Zone, rcode: number): Resolution {
  return {
    rcode,
    authoritative: true,
    answer: [],
    authority: [{ owner: zone.origin, set: zone.soa, ttl: zone.negativeTtl }],
    additional: [],
    glueRequired: false,
  };
}

/** RFC 1034 §4.3.2 step 3b: the child's NS in authority, AA clear, glue in additional. */
function referral(zone: Zone, cut: ZoneNode): Resolution {
  const ns = cut.rrsets.get(RRType.NS)!;
  const authority = [{ owner: cut.name, set: ns, ttl: ns.ttl }];
  const additional = addressesOf(zone, authority);
  const cutKey = suffixKey(cut.name.map(labelKey), 0);
  const glueRequired = additional.some((e) => {
    const k = suffixKey(e.owner.map(labelKey), 0);
    return k === cutKey || k.endsWith('.' + cutKey);
  });
  return { rcode: Rcode.NOERROR, authoritative: false, answer: [], authority, additional, glueRequired };
}

/** In-zone A and AAAA records of the hosts named by NS, MX and SRV RDATA (RFC 1035 §4.1, RFC 2782). */
function addressesOf(zone: Zone, entries: readonly SectionEntry[]): SectionEntry[] {
  const out: SectionEntry[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const offset = ADDITIONAL_TARGET_OFFSET.get(entry.set.type);
    if (offset === undefined) continue;
    for (const rdata of entry.set.rdatas) {
      const target = readWireName(rdata, offset).name;
      const key = suffixKey(target.map(labelKey), 0);
      if (seen.has(key)) continue;
      seen.add(key);
      const node = zone.nodes.get(key);
      if (!node) continue;
      for (const type of [RRType.A, RRType.AAAA]) {
        const set = node.rrsets.get(type);
        if (set) out.push({ owner: node.name, set, ttl: set.ttl });
      }
    }
  }
  return out;
}
