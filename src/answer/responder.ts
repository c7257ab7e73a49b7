/**
 * The data plane for one packet: read → cache → resolve → encode → finish for the transport.
 * Synchronous, no I/O. Answers are cached encoded; a hit only copies bytes and patches
 * the ID, the RD/CD bits, the question's case and the OPT record.
 */
import { Rcode, RRClass, RRType } from '../dns/constants.js';
import { clientSubnetOptionLength, readClientSubnet, writeClientSubnetOption, type ClientSubnet } from '../dns/client-subnet.js';
import { decide, type Decision } from '../steer/decide.js';
import type { ClientInfo, SteeredName } from '../steer/types.js';
import { findZone, steeringEnv, type Snapshot, type SnapshotStore } from '../snapshot/snapshot.js';
import { QueryStats } from '../metrics/query-stats.js';
import { AnswerCache, ownAnswer, plainNegative, type CachedAnswer } from './answer-cache.js';
import { QuestionIndex, type Transport } from './question-index.js';
import { cacheablePrefix, DecisionCache, type ClientBits } from './decision-cache.js';
import { QueryContext } from './query-context.js';
import { ipv4Number, parseAddress, unmapIPv4 } from '../net/ip-parse.js';
import { MessageWriter, NEVER_STALE, type AdditionalCut, type EncodedResponse } from '../dns/message-writer.js';
import { readQuery, readSoleOpt, type EdnsInfo } from '../dns/query-reader.js';
import { resolve } from '../resolve/resolver.js';
import { ClientAddressReader } from '../protect/client-address.js';
import { COOKIE_OPTION, cookieLengthIsValid, CookieVerdict, RESPONSE_COOKIE_LENGTH, RESPONSE_COOKIE_OPTION_LENGTH, type ServerCookies } from '../protect/cookies.js';
import { hashText, hashWireName, ResponseKind, RrlAction, type ResponseRateLimiter } from '../protect/rrl.js';
import type { QueryLog } from '../log/query-log.js';
import type { DnssecSigner } from '../dnssec/signer.js';

export type { Transport };

export interface ResponderOptions {
  /** Our EDNS UDP payload size (RFC 6891 §6.2.5); 1232 avoids IP fragmentation (DNS Flag Day 2020). */
  readonly udpPayloadSize: number;
  readonly cacheMaxEntries: number;
  /** Internet-facing protection (src/protect, src/log/query-log.ts); each absent or null when off. */
  readonly cookies?: ServerCookies | null;
  /** The NSID option (code, length, data) sent to queries that ask (RFC 5001). */
  readonly nsid?: Buffer | null;
  readonly rrl?: ResponseRateLimiter | null;
  readonly queryLog?: QueryLog | null;
  /** Online DNSSEC signing of the zones it holds keys for (src/dnssec); null when no zone is signed. */
  readonly dnssec?: DnssecSigner | null;
}

/** Where a question seen before leads: its answer, or (A/AAAA of a steered name) the name whose decisions to look up. */
/** A steered name's question in the question index: its answer depends on the client, so the index keeps the name and the decision cache the answers. */
class SteeredQuestion {
  /** Depends on its own name only (AnswerTags): a decision cache entry holds the rest. */
  readonly own = true;
  readonly negative = false;
  constructor(
    readonly steered: SteeredName,
    readonly qtype: number,
    /** The question's name key (AnswerTags). */
    readonly name: string,
  ) {}
}

/** What the question index keeps: a static answer itself, or a steered name's question. */
type IndexedQuestion = CachedAnswer | SteeredQuestion;

const HEADER = 12;
const OPT_LENGTH = 11;
/** Without EDNS a UDP message is at most 512 octets (RFC 1035 §2.3.4). */
const CLASSIC_UDP_LIMIT = 512;
const BADCOOKIE = Rcode.BADCOOKIE;

