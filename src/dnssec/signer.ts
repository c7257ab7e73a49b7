/**
 * Online signing (issue #16): turns the Resolution of one DO=1 query into a signed message.
 * Every authoritative RRset gets its RRSIGs; denial of existence is compact (RFC 9824: the
 * name "exists" with only NSEC and RRSIG, plus NXNAME when it does not) or, per zone, white
 * lies (RFC 4470: NXDOMAIN with NSECs covering just the next closer name and the wildcard);
 * either way no NSEC chain is kept and none can be walked. A wildcard expansion carries an
 * NSEC covering just its next closer name (minimally covering, RFC 4470 §3); a referral
 * carries the DS, or the cut's NSEC proving there is none. DNSKEY, CDS and CDNSKEY (RFC 7344)
 * are answered at the apex from the keys, and listed by ANY there. Signatures are cached by
 * the canonical RRset they cover, so an RRset signed once (a static answer, or a steered
 * answer another decision already produced) is not signed again until its signature is due
 * for refresh. Runs on a cache miss only: the responder caches the encoded result.
 */
import { RRClass, Rcode, RRType } from '../dns/constants.js';
import { type Name, labelKey, nameKey, readWireName, wireLength } from '../dns/name.js';
import { findZone, type Snapshot } from '../snapshot/snapshot.js';
import { lookupName, suffixKey } from '../zone/lookup.js';
import type { RRset, Zone, ZoneNode } from '../zone/zone.js';
import type { Resolution, SectionEntry } from '../resolve/resolution.js';
import { dsRdata, FLAGS_SEP, isActive, isPublished, isSynced, nextKeyEvent, type SigningKey } from './keys.js';
import { canonicalRRset, rrsigRdata } from './sign.js';

/** RFC 9824 §2: the pseudo-type that marks a name that does not exist. */
export const NXNAME = 128;

/** How a zone denies existence: compact (RFC 9824, black lies) or nsec (RFC 4470, white lies). */
export type Denial = 'compact' | 'nsec';

/** A signed zone: every key read for it, each used as its timing fields say. */
export interface ZoneKeys {
  readonly origin: Name;
  readonly keys: readonly SigningKey[];
  /** KSK/ZSK split: SEP keys sign the apex DNSKEY, CDS and CDNSKEY RRsets, the others the rest; false: every active key signs everything (CSK). */
  readonly split: boolean;
  /** Absent: compact. */
  readonly denial?: Denial;
}

/** What a zone's keys do at one instant, and until when (keysAt). */
export interface KeyState {
  /** Keys in the DNSKEY RRset (Publish ≤ now < Delete). */
  readonly published: readonly SigningKey[];
  /** Keys that sign (Activate ≤ now < Inactive, published, not revoked). */
  readonly active: readonly SigningKey[];
  /** SEP keys offered as CDS/CDNSKEY (SyncPublish ≤ now < SyncDelete). */
  readonly synced: readonly SigningKey[];
  /** Who signs the apex DNSKEY/CDS/CDNSKEY RRsets, and who every other RRset. */
  readonly keySigners: readonly SigningKey[];
  readonly zoneSigners: readonly SigningKey[];
  /** Seconds: the state holds from `from` until just before `until` (the next timing event; Infinity: none). */
  readonly from: number;
  readonly until: number;
}

/**
 * Which keys of a zone publish, sign and are offered to the parent at `now` (seconds). In a
 * split zone the KSKs sign the key RRsets and the ZSKs the rest; a side with no active key
 * leaves its RRsets to the other side's keys, so nothing goes unsigned while one exists.
 */
export function keysAt(zone: ZoneKeys, now: number): KeyState {
  const published = zone.keys.filter((k) => isPublished(k, now));
  const active = published.filter((k) => isActive(k, now));
  const synced = published.filter((k) => isSynced(k, now));
  let keySigners = active;
  let zoneSigners = active;
  if (zone.split) {
    const ksk = active.filter((k) => (k.flags & FLAGS_SEP) !== 0);
    const zsk = active.filter((k) => (k.flags & FLAGS_SEP) === 0);
    if (ksk.length > 0) keySigners = ksk;
    if (zsk.length > 0) zoneSigners = zsk;
  }
  return { published, active, synced, keySigners, zoneSigners, from: now, until: nextKeyEvent(zone.keys, now) };
}

