/**
 * What the responder knows about the one query it is answering: the packet and where it came
 * from, the client as read from it, and what answering it decided (zone, extended RCODE,
 * steering decision, cookie verdict, rate-limit action) for the counters and the query log.
 * The fast path fills it and hands it to the full path when it cannot answer; both write it,
 * the end of respond() reads it. One per responder, reset per query, as CoreDNS's
 * request.Request and Knot's knotd_qdata_t: a query allocates nothing for it, and nothing of
 * one query is read as another's (reset() writes every field a path may leave unset).
 */
import type { ClientSubnet } from '../dns/client-subnet.js';
import { CookieVerdict } from '../protect/cookies.js';
import { RrlAction } from '../protect/rrl.js';
import type { Decision } from '../steer/decide.js';
import type { ClientInfo } from '../steer/types.js';
import type { ClientBits } from './decision-cache.js';
import type { Transport } from './question-index.js';

export class QueryContext {
  // The query as received.
  packet: Buffer = Buffer.alloc(0);
  transport: Transport = 'udp';
  /** The address the query came from: the client's location when it has no usable ECS option. */
  source = '';
  port = 0;
  /** performance.now() when it arrived: the latency counted, and rate limiting's clock. */
  started = 0;

  // The client. The fast path reads ecs and bits and sets clientRead when it hands the query
  // to the full path, which then does not read them again; client (the GeoIP lookup) and bits
  // are filled only when a decision needs them.
  /** Whether the question index held this question (the full path then does not index it again). */
  indexed = false;
  clientRead = false;
  ecs: ClientSubnet | null = null;
  bits: ClientBits | null = null;
  client: ClientInfo | null = null;

  // What answering it decided.
  /** Origin key of the zone that answered ("" for none), and the question's type, for the counters. */
  zone = '';
  qtype = 0;
  /** The upper 8 bits of the RCODE sent (in OPT), for the counters and the query log. */
  extendedRcode = 0;
  /** The last steering decision made or reused for it, for the query log. */
  decision: Decision | null = null;
  /** What its COOKIE option said, and its DO bit for a BADCOOKIE answer (set when cookies judged it). */
  cookieVerdict: CookieVerdict = CookieVerdict.NONE;
  cookieDnssecOk = false;
  /** Which options the answer carries besides ECS (set by the responder's #extraOptions). */
  withCookie = false;
  withNsid = false;
  /** What rate limiting did to the answer. */
  rrlAction: RrlAction = RrlAction.PASS;

  /**
   * Starts a query. Written here: the query, and every field a path may leave unset that
   * the end of respond() reads. Not written: ecs, bits, cookieDnssecOk, withCookie and
   * withNsid, which each path writes before it reads them (a store fewer per query each).
   */
  reset(packet: Buffer, transport: Transport, source: string, port: number, started: number): void {
    this.packet = packet;
    this.transport = transport;
    this.source = source;
    this.port = port;
    this.started = started;
    this.indexed = false;
    this.clientRead = false;
    this.client = null;
    this.zone = '';
    this.qtype = 0;
    this.extendedRcode = 0;
    this.decision = null;
    this.cookieVerdict = CookieVerdict.NONE;
    this.rrlAction = RrlAction.PASS;
  }
}