export class Responder {
  readonly #store: SnapshotStore;
  readonly #options: ResponderOptions;
  readonly #writer = new MessageWriter();
  readonly cache: AnswerCache;
  /** Steering decisions per client network (issue #7); same size limit as the answer cache. */
  readonly decisions: DecisionCache<CachedAnswer>;
  readonly stats = new QueryStats();
  /** The fast path's index of questions seen in this snapshot; same size limit as the answer cache. */
  readonly questions: QuestionIndex<IndexedQuestion>;

  readonly #cookies: ServerCookies | null;
  readonly #nsid: Buffer | null;
  readonly #rrl: ResponseRateLimiter | null;
  readonly #queryLog: QueryLog | null;
  readonly #dnssec: DnssecSigner | null;
  readonly #addresses = new ClientAddressReader();
  readonly #watching: boolean;
  /** The query being answered (one context, reset per query: see query-context.ts). */
  readonly #ctx = new QueryContext();

  constructor(store: SnapshotStore, options: ResponderOptions) {
    this.#store = store;
    this.#options = options;
    this.#cookies = options.cookies ?? null;
    this.#nsid = options.nsid ?? null;
    this.#rrl = options.rrl ?? null;
    this.#queryLog = options.queryLog ?? null;
    this.#dnssec = options.dnssec ?? null;
    this.#watching = this.#rrl !== null || this.#queryLog !== null;
    this.cache = new AnswerCache(options.cacheMaxEntries);
    this.decisions = new DecisionCache<CachedAnswer>(options.cacheMaxEntries);
    this.questions = new QuestionIndex<IndexedQuestion>(options.cacheMaxEntries, this.#dnssec !== null);
    // Keys read afresh (SIGHUP, the key folder watch): no answer signed by a key now gone may be served again.
    this.#dnssec?.onKeysChanged(() => {
      this.cache.clear();
      this.decisions.clear();
      this.questions.clear();
    });
  }

  /** The online signer (null when no zone is signed), for its counters. */
  get dnssec(): DnssecSigner | null {
    return this.#dnssec;
  }

  /** The protection parts in use (null when off), for their counters. */
  get protection(): { readonly cookies: ServerCookies | null; readonly rrl: ResponseRateLimiter | null; readonly queryLog: QueryLog | null } {
    return { cookies: this.#cookies, rrl: this.#rrl, queryLog: this.#queryLog };
  }

  /** Writes out what the query log holds and closes it. */
  async close(): Promise<void> {
    await this.#queryLog?.close();
  }

  /**
   * The response to `packet`, or null when it must be dropped. `source` is the address the
   * query came from: the client's location when the query has no usable ECS option.
   */
  respond(packet: Buffer, transport: Transport, source: string, port = 0): Buffer | null {
    const ctx = this.#ctx;
    ctx.reset(packet, transport, source, port, performance.now());
    // Rate limiting and the query log look at each answer; without them, one test.
    if (this.#watching) return this.#respondWatched(ctx);
    const out = this.#fromQuestionIndex(ctx) ?? this.#respond(ctx);
    if (out === null) this.stats.dropped++;
    else this.stats.record(ctx.zone, ctx.qtype, (out[3]! & 0x0f) | (ctx.extendedRcode << 4), (performance.now() - ctx.started) * 1000);
    return out;
  }

  /** respond() with rate limiting, the query log, or both. */
  #respondWatched(ctx: QueryContext): Buffer | null {
    let out = this.#fromQuestionIndex(ctx) ?? this.#respond(ctx);
    if (out === null) this.stats.dropped++;
    else {
      this.stats.record(ctx.zone, ctx.qtype, (out[3]! & 0x0f) | (ctx.extendedRcode << 4), (performance.now() - ctx.started) * 1000);
      // TCP is never limited: a TCP client has shown that its address is its own.
      if (this.#rrl !== null && ctx.transport === 'udp') out = this.#limit(ctx, out);
    }
    if (this.#queryLog !== null && this.#queryLog.sampled()) {
      this.#queryLog.add(
        ctx.packet,
        out,
        out === null ? 0 : (out[3]! & 0x0f) | (ctx.extendedRcode << 4),
        ctx.transport,
        ctx.source,
        ctx.port,
        (performance.now() - ctx.started) * 1000,
        ctx.decision,
        ctx.rrlAction,
        ctx.cookieVerdict,
      );
    }
    return out;
  }

  /**
   * Response rate limiting (src/protect/rrl.ts) of one UDP answer: the answer, null to drop
   * it, or what a slip sends instead: BADCOOKIE with a fresh cookie to a client that sent a
   * cookie (it retries with it, and a valid cookie is never limited, as in Knot and BIND), else the
   * answer truncated to its question, with TC=1, so the client retries over TCP.
   */
  #limit(ctx: QueryContext, out: Buffer): Buffer | null {
    if (ctx.cookieVerdict === CookieVerdict.VALID) return out;
    const address = this.#addresses.read(ctx.source);
    if (address === null) return out;
    const questionEnd = questionEndOf(out);
    const rcode = out[3]! & 0x0f;
    let kind: ResponseKind = ResponseKind.ERROR;
    let nameHash = 0;
    if (questionEnd > HEADER && rcode === Rcode.NOERROR) {
      const answers = (out[6]! << 8) | out[7]!;
      const authoritative = (out[2]! & 0x04) !== 0;
      const qtype = (out[questionEnd - 4]! << 8) | out[questionEnd - 3]!;
      if (answers > 0) {
        kind = ResponseKind.POSITIVE;
        nameHash = hashWireName(out, HEADER, questionEnd - 4, qtype);
      } else if (authoritative) {
        kind = ResponseKind.NODATA;
        nameHash = hashWireName(out, HEADER, questionEnd - 4, 0);
      } else {
        kind = ResponseKind.REFERRAL;
        nameHash = hashText(ctx.zone);
      }
    } else if (questionEnd > HEADER && rcode === Rcode.NXDOMAIN) {
      kind = ResponseKind.NXDOMAIN;
      nameHash = hashText(ctx.zone);
    }
    const action = this.#rrl!.account(address, kind, nameHash, ctx.started);
    ctx.rrlAction = action;
    if (action === RrlAction.PASS) return out;
    if (action === RrlAction.DROP) return null;
    if (ctx.cookieVerdict !== CookieVerdict.NONE) return this.#badCookie(ctx, out, questionEnd);
    const slip = Buffer.from(out.subarray(0, questionEnd));
    slip[2] = slip[2]! | 0x02;
    slip.fill(0, 6, 12);
    return slip;
  }

  /** BADCOOKIE (RFC 7873 §5.2.3): header and question of `out`, OPT with the fresh cookie #finish made. */
  #badCookie(ctx: QueryContext, out: Buffer, questionEnd: number): Buffer {
    const b = Buffer.allocUnsafe(questionEnd + OPT_LENGTH + RESPONSE_COOKIE_OPTION_LENGTH);
    out.copy(b, 0, 0, questionEnd);
    b[2] = b[2]! & ~0x02;
    b[3] = (b[3]! & 0xf0) | (BADCOOKIE & 0x0f);
    b.fill(0, 6, 10);
    writeUint16(b, 10, 1);
    ctx.extendedRcode = BADCOOKIE >> 4;
    writeOpt(b, questionEnd, this.#options.udpPayloadSize, BADCOOKIE >> 4, ctx.cookieDnssecOk);
    writeUint16(b, questionEnd + 9, RESPONSE_COOKIE_OPTION_LENGTH);
    writeCookieOption(b, questionEnd + OPT_LENGTH, this.#cookies!.response);
    return b;
  }

  /**
   * The fast path: a question seen before in this snapshot, found straight from the packet
   * (QuestionIndex), with its static answer or, for a steered name, the decision cached for
   * this client network. Null sends the query down the full path (#respond), which handles
   * every packet that is not a plain query with well-formed EDNS, and every cache miss.
   */
  #fromQuestionIndex(ctx: QueryContext): Buffer | null {
    const packet = ctx.packet;
    const snapshot = this.#store.current;
    this.questions.useVersion(snapshot.version, snapshot.changes);
    const indexed = this.questions.get(packet, ctx.transport);
    if (indexed === undefined) return null;
    // Signatures due for refresh: the full path signs again and indexes the new answer.
    const steered = indexed instanceof SteeredQuestion ? indexed : null;
    if (steered === null && this.#stale(indexed as CachedAnswer)) return null;
    ctx.indexed = true;
    const questionEnd = this.questions.questionEnd;
    let edns: EdnsInfo | null = null;
    let ecs: ClientSubnet | null = null;
    if (packet[11] === 1) {
      edns = readSoleOpt(packet, questionEnd);
      if (edns === null || this.#malformedCookie(edns)) return null;
      if (edns.clientSubnetAt >= 0) {
        const read = readClientSubnet(packet, edns.clientSubnetAt, edns.clientSubnetLength);
        if (typeof read === 'string') return null;
        ecs = read;
      }
    }
    ctx.ecs = ecs;
    let encoded: CachedAnswer | undefined;
    let scope = 0;
    if (steered === null) {
      encoded = indexed as CachedAnswer;
      this.cache.hits++;
    } else {
      this.decisions.useVersion(snapshot.version, snapshot.changes);
      const bits = clientBits(ecs, ctx.source);
      const d = bits === null ? undefined : this.decisions.peek(steered.steered, steered.qtype, bits);
      encoded = d === undefined ? undefined : this.decisions.answerFor(d, this.#dnssec !== null && edns !== null && edns.dnssecOk);
      if (encoded === undefined || this.#stale(encoded)) {
        // To be decided by the full path: it takes the client as read here rather than reading it again.
        ctx.bits = bits;
        ctx.clientRead = true;
        return null;
      }
      this.decisions.hits++;
      this.#countDecision(ctx, steered.steered, d!);
      scope = d!.scope;
    }
    ctx.zone = encoded.zone;
    ctx.qtype = (packet[questionEnd - 4]! << 8) | packet[questionEnd - 3]!;
    return this.#finish(ctx, questionEnd, edns, encoded, echoedScope(ecs, scope, steered !== null));
  }

  #respond(ctx: QueryContext): Buffer | null {
    const packet = ctx.packet;
    const transport = ctx.transport;
    const read = readQuery(packet);
    if (read.kind === 'drop') return null;
    if (read.kind === 'error') {
      ctx.extendedRcode = read.rcode >> 4;
      return this.#errorResponse(packet, read.rcode, read.questionEnd, read.edns);
    }
    const q = read.query;
    ctx.qtype = q.qtype;
    // Refused before steering: a malformed query is no answer to count or cache.
    if (q.edns !== null && this.#malformedCookie(q.edns)) return this.#errorResponse(packet, Rcode.FORMERR, q.questionEnd, q.edns);
    if (!ctx.clientRead) {
      let parsedEcs: ClientSubnet | null = null;
      if (q.edns !== null && q.edns.clientSubnetAt >= 0) {
        const read = readClientSubnet(packet, q.edns.clientSubnetAt, q.edns.clientSubnetLength);
        // RFC 7871 §7.1.1: a malformed option is a malformed query.
        if (typeof read === 'string') return this.#errorResponse(packet, Rcode.FORMERR, q.questionEnd, q.edns);
        parsedEcs = read;
      }
      ctx.ecs = parsedEcs;
      ctx.bits = null;
    }
    const ecs = ctx.ecs;
    const snapshot = this.#store.current;
    this.cache.useVersion(snapshot.version, snapshot.changes);
    this.decisions.useVersion(snapshot.version, snapshot.changes);

    // A steered name's answer is cached by its decision, so steering runs first (src/answer/README.md "Description": read → steer → cache).
    const steered = (q.qtype === RRType.A || q.qtype === RRType.AAAA) && q.qclass === RRClass.IN ? snapshot.steered.get(q.key) : undefined;
    const direct = steered ? this.#steer(ctx, snapshot, steered.name, q.qtype) : null;
    // With a signed zone DO=1 adds RRSIGs; ANY differs by transport (RFC 8482).
    // A decision from the decision cache carries its encoded answer: no key string to build.
    const signing = this.#dnssec !== null && q.edns !== null && q.edns.dnssecOk;
    let encoded = direct ? this.decisions.answerFor(direct, signing) : undefined;
    // An answer whose signatures are due for refresh is built again.
    if (encoded !== undefined && this.#stale(encoded)) encoded = undefined;
    let key = '';
    if (encoded === undefined) {
      // Joined, not concatenated: a concatenation is a chain of string objects, and the cache keeps the key.
      key = [q.key, q.qtype, q.qclass, direct ? `=${direct.key}` : q.qtype === RRType.ANY ? transport : '', signing ? 'do' : ''].join('|');
      encoded = this.cache.get(key);
      if (encoded !== undefined && this.#stale(encoded)) encoded = undefined;
      // Decisions for other networks may share this answer: the next query for this one needs no key.
      if (encoded !== undefined && direct) this.decisions.setAnswer(direct, encoded, signing);
    }
    let scope = direct ? direct.scope : 0;
    let clientSpecific = direct !== null;
    if (encoded === undefined) {
      // Names reached through a CNAME are steered afresh; such answers vary per client and are not cached.
      let dependsOnClient = false;
      // DNSKEY/CDS/CDNSKEY at a signed apex come from the keys, and change at their next timing event.
      const apex = this.#dnssec?.apexAnswer(snapshot, q) ?? null;
      let staleAt = apex === null || apex.refreshAt >= NEVER_STALE ? NEVER_STALE : Math.floor(apex.refreshAt);
      let res =
        apex?.message ??
        resolve(snapshot, q, {
          minimalAny: transport === 'udp',
          steer: (name, qtype) => {
            if (direct && name === steered!.name && qtype === q.qtype) return direct;
            dependsOnClient = true;
            clientSpecific = true;
            const d = this.#steer(ctx, snapshot, name, qtype);
            if (d.scope > scope) scope = d.scope;
            return d;
          },
          apexSets: this.#dnssec
            ? (zone) => {
                const keys = this.#dnssec!.apexKeySets(zone);
                if (keys.refreshAt < staleAt) staleAt = Math.floor(keys.refreshAt);
                return keys.sets;
              }
            : undefined,
        });
      if (signing) {
        const signed = this.#dnssec.sign(snapshot, q, res);
        res = signed.message;
        if (signed.refreshAt < staleAt) staleAt = Math.floor(signed.refreshAt);
      }
      const e = this.#writer.encode(packet, q, res);
      const zone = findZone(snapshot, q.labelKeys, q.qtype);
      const negative = e.soaSerialAt >= 0 && direct === null && !dependsOnClient && plainNegative(res, zone, q.labelKeys);
      // Every field in one literal: kept in the object itself, no property array beside it.
      encoded = {
        bytes: e.bytes,
        additionalCuts: e.additionalCuts,
        glueRequired: e.glueRequired,
        rcode: e.rcode,
        zone: zone?.originKey ?? '',
        staleAt,
        soaSerialAt: negative ? e.soaSerialAt : -1,
        name: q.key,
        own: ownAnswer(res, q.key),
        negative,
      };
      if (!dependsOnClient) {
        this.cache.set(key, encoded);
        if (direct) this.decisions.setAnswer(direct, encoded, signing);
      }
    }
    // The next such question takes the fast path: a steered name to its decisions, an answer
    // that depends on nothing but the question to itself.
    if (!ctx.indexed) {
      if (steered) this.questions.set(packet, transport, new SteeredQuestion(steered.name, q.qtype, q.key));
      else if (!clientSpecific) this.questions.set(packet, transport, encoded);
    }
    ctx.zone = encoded.zone;
    return this.#finish(ctx, q.questionEnd, q.edns, encoded, echoedScope(ecs, scope, clientSpecific));
  }

  #writeSerial(out: Buffer, encoded: EncodedResponse): void {
    const zone = this.#store.current.zones.get(encoded.zone);
    if (zone === undefined) return;
    writeUint16(out, encoded.soaSerialAt, zone.serial >>> 16);
    writeUint16(out, encoded.soaSerialAt + 2, zone.serial & 0xffff);
  }

  /** Whether a cached answer's signatures are due for refresh (by the signer's clock; an unsigned answer never is). */
  #stale(encoded: EncodedResponse): boolean {
    return encoded.staleAt !== NEVER_STALE && encoded.staleAt * 1000 <= this.#dnssec!.nowMs();
  }

  /** The decision for a steered name and this query's client: from the decision cache, else decided and cached when it may be. */
  #steer(ctx: QueryContext, snapshot: Snapshot, name: SteeredName, qtype: number): Decision {
    const bits = (ctx.bits ??= clientBits(ctx.ecs, ctx.source));
    let d = bits === null ? undefined : this.decisions.get(name, qtype, bits);
    if (d === undefined) {
      const client = (ctx.client ??= locateClient(snapshot, ctx.ecs, ctx.source));
      const env = steeringEnv(snapshot, Math.random, Date.now());
      let volatile = false;
      d = decide(name, qtype === RRType.A ? 4 : 6, client, {
        ...env,
        rand: () => {
          volatile = true;
          return Math.random();
        },
        latency: (c, region) => {
          volatile = true;
          return env.latency!(c, region);
        },
      });
      const prefix = cacheablePrefix(d, client, volatile);
      if (bits !== null && prefix !== null) this.decisions.set(name, qtype, bits, prefix, d);
    }
    this.#countDecision(ctx, name, d);
    return d;
  }

  #countDecision(ctx: QueryContext, name: SteeredName, d: Decision): void {
    ctx.decision = d;
    this.stats.recordAnswer(d.targets);
    if (d.allDown) this.stats.recordFailOpen(name.key, name.whenAllDown.action);
  }

  #finish(ctx: QueryContext, questionEnd: number, edns: EdnsInfo | null, encoded: EncodedResponse, scope: number): Buffer {
    const packet = ctx.packet;
    const ecs = ctx.ecs;
    let optLen = 0;
    let extraLen = 0;
    if (edns) {
      optLen = OPT_LENGTH + (ecs ? clientSubnetOptionLength(ecs) : 0);
      // A query with neither a COOKIE nor an NSID option costs one test here (and #finish stays small enough to inline).
      if (edns.cookieAt >= 0 || edns.nsid) {
        extraLen = this.#extraOptions(ctx, edns);
        optLen += extraLen;
      }
    }
    const limit = ctx.transport === 'tcp' ? 65535 : edns ? Math.min(edns.udpSize, this.#options.udpPayloadSize) : CLASSIC_UDP_LIMIT;
    let bodyLen = encoded.bytes.length;
    let truncated = false;
    let additionalCount = -1;
    if (bodyLen + optLen > limit) {
      // RFC 2181 §9: additional RRsets that do not fit are left out silently, unless they are
      // glue the referral needs (RFC 9471); otherwise the answer is truncated.
      const cut = encoded.glueRequired ? undefined : lastCutWithin(encoded, limit - optLen);
      if (cut !== undefined) {
        bodyLen = cut.length;
        additionalCount = cut.count;
      } else {
        bodyLen = questionEnd;
        truncated = true;
      }
    }
    const out = Buffer.allocUnsafe(bodyLen + optLen);
    // TypedArray#set and a byte loop: Buffer#copy's argument checks cost more than these few bytes.
    out.set(bodyLen === encoded.bytes.length ? encoded.bytes : encoded.bytes.subarray(0, bodyLen));
    // Patch what differs between queries that share a cache entry.
    out[0] = packet[0]!;
    out[1] = packet[1]!;
    out[2] = (out[2]! & 0xfe) | (packet[2]! & 0x01) | (truncated ? 0x02 : 0);
    out[3] = (out[3]! & 0xef) | (packet[3]! & 0x10);
    for (let i = HEADER; i < questionEnd; i++) out[i] = packet[i]!;
    // A cached negative answer outlives writes elsewhere in its zone: the serial is today's.
    if (encoded.soaSerialAt >= 0 && !truncated) this.#writeSerial(out, encoded);
    if (truncated) out.fill(0, 6, 12);
    if (additionalCount >= 0) writeUint16(out, 10, additionalCount);
    if (edns) {
      writeOpt(out, bodyLen, this.#options.udpPayloadSize, 0, edns.dnssecOk);
      if (optLen > OPT_LENGTH) {
        writeUint16(out, bodyLen + 9, optLen - OPT_LENGTH);
        // RFC 7871 §7.2.1: echo ECS with the scope the answer is valid for.
        if (ecs) writeClientSubnetOption(out, bodyLen + OPT_LENGTH, ecs, scope);
        if (extraLen > 0) this.#writeExtraOptions(ctx, out, bodyLen + optLen - extraLen);
      }
      writeUint16(out, 10, ((out[10]! << 8) | out[11]!) + 1);
    }
    return out;
  }

  /** A COOKIE option of a length no cookie has, with cookies on: a malformed query (RFC 7873 §5.2.2: FORMERR). */
  #malformedCookie(edns: EdnsInfo): boolean {
    return edns.cookieAt >= 0 && this.#cookies !== null && !cookieLengthIsValid(edns.cookieLength);
  }

  /**
   * Judges the query's COOKIE option (its length already checked by #malformedCookie) and NSID
   * request: the length of the options the answer gets for them (0 when the features are off).
   */
  #extraOptions(ctx: QueryContext, edns: EdnsInfo): number {
    let length = 0;
    ctx.withCookie = false;
    ctx.withNsid = false;
    if (edns.cookieAt >= 0 && this.#cookies !== null) {
      const address = this.#addresses.read(ctx.source);
      if (address !== null) {
        ctx.cookieVerdict = this.#cookies.check(ctx.packet, edns.cookieAt, edns.cookieLength, address);
        ctx.cookieDnssecOk = edns.dnssecOk;
        ctx.withCookie = true;
        length += RESPONSE_COOKIE_OPTION_LENGTH;
      }
    }
    if (edns.nsid && this.#nsid !== null) {
      ctx.withNsid = true;
      length += this.#nsid.length;
    }
    return length;
  }

  /** Writes the options #extraOptions counted, at `at`. */
  #writeExtraOptions(ctx: QueryContext, out: Buffer, at: number): void {
    if (ctx.withCookie) at = writeCookieOption(out, at, this.#cookies!.response);
    if (ctx.withNsid) out.set(this.#nsid!, at);
  }

  /** FORMERR, NOTIMP, BADVERS…: the header, the question when it could be read, and OPT when the query had one. */
  #errorResponse(packet: Buffer, rcode: number, questionEnd: number, edns: EdnsInfo | null): Buffer {
    const optLen = edns ? OPT_LENGTH : 0;
    const out = Buffer.alloc(questionEnd + optLen);
    packet.copy(out, 0, 0, questionEnd);
    out[2] = 0x80 | (packet[2]! & 0x79);
    out[3] = (packet[3]! & 0x10) | (rcode & 0x0f);
    out.writeUInt16BE(questionEnd > HEADER ? 1 : 0, 4);
    out.writeUInt16BE(0, 6);
    out.writeUInt16BE(0, 8);
    out.writeUInt16BE(edns ? 1 : 0, 10);
    if (edns) writeOpt(out, questionEnd, this.#options.udpPayloadSize, rcode >> 4, edns.dnssecOk);
    return out;
  }
}