/** A zone as the signer holds it: its keys, their state now, and the ids of its signer sets (for the signature cache). */
interface HeldZone {
  readonly keys: ZoneKeys;
  state: KeyState;
  keySignersId: string;
  zoneSignersId: string;
}

function hold(keys: ZoneKeys, now: number): HeldZone {
  const held = { keys, state: keysAt(keys, now), keySignersId: '', zoneSignersId: '' };
  setIds(held);
  return held;
}

function setIds(held: HeldZone): void {
  const origin = nameKey(held.keys.origin);
  held.keySignersId = `${origin}|${held.state.keySigners.map((k) => k.tag).join(',')}`;
  held.zoneSignersId = `${origin}|${held.state.zoneSigners.map((k) => k.tag).join(',')}`;
}

export interface SignerOptions {
  /** Milliseconds since the epoch; tests move it. */
  readonly now?: () => number;
  /** Signatures valid this long after signing (seconds); 14 days, as Knot's default. */
  readonly validitySec?: number;
  /** A signature is made afresh when less than this is left (seconds); 7 days. */
  readonly refreshSec?: number;
  /** Up to this much (seconds) is taken off each validity at random, so signatures do not all expire at once. */
  readonly jitterSec?: number;
  /** Inception this far in the past (seconds), for validators whose clock is behind. */
  readonly inceptionOffsetSec?: number;
  /** Signatures kept (one per RRset and key set); 0 keeps none. */
  readonly cacheMaxEntries: number;
}

export interface SignedMessage {
  readonly message: Resolution;
  /** Seconds since the epoch: from then on an answer holding these signatures is to be signed again. */
  readonly refreshAt: number;
}

interface CachedSignature {
  readonly rdatas: readonly Buffer[];
  readonly refreshAt: number;
}

const NOWHERE = { file: '', line: 0 };
const DAY = 86_400;

export class DnssecSigner {
  /** Signed zones by origin key. */
  #zones: Map<string, HeldZone>;
  /** Signatures made (not taken from the cache), for the metrics and the benchmark. */
  signatures = 0;
  readonly #sigs = new Map<string, CachedSignature>();
  readonly #listeners: (() => void)[] = [];
  readonly #now: () => number;
  readonly #validity: number;
  readonly #refresh: number;
  readonly #jitter: number;
  readonly #inceptionOffset: number;
  readonly #maxEntries: number;

  constructor(zones: readonly ZoneKeys[], options: SignerOptions) {
    this.#now = options.now ?? Date.now;
    this.#zones = new Map(zones.map((z) => [nameKey(z.origin), hold(z, this.nowSec())]));
    this.#validity = options.validitySec ?? 14 * DAY;
    this.#refresh = Math.min(options.refreshSec ?? 7 * DAY, this.#validity);
    this.#jitter = Math.min(options.jitterSec ?? DAY, this.#validity - this.#refresh);
    this.#inceptionOffset = options.inceptionOffsetSec ?? 3600;
    this.#maxEntries = options.cacheMaxEntries;
  }

  get size(): number {
    return this.#sigs.size;
  }

