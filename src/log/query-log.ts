/**
 * The query log: one JSON line per sampled query (fields after dnstap's: time, client
 * address and port, transport, the question, RCODE, flags, answer count, ECS, the steering
 * decision, what rate limiting and cookies made of it, latency). Off by default; when off the
 * responder holds null and pays one test per query.
 *
 * Lines are queued and written by `LineSink` (line-sink.ts): asynchronously, in batches,
 * dropped and counted when the sink cannot keep up.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { rcodeToText, typeToText } from '../dns/constants.js';
import { parseClientSubnet } from '../dns/client-subnet.js';
import { nameToText } from '../dns/name.js';
import { readQuery } from '../dns/query-reader.js';
import { ErrorCode, GslbError } from '../errors.js';
import type { Decision } from '../steer/decide.js';
import type { CookieVerdict } from '../protect/cookies.js';
import type { RrlAction } from '../protect/rrl.js';
import { LineSink, type LineSinkOptions } from './line-sink.js';

export type QueryLogOptions = LineSinkOptions;

const RRL_TEXT = ['pass', 'drop', 'slip'] as const;
const COOKIE_TEXT = [null, 'client', 'valid', 'invalid'] as const;

export class QueryLog extends LineSink {
  constructor(o: QueryLogOptions, log: Logger) {
    super(o, log, 'query log');
  }

  /** Formats and queues one query's line; `out` is null when no answer was sent, `rcode` is the full (extended) RCODE of `out`. */
  add(packet: Buffer, out: Buffer | null, rcode: number, transport: string, client: string, port: number, latencyUs: number, decision: Decision | null, rrl: RrlAction, cookie: CookieVerdict): void {
    if (this.room()) this.push(formatLine(packet, out, rcode, transport, client, port, latencyUs, decision, rrl, cookie));
  }
}

/** The query log `dns.queryLog` configures, or null when it is off (no path, or a sample of 0). */
export function openQueryLog(config: Config['dns']['queryLog'], log: Logger): QueryLog | null {
  if (config.path === null || config.sample <= 0) return null;
  try {
    return new QueryLog({ ...config, path: config.path }, log);
  } catch (err) {
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `dns.queryLog.path: cannot open ${config.path}: ${(err as Error).message}`);
  }
}

/** One JSON line. Only sampled queries get here: clarity over speed. */
export function formatLine(
  packet: Buffer,
  out: Buffer | null,
  rcode: number,
  transport: string,
  client: string,
  port: number,
  latencyUs: number,
  decision: Decision | null,
  rrl: RrlAction,
  cookie: CookieVerdict,
): string {
  const read = readQuery(packet);
  const q = read.kind === 'query' ? read.query : null;
  const edns = read.kind === 'query' ? read.query.edns : read.kind === 'error' ? read.edns : null;
  let ecs: string | null = null;
  if (edns !== null && edns.clientSubnetAt >= 0) {
    const parsed = parseClientSubnet(packet, edns.clientSubnetAt, edns.clientSubnetLength);
    ecs = parsed.ok ? `${parsed.value.address}/${parsed.value.sourcePrefix}` : 'malformed';
  }
  const flags: string[] = [];
  if (out !== null) {
    if (out[2]! & 0x04) flags.push('aa');
    if (out[2]! & 0x02) flags.push('tc');
  }
  if (packet.length >= 4) {
    if (packet[2]! & 0x01) flags.push('rd');
    if (packet[3]! & 0x10) flags.push('cd');
  }
  if (edns?.dnssecOk) flags.push('do');
  const line = {
    time: new Date().toISOString(),
    client,
    port,
    transport,
    id: packet.length >= 2 ? packet.readUInt16BE(0) : null,
    qname: q === null ? null : nameToText(q.labels),
    qtype: q === null ? null : typeToText(q.qtype),
    rcode: out === null ? null : rcodeToText(rcode),
    flags: flags.join(' '),
    answers: out === null ? 0 : out.readUInt16BE(6),
    size: out === null ? 0 : out.length,
    ecs,
    steered: decision === null ? null : { outcome: decision.outcome, targets: decision.targets.map((t) => t.id), regions: [...new Set(decision.targets.map((t) => t.region))], scope: decision.scope },
    rrl: RRL_TEXT[rrl],
    cookie: COOKIE_TEXT[cookie],
    latencyUs: Math.round(latencyUs * 10) / 10,
  };
  return JSON.stringify(line) + '\n';
}