/**
 * The SCOPE PREFIX-LENGTH to echo (RFC 7871 §7.2.1). A subnet we cannot use (private,
 * mapped) was answered for the resolver's own address: a steered answer then holds for the
 * source network alone, never /0, or a resolver would serve it to every client (§7.3.1).
 */
function echoedScope(ecs: ClientSubnet | null, scope: number, clientSpecific: boolean): number {
  if (ecs === null) return 0;
  if (ecs.usable) return scope;
  return clientSpecific ? ecs.sourcePrefix : 0;
}

/** The decision cache's form of the client locateClient() would use; null for an address it cannot parse. */
function clientBits(ecs: ClientSubnet | null, source: string): ClientBits | null {
  const usable = ecs !== null && ecs.usable;
  // Straight from the option's octets (zero-padded past the source prefix, RFC 7871 §6).
  if (usable && ecs.family === 1) return { family: 4, v4: ecs.v4, v6: 0n, sourcePrefix: ecs.sourcePrefix };
  const address = usable ? ecs.address : unmapIPv4(source);
  if (!address.includes(':')) {
    const v4 = ipv4Number(address);
    return v4 < 0 ? null : { family: 4, v4, v6: 0n, sourcePrefix: usable ? ecs.sourcePrefix : 32 };
  }
  const parsed = parseAddress(address);
  if (parsed === null || parsed.family !== 6) return null;
  return { family: 6, v4: 0, v6: parsed.value, sourcePrefix: usable ? ecs.sourcePrefix : 128 };
}