  /** The signed zones' keys, by origin key. */
  get zones(): ReadonlyMap<string, ZoneKeys> {
    return new Map([...this.#zones].map(([k, h]) => [k, h.keys]));
  }

  /**
   * Puts in keys read afresh (a reload); zones it does not name keep theirs. Signatures and
   * the listeners' caches (signed answers) go, as they may hold a key that is gone.
   */
  setKeys(zones: readonly ZoneKeys[]): void {
    const next = new Map(this.#zones);
    for (const z of zones) next.set(nameKey(z.origin), hold(z, this.nowSec()));
    this.#zones = next;
    this.#sigs.clear();
    for (const fn of this.#listeners) fn();
  }

  /** Called after setKeys: the responder empties its answer caches. */
  onKeysChanged(fn: () => void): void {
    this.#listeners.push(fn);
  }

  /** What a zone's keys do now (origin key), recomputed when a timing event has passed. */
  stateOf(originKey: string): KeyState | null {
    const held = this.#zones.get(originKey);
    return held === undefined ? null : this.#current(held, this.nowSec()).state;
  }

  /** Milliseconds since the epoch of the next timing event of any zone's keys (Infinity: none). */
  nextEventMs(): number {
    const now = this.nowSec();
    let next = Infinity;
    for (const held of this.#zones.values()) next = Math.min(next, this.#current(held, now).state.until);
    return next * 1000;
  }

  #current(held: HeldZone, now: number): HeldZone {
    const s = held.state;
    // A clock set back (a test's, or an operator's) is a new instant like any other.
    if (now >= s.until || now < s.from) {
      held.state = keysAt(held.keys, now);
      setIds(held);
    }
    return held;
  }

  /** Milliseconds since the epoch, by the signer's clock. */
  nowMs(): number {
    return this.#now();
  }

  nowSec(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** The signed zone holding `labelKeys` for `qtype`, with its keys now; null when that zone is not signed. */
  #signedZone(snapshot: Snapshot, labelKeys: readonly string[], qtype: number, now: number): { zone: Zone; keys: HeldZone } | null {
    const zone = findZone(snapshot, labelKeys, qtype);
    if (zone === null) return null;
    const held = this.#zones.get(zone.originKey);
    return held === undefined ? null : { zone, keys: this.#current(held, now) };
  }

  /**
   * DNSKEY, CDS or CDNSKEY at the apex of a signed zone, answered with or without DO; null for
   * any other question. `message` is null when the RRset is empty (no key offered as CDS: the
   * zone's NODATA is the answer). refreshAt is the next timing event, when the RRset changes.
   */
  apexAnswer(
    snapshot: Snapshot,
    q: { readonly labelKeys: readonly string[]; readonly qtype: number; readonly qclass: number },
  ): { readonly message: Resolution | null; readonly refreshAt: number } | null {
    if (q.qtype !== RRType.DNSKEY && q.qtype !== RRType.CDS && q.qtype !== RRType.CDNSKEY) return null;
    if (q.qclass !== RRClass.IN || !this.#zones.has(suffixKey(q.labelKeys, 0))) return null;
    const signed = this.#signedZone(snapshot, q.labelKeys, q.qtype, this.nowSec());
    if (signed === null || signed.zone.originKey !== suffixKey(q.labelKeys, 0)) return null;
    const set = apexSet(signed.zone, signed.keys.state, q.qtype);
    if (set === null) return { message: null, refreshAt: signed.keys.state.until };
    return {
      message: { rcode: Rcode.NOERROR, authoritative: true, answer: [{ owner: signed.zone.origin, set, ttl: set.ttl }], authority: [], additional: [], glueRequired: false },
      refreshAt: signed.keys.state.until,
    };
  }

  /**
   * The key RRsets of a signed zone's apex as they are now (DNSKEY, and CDS and CDNSKEY while
   * a key is offered), which ANY lists with the apex's other RRsets; none for an unsigned zone.
   * refreshAt: the next timing event, when they change (Infinity: none).
   */
  apexKeySets(zone: Zone): { readonly sets: readonly RRset[]; readonly refreshAt: number } {
    const held = this.#zones.get(zone.originKey);
    if (held === undefined) return { sets: [], refreshAt: Infinity };
    const state = this.#current(held, this.nowSec()).state;
    const sets: RRset[] = [];
    for (const t of [RRType.DNSKEY, RRType.CDS, RRType.CDNSKEY]) {
      const set = apexSet(zone, state, t);
      if (set !== null) sets.push(set);
    }
    return { sets, refreshAt: state.until };
  }

  /** The answer to a DO=1 query with its RRSIGs and denial of existence; `res` unchanged when no signed zone is involved. */
  sign(snapshot: Snapshot, q: { readonly labels: readonly string[]; readonly labelKeys: readonly string[]; readonly qtype: number }, res: Resolution): SignedMessage {
    const now = this.nowSec();
    const state = { refreshAt: Infinity };
    if (res.rcode !== Rcode.NOERROR && res.rcode !== Rcode.NXDOMAIN) return { message: res, refreshAt: Infinity };
    const answer: SectionEntry[] = [];
    const authority: SectionEntry[] = [];
    const proved = new Set<string>();
    for (const entry of res.answer) {
      answer.push(entry);
      const signed = this.#signedZone(snapshot, entry.set.owner.map(labelKey), entry.set.type, now);
      if (signed === null) continue;
      this.#addRrsig(answer, signed.keys, entry, now, state);
      // A wildcard expansion: prove the next closer name does not exist (RFC 4035 §3.1.3.3).
      if (entry.set.owner[0] === '*' && entry.owner.length > entry.set.owner.length - 1 && entry.owner[0] !== '*') {
        const nextCloser = entry.owner.slice(entry.owner.length - entry.set.owner.length);
        const key = nameKey(nextCloser);
        if (!proved.has(key)) {
          proved.add(key);
          this.#addNsec(authority, signed.keys, this.#cover(signed.zone, signed.keys.state, nextCloser), now, state);
        }
      }
    }
    let rcode = res.rcode;
    const negative = res.authoritative && res.authority.some((e) => e.set.type === RRType.SOA) && !answer.some((e) => e.set.type === q.qtype || q.qtype === RRType.ANY);
    for (const entry of res.authority) {
      authority.push(entry);
      if (!res.authoritative) {
        // A referral: the NS RRset is not signed (it is the child's); the DS, or its absence, is (RFC 4035 §3.1.4).
        if (entry.set.type === RRType.NS) this.#delegation(snapshot, authority, entry, now, state);
        continue;
      }
      const signed = this.#signedZone(snapshot, entry.set.owner.map(labelKey), entry.set.type, now);
      if (signed !== null) this.#addRrsig(authority, signed.keys, entry, now, state);
    }
    if (negative) {
      const denied = deniedName(q.labels, res);
      const signed = this.#signedZone(snapshot, denied.map(labelKey), q.qtype, now);
      if (signed !== null && signed.keys.keys.denial === 'nsec') {
        for (const nsec of this.#whiteLies(signed.zone, signed.keys.state, denied, q.qtype, rcode === Rcode.NXDOMAIN)) this.#addNsec(authority, signed.keys, nsec, now, state);
      } else if (signed !== null) {
        const types = this.#typesAt(signed.zone, signed.keys.state, denied, q.qtype);
        // RFC 9824 §3: NXDOMAIN becomes NOERROR, with NXNAME in the bitmap saying why.
        if (rcode === Rcode.NXDOMAIN) rcode = Rcode.NOERROR;
        this.#addNsec(authority, signed.keys, nsecSet(denied, ['\0', ...denied], types, signed.zone.negativeTtl), now, state);
      }
    }
    const additional: SectionEntry[] = [];
    for (const entry of res.additional) {
      additional.push(entry);
      // Glue is not authoritative data and is not signed; the addresses of in-zone MX/SRV/NS targets are.
      if (!res.authoritative) continue;
      const signed = this.#signedZone(snapshot, entry.set.owner.map(labelKey), entry.set.type, now);
      if (signed !== null && lookupName(signed.zone, entry.set.owner.map(labelKey), entry.set.type).kind === 'node') this.#addRrsig(additional, signed.keys, entry, now, state);
    }
    return { message: { ...res, rcode, answer, authority, additional }, refreshAt: state.refreshAt };
  }

  /** A referral from a signed zone: the cut's DS RRset signed, or its NSEC showing there is no DS. */
  #delegation(snapshot: Snapshot, out: SectionEntry[], ns: SectionEntry, now: number, state: { refreshAt: number }): void {
    const cutKeys = ns.set.owner.map(labelKey);
    const signed = this.#signedZone(snapshot, cutKeys, RRType.DS, now);
    if (signed === null) return;
    const found = lookupName(signed.zone, cutKeys, RRType.DS);
    if (found.kind !== 'node') return;
    const ds = found.node.rrsets.get(RRType.DS);
    if (ds !== undefined) {
      out.push({ owner: ns.owner, set: ds, ttl: ds.ttl });
    } else {
      const types = [...found.node.rrsets.keys(), RRType.RRSIG, RRType.NSEC];
      const nsec = nsecSet(ns.set.owner, ['\0', ...ns.set.owner], types, signed.zone.negativeTtl);
      out.push({ owner: ns.owner, set: nsec, ttl: nsec.ttl });
    }
    this.#addRrsig(out, signed.keys, out[out.length - 1]!, now, state);
  }

  /**
   * RFC 4470 white lies for a negative answer at `denied`: NXDOMAIN gets an NSEC covering the
   * next closer name and one covering the wildcard at the closest encloser (RFC 4035
   * §3.1.3.2), each spanning no name but the one it denies; NODATA an NSEC at the name with
   * its types, or at a wildcard that matched it plus one covering the next closer name
   * (§3.1.3.4).
   */
  #whiteLies(zone: Zone, state: KeyState, denied: Name, qtype: number, nxdomain: boolean): RRset[] {
    const keys = denied.map(labelKey);
    const ttl = zone.negativeTtl;
    if (nxdomain) {
      const nextCloser = denied.slice(denied.length - closestEncloserLength(zone, keys) - 1);
      const wildcard = ['*', ...nextCloser.slice(1)];
      const covers = [this.#cover(zone, state, nextCloser)];
      if (nameKey(wildcard) !== nameKey(nextCloser)) covers.push(this.#cover(zone, state, wildcard));
      return covers;
    }
    const found = lookupName(zone, keys, qtype);
    if (found.kind === 'node' && found.wildcard) {
      const star = found.node.name;
      const types = this.#nodeTypes(zone, state, found.node, star, false);
      types.delete(qtype);
      return [nsecSet(star, ['\0', ...star], [...types], ttl), this.#cover(zone, state, denied.slice(denied.length - star.length))];
    }
    return [nsecSet(denied, ['\0', ...denied], this.#typesAt(zone, state, denied, qtype), ttl)];
  }

  /**
   * An NSEC covering `name` (which does not exist) and no other name of the zone: from just
   * before it to just after it (RFC 4470 §3), owned by a name that does not exist either
   * (unless the one just before is real: then with that name's own types).
   */
  #cover(zone: Zone, state: KeyState, name: Name): RRset {
    const owner = coverStart(zone, name);
    const found = lookupName(zone, owner.map(labelKey), RRType.DS);
    const types = found.kind === 'node' && !found.wildcard ? [...this.#nodeTypes(zone, state, found.node, owner, true)] : [RRType.RRSIG, RRType.NSEC];
    return nsecSet(owner, coverEnd(zone, name), types, zone.negativeTtl);
  }

  /** Appends an NSEC RRset and its RRSIGs. */
  #addNsec(out: SectionEntry[], held: HeldZone, nsec: RRset, now: number, state: { refreshAt: number }): void {
    out.push({ owner: nsec.owner, set: nsec, ttl: nsec.ttl });
    this.#addRrsig(out, held, out[out.length - 1]!, now, state);
  }

  /** The types that exist at `name` for a NODATA proof (never `qtype`, which is what is denied), or NXNAME's set when nothing is there. */
  #typesAt(zone: Zone, state: KeyState, name: Name, qtype: number): number[] {
    const found = lookupName(zone, name.map(labelKey), qtype);
    if (found.kind !== 'node') return [RRType.RRSIG, RRType.NSEC, NXNAME];
    const types = this.#nodeTypes(zone, state, found.node, name, !found.wildcard);
    types.delete(qtype);
    return [...types];
  }

  /** The types at a node: its RRsets, a steered name's addresses and the apex's keys when `own` (not a wildcard's), RRSIG and NSEC. */
  #nodeTypes(zone: Zone, state: KeyState, node: ZoneNode, name: Name, own: boolean): Set<number> {
    const keys = name.map(labelKey);
    const types = new Set<number>(node.rrsets.keys());
    if (own) {
      const steered = zone.steered.get(suffixKey(keys, 0));
      if (steered !== undefined) {
        // The name's own targets (the rdata map is shared by every name of the policy file).
        for (const t of steered.targets) {
          const r = steered.rdata.get(t.id);
          if (r !== undefined && r.a.length > 0) types.add(RRType.A);
          if (r !== undefined && r.aaaa.length > 0) types.add(RRType.AAAA);
        }
      }
      if (suffixKey(keys, 0) === zone.originKey) {
        if (state.published.length > 0) types.add(RRType.DNSKEY);
        if (state.synced.length > 0) {
          types.add(RRType.CDS);
          types.add(RRType.CDNSKEY);
        }
      }
    }
    types.add(RRType.RRSIG);
    types.add(RRType.NSEC);
    return types;
  }

  /** Appends the RRSIG RRset of `entry` (one per signing key) to `out`. */
  #addRrsig(out: SectionEntry[], held: HeldZone, entry: SectionEntry, now: number, state: { refreshAt: number }): void {
    const set = entry.set;
    const keys = held.state;
    // The answer is built afresh when the zone's keys next change, whatever its signatures' validity.
    if (keys.until < state.refreshAt) state.refreshAt = keys.until;
    const owner = set.owner;
    const apexKeys = (set.type === RRType.DNSKEY || set.type === RRType.CDS || set.type === RRType.CDNSKEY) && owner.length === held.keys.origin.length;
    const signers = apexKeys ? keys.keySigners : keys.zoneSigners;
    if (set.rdatas.length === 0 || signers.length === 0 || set.type === RRType.RRSIG) return;
    const labels = owner[0] === '*' ? owner.length - 1 : owner.length;
    const canonical = canonicalRRset(owner, set.type, set.class, set.ttl, set.rdatas);
    const cacheKey = `${apexKeys ? held.keySignersId : held.zoneSignersId}|${labels}|${canonical.toString('latin1')}`;
    let sig = this.#sigs.get(cacheKey);
    if (sig === undefined || sig.refreshAt <= now) {
      const jitter = Math.floor(Math.random() * this.#jitter);
      const times = { inception: now - this.#inceptionOffset, expiration: now + this.#validity - jitter };
      const rdatas = signers.map((key) => rrsigRdata(key, set.type, labels, set.ttl, times, canonical));
      this.signatures += rdatas.length;
      sig = { rdatas, refreshAt: times.expiration - this.#refresh };
      if (this.#maxEntries > 0) {
        if (this.#sigs.size >= this.#maxEntries) this.#sigs.clear();
        this.#sigs.set(cacheKey, sig);
      }
    }
    if (sig.refreshAt < state.refreshAt) state.refreshAt = sig.refreshAt;
    const rrsig: RRset = { owner: entry.owner, type: RRType.RRSIG, class: set.class, ttl: entry.ttl, rdatas: sig.rdatas, source: NOWHERE };
    out.push({ owner: entry.owner, set: rrsig, ttl: entry.ttl });
  }
}

/** DNSKEY (every published key), CDS and CDNSKEY (the SEP keys offered to the parent, RFC 7344 §4) of a signed zone's apex, with the SOA's TTL. */
function apexSet(zone: Zone, keys: KeyState, qtype: number): RRset | null {
  let rdatas: Buffer[];
  if (qtype === RRType.DNSKEY) rdatas = keys.published.map((k) => k.dnskey);
  else rdatas = qtype === RRType.CDS ? keys.synced.map((k) => dsRdata(zone.origin, k.dnskey)) : keys.synced.map((k) => k.dnskey);
  if (rdatas.length === 0) return null;
  return { owner: zone.origin, type: qtype, class: RRClass.IN, ttl: zone.soa.ttl, rdatas, source: NOWHERE };
}

/** The name a negative answer denies: QNAME, or the target of the CNAME chain's last link. */
function deniedName(qname: readonly string[], res: Resolution): Name {
  const last = res.answer[res.answer.length - 1];
  if (last !== undefined && last.set.type === RRType.CNAME) return readWireName(last.set.rdatas[0]!, 0).name;
  return qname;
}

/** An NSEC RRset: next name uncompressed (RFC 4034 §4.1.1), then the type bitmap (§4.1.2). */
function nsecSet(owner: Name, next: Name, types: readonly number[], ttl: number): RRset {
  const parts: Buffer[] = [];
  for (const label of next) parts.push(Buffer.from([label.length]), Buffer.from(lowerLabel(label), 'latin1'));
  parts.push(Buffer.from([0]), typeBitmap(types));
  return { owner, type: RRType.NSEC, class: RRClass.IN, ttl, rdatas: [Buffer.concat(parts)], source: NOWHERE };
}

/** RFC 4034 §4.1.2: per window of 256 types, its number, the bitmap's length and the bitmap. */
export function typeBitmap(types: readonly number[]): Buffer {
  const windows = new Map<number, number[]>();
  for (const t of new Set(types)) {
    const w = t >> 8;
    if (!windows.has(w)) windows.set(w, []);
    windows.get(w)!.push(t & 0xff);
  }
  const parts: Buffer[] = [];
  for (const w of [...windows.keys()].sort((a, b) => a - b)) {
    const low = windows.get(w)!;
    const len = (Math.max(...low) >> 3) + 1;
    const bits = Buffer.alloc(2 + len);
    bits[0] = w;
    bits[1] = len;
    for (const t of low) bits[2 + (t >> 3)] = bits[2 + (t >> 3)]! | (0x80 >> (t & 7));
    parts.push(bits);
  }
  return Buffer.concat(parts);
}

function lowerLabel(label: string): string {
  let out = '';
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  return out;
}

/** Labels of the closest encloser of `keys` (a name of `zone` that does not exist): the longest of its ancestors the zone holds. */
function closestEncloserLength(zone: Zone, keys: readonly string[]): number {
  for (let i = keys.length - zone.origin.length - 1; i >= 0; i--) if (!zone.nodes.has(suffixKey(keys, i))) return keys.length - i - 1;
  return keys.length;
}

/** An octet one up or down, lower-cased names being what canonical order compares: it never lands on a capital. */
function stepOctet(c: number, by: 1 | -1): number {
  const next = c + by;
  if (next >= 0x41 && next <= 0x5a) return by === 1 ? 0x5b : 0x40;
  return next;
}

/**
 * Where an NSEC covering `name` (not in `zone`) starts: the name just before it in canonical
 * order (RFC 4034 §6.1), as RFC 4470 §2 makes it, so that nothing of the zone can lie in
 * between: its first label's last octet one lower, that label filled with \255 to 63 octets,
 * then the last name below that (\255 labels up to 255 octets). A label ending in \0 comes
 * right after the name without that octet and all below it: that name when it holds nothing
 * below (or is a zone cut, whose NSEC spans its subtree as a chain's would), else the last
 * name of its subtree (RFC 4471 §3.1.1).
 */
function coverStart(zone: Zone, name: Name): Name {
  const first = lowerLabel(name[0]!);
  const rest = name.slice(1);
  const last = first.charCodeAt(first.length - 1);
  if (last !== 0) {
    const label = first.slice(0, -1) + String.fromCharCode(stepOctet(last, -1));
    const room = 255 - wireLength([label, ...rest]);
    return lastBelow([label + '\xff'.repeat(Math.max(0, Math.min(63 - label.length, room))), ...rest]);
  }
  const stem = first.slice(0, -1);
  // "\0.<rest>" is the first name below <rest>.
  if (stem.length === 0) return rest;
  const sibling = [stem, ...rest];
  const found = lookupName(zone, sibling.map(labelKey), RRType.DS);
  if (found.kind === 'node' && !found.wildcard && (found.node.children === 0 || found.node.isCut)) return sibling;
  return lastBelow(sibling);
}

/** The last name below `name` in canonical order: \255 labels prepended up to 255 octets (`name` itself when there is no room). */
function lastBelow(name: Name): Name {
  const out = [...name];
  let room = 255 - wireLength(name);
  while (room >= 2) {
    const n = Math.min(63, room - 1);
    out.unshift('\xff'.repeat(n));
    room -= n + 1;
  }
  return out;
}

/**
 * Where an NSEC covering `name` ends: the first name after it and all below it, its first
 * label with \0 appended; a full label's (or a 255-octet name's) last octet raised instead (its trailing \255s
 * dropped); a label of \255s only is the last below its parent, so the parent's end (at the
 * apex, the apex: the chain wraps).
 */
function coverEnd(zone: Zone, name: Name): Name {
  const first = lowerLabel(name[0]!);
  const rest = name.slice(1);
  // \0 appended, where the label and the name have room for it (a name is at most 255 octets)
  if (first.length < 63 && wireLength(name) < 255) return [first + '\0', ...rest];
  const stem = first.replace(/\xff+$/, '');
  if (stem.length > 0) return [stem.slice(0, -1) + String.fromCharCode(stepOctet(stem.charCodeAt(stem.length - 1), 1)), ...rest];
  return rest.length <= zone.origin.length ? zone.origin : coverEnd(zone, rest);
}