/** The client a decision is for: the ECS address when usable (RFC 7871 §7.1.2), else the query's source. */
function locateClient(snapshot: Snapshot, ecs: ClientSubnet | null, source: string): ClientInfo {
  if (ecs?.usable) return snapshot.locate(ecs.address, ecs.family === 1 ? 4 : 6, ecs.sourcePrefix, true);
  const address = unmapIPv4(source);
  const family = address.includes(':') ? 6 : 4;
  return snapshot.locate(address, family, family === 4 ? 32 : 128, false);
}

function lastCutWithin(encoded: EncodedResponse, limit: number): AdditionalCut | undefined {
  const cuts = encoded.additionalCuts;
  if (cuts === null) return encoded.bytes.length <= limit ? { length: encoded.bytes.length, count: 0 } : undefined;
  let best: AdditionalCut | undefined;
  for (const cut of cuts) if (cut.length <= limit) best = cut;
  return best;
}

/** OPT pseudo-RR (RFC 6891 §6.1.2): root owner, our payload size, extended RCODE, version 0, DO echoed (RFC 3225 §3). */
function writeOpt(out: Buffer, at: number, udpSize: number, extendedRcode: number, dnssecOk: boolean): void {
  out[at] = 0;
  writeUint16(out, at + 1, RRType.OPT);
  writeUint16(out, at + 3, udpSize);
  out[at + 5] = extendedRcode;
  out[at + 6] = 0;
  out[at + 7] = dnssecOk ? 0x80 : 0;
  out[at + 8] = 0;
  out[at + 9] = 0;
  out[at + 10] = 0;
}

/** Where the question of an answer we built ends: our answers echo it uncompressed, or have none (QDCOUNT 0). */
function questionEndOf(out: Buffer): number {
  if (out[4] === 0 && out[5] === 0) return HEADER;
  let pos = HEADER;
  while (pos < out.length && out[pos] !== 0) pos += out[pos]! + 1;
  return pos + 5;
}

/** The COOKIE option (RFC 7873 §4): code, length, then the client and server cookie; returns the offset after it. */
function writeCookieOption(out: Buffer, at: number, cookie: Buffer): number {
  writeUint16(out, at, COOKIE_OPTION);
  writeUint16(out, at + 2, RESPONSE_COOKIE_LENGTH);
  out.set(cookie, at + 4);
  return at + 4 + RESPONSE_COOKIE_LENGTH;
}

/** Big-endian, without Buffer#writeUInt16BE's range checks (the offsets here are in bounds by construction). */
function writeUint16(out: Buffer, at: number, value: number): void {
  out[at] = value >>> 8;
  out[at + 1] = value & 0xff;
}
