/**
 * Zone transfer out over TCP: AXFR (RFC 5936) and IXFR answered AXFR-style (RFC 1995 §4),
 * to the addresses and prefixes `dns.transfer.allow` lists; anything else is refused as knotd
 * refuses it (NOTAUTH, mostly; see `take`).
 *
 * A transfer serves the zone object of the snapshot current when the query arrived (zone
 * versions are immutable, so a write meanwhile does not tear it), in messages of about
 * 16 KB with name compression (messages.ts). An AXFR's messages are made on the AXFR thread
 * (axfr-thread.ts), from the zone's shared packed nodes; walking and encoding a 1M-record
 * zone here held queries for tens of ms at a time (its garbage, mostly). An IXFR from the
 * journal is small and made here, a slice at a time. Either stops while the socket's buffer
 * is full (`socket.write` returned false) until it drains.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { Opcode, Rcode, RRClass, RRType } from '../dns/constants.js';
import { MessageWriter } from '../dns/message-writer.js';
import { nameToText, parseName, ROOT } from '../dns/name.js';
import { readQuery, type Query } from '../dns/query-reader.js';
import { targetIsDrained, type Snapshot, type SnapshotStore } from '../snapshot/snapshot.js';
import type { RRset, Zone } from '../zone/zone.js';
import type { SteeredName } from '../steer/types.js';
import type { SectionEntry } from '../resolve/resolution.js';
import { cidrContains, parseCidr, type Cidr } from '../steer/cidr.js';
import { ixfrEntries, journalChain, serialBefore } from './ixfr.js';
import { AxfrThread } from './axfr-threads.js';
import { CATALOG_FILE } from './catalog.js';
import { emptyMessage, transferMessages } from './messages.js';
import { appendUnsignedTsig, readRequestTsig, ResponseSigner, TsigError, TsigKeyring, verifyRequest, type TsigAlgorithm } from './tsig.js';

/** A slice of an IXFR from the journal runs at most this long before the answering thread is handed back. */
const SLICE_MS = 2;

export interface TransferOptions {
  /** Addresses ("192.0.2.1") and prefixes ("192.0.2.0/24") allowed to transfer every zone. */
  readonly allow: readonly string[];
  /** TSIG keys (secrets in base64); when any is given, a transfer needs a valid signature with one. */
  readonly keys: readonly { readonly name: string; readonly algorithm: TsigAlgorithm; readonly secret?: string }[];
}

/** Signs each message of one answer, or leaves it as it is. */
type Seal = (message: Buffer) => Buffer;
const unsigned: Seal = (message) => message;

/** What the TCP listener hands a connection's query to; `take` returns false for a query that is not a transfer. */
export interface TransferHandler {
  take(socket: net.Socket, packet: Buffer, touch: () => void): boolean;
  close?(): Promise<void>;
}

/** An address (a /32 or /128) or a prefix, as `dns.transfer.allow` takes them. */
export function parseAllowed(text: string): Cidr {
  if (text.includes('/')) return parseCidr(text);
  return parseCidr(`${text}/${text.includes(':') ? 128 : 32}`);
}

export class TransferServer implements TransferHandler {
  readonly #store: SnapshotStore;
  readonly #allow: readonly Cidr[];
  readonly #keys: TsigKeyring;
  readonly #log: Logger;
  readonly #writer = new MessageWriter();
  readonly #thread = new AxfrThread();
  /** Seconds since the epoch (a test may move the clock). */
  readonly #now: () => number;

  constructor(store: SnapshotStore, options: TransferOptions, log: Logger, now = (): number => Math.floor(Date.now() / 1000)) {
    this.#store = store;
    this.#allow = options.allow.map(parseAllowed);
    this.#keys = new TsigKeyring(options.keys.map((k) => ({ name: parseName(k.name, ROOT), algorithm: k.algorithm, secret: Buffer.from(k.secret ?? '', 'base64') })));
    this.#log = log;
    this.#now = now;
  }

  take(socket: net.Socket, packet: Buffer, touch: () => void): boolean {
    if (!asksTransfer(packet)) return false;
    const read = readQuery(packet);
    if (read.kind !== 'query') return false;
    const q = read.query;
    if (q.opcode !== Opcode.QUERY || (q.qtype !== RRType.AXFR && q.qtype !== RRType.IXFR)) return false;
    const client = socket.remoteAddress ?? '';
    const kind = q.qtype === RRType.AXFR ? 'AXFR' : 'IXFR';
    const tsig = readRequestTsig(packet, q.questionEnd);
    if (tsig === 'malformed') {
      send(socket, this.#writer.encode(packet, q, emptyMessage(Rcode.FORMERR)).bytes);
      return true;
    }
    const keyName = tsig === 'none' ? null : nameToText(tsig.keyName);
    const refuse = (rcode: number, reason: string, message = this.#writer.encode(packet, q, emptyMessage(rcode)).bytes): true => {
      this.#log.info({ client, zone: nameToText(q.labels), kind, key: keyName, rcode }, `zone transfer refused: ${reason}`);
      send(socket, message);
      return true;
    };
    // The checks in Knot's order (knotd 3.2, measured: README "Zone transfer to secondaries"),
    // each answered as it answers: the class, then the zone, both unsigned whatever the
    // request carries; then the ACL, then the signature.
    if (q.qclass !== RRClass.IN) return refuse(q.qclass === RRClass.CH ? Rcode.NOTIMP : q.qclass === RRClass.ANY ? Rcode.NOTAUTH : Rcode.REFUSED, 'class');
    // One snapshot for the whole transfer: its zone version and, for steered names, its health.
    const snapshot = this.#store.current;
    const zone = snapshot.zones.get(q.key);
    if (zone === undefined) return refuse(Rcode.NOTAUTH, 'not a zone served');
    if (!this.#allowed(client)) {
      // A signed request from an address not allowed: BADKEY, unsigned, whatever its signature.
      const message = this.#writer.encode(packet, q, emptyMessage(Rcode.NOTAUTH)).bytes;
      return refuse(Rcode.NOTAUTH, 'client not allowed', tsig === 'none' ? message : appendUnsignedTsig(message, tsig, TsigError.BADKEY));
    }
    let seal = unsigned;
    if (tsig !== 'none') {
      const now = this.#now();
      const verdict = verifyRequest(packet, tsig, this.#keys, now);
      if (!verdict.ok) {
        const message = this.#writer.encode(packet, q, emptyMessage(Rcode.NOTAUTH)).bytes;
        if (verdict.key === null) return refuse(Rcode.NOTAUTH, `bad TSIG (${verdict.error})`, appendUnsignedTsig(message, tsig, verdict.error));
        // BADTIME: signed, with the server's time in Other Data (RFC 8945 §5.2.3).
        const other = Buffer.alloc(6);
        other.writeUInt16BE(Math.floor(now / 2 ** 32) & 0xffff, 0);
        other.writeUInt32BE(now % 2 ** 32, 2);
        return refuse(Rcode.NOTAUTH, `bad TSIG (${verdict.error})`, new ResponseSigner(verdict.key, tsig.mac, tsig.originalId).sign(message, now, TsigError.BADTIME, other));
      }
      const signer = new ResponseSigner(verdict.key, tsig.mac, tsig.originalId);
      seal = (message) => signer.sign(message, this.#now());
    } else if (this.#keys.size > 0) return refuse(Rcode.NOTAUTH, 'unsigned');
    const clientSerial = q.qtype === RRType.IXFR ? ixfrSerial(packet, q) : null;
    if (clientSerial !== null && !serialBefore(clientSerial, zone.serial)) {
      // The secondary is current (RFC 1995 §2): one SOA, ours.
      send(socket, seal(this.#writer.encode(packet, q, { ...emptyMessage(Rcode.NOERROR, true), answer: [soaEntry(zone)] }).bytes));
      return true;
    }
    void this.#transfer(socket, packet, q, zone, snapshot, clientSerial, touch, seal).then(
      (messages) => this.#log.info({ client, zone: nameToText(zone.origin), serial: zone.serial, messages }, 'zone transfer done'),
      (err: unknown) => {
        this.#log.warn({ err, client, zone: nameToText(zone.origin) }, 'zone transfer failed');
        socket.destroy();
      },
    );
    return true;
  }

  #allowed(client: string): boolean {
    for (const cidr of this.#allow) if (cidrContains(cidr, client)) return true;
    return false;
  }

  /** The differences from the journal when it reaches back to `clientSerial`, else the whole zone (RFC 1995 §4). */
  async #transfer(socket: net.Socket, packet: Buffer, q: Query, zone: Zone, snapshot: Snapshot, clientSerial: number | null, touch: () => void, seal: Seal): Promise<number> {
    // The catalog zone keeps no journal (nor a file): an IXFR of it is answered AXFR-style.
    const chain = clientSerial === null || zone.file === CATALOG_FILE ? null : await journalChain(zone, clientSerial);
    const kind = chain !== null ? 'IXFR' : q.qtype === RRType.IXFR ? 'IXFR as AXFR' : 'AXFR';
    this.#log.info({ client: socket.remoteAddress, zone: nameToText(zone.origin), from: clientSerial, serial: zone.serial, kind }, 'zone transfer started');
    if (chain !== null) return this.#stream(socket, transferMessages(this.#writer, packet, q, ixfrEntries(zone, chain)), touch, seal);
    // The whole zone is walked and encoded on the AXFR thread: only the writes happen here.
    const fallback = [...zone.steered.values()].flatMap((name) => [...steeredFallback(name, snapshot)]);
    const windows = this.#thread.messages({ packet, nodes: zone.nodes, originKey: zone.originKey, soa: soaEntry(zone), steered: [...zone.steered.keys()], fallback });
    let messages = 0;
    for await (const window of windows) {
      if (socket.destroyed) return messages;
      let room: boolean;
      if (seal === unsigned) {
        // As framed on the thread; the buffer goes back once the socket has taken it.
        room = socket.write(window.framed, () => window.release());
      } else {
        room = true;
        let at = 0;
        for (const length of window.lengths) {
          room = send(socket, seal(window.framed.subarray(at + 2, at + 2 + length)));
          at += 2 + length;
        }
        window.release();
      }
      messages += window.lengths.length;
      touch();
      if (!room) await drained(socket);
      if (socket.destroyed) return messages;
    }
    return messages;
  }

  /** Sends `messages` a few at a time (at most SLICE_MS per turn of the event loop); resolves with their number. */
  async #stream(socket: net.Socket, messages: Generator<Buffer>, touch: () => void, seal: Seal): Promise<number> {
    let sent = 0;
    for (;;) {
      const sliceEnd = performance.now() + SLICE_MS;
      let room = true;
      while (room && performance.now() < sliceEnd) {
        if (socket.destroyed) return sent;
        const next = messages.next();
        if (next.done) return sent;
        room = send(socket, seal(next.value));
        sent++;
        touch();
      }
      if (!room) await drained(socket);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Ends the AXFR thread (transfers in progress fail). */
  close(): Promise<void> {
    return this.#thread.close();
  }
}

/**
 * A steered name's A and AAAA sets for a secondary: its declared `transferFallback`, else its
 * targets up and not drained in `snapshot`, else all of them (never none: NODATA).
 */
function* steeredFallback(name: SteeredName, snapshot: Snapshot): Generator<SectionEntry> {
  const declared = name.transferFallback;
  const ttl = declared?.ttl ?? name.ttl;
  let sets: readonly (readonly [number, readonly Buffer[]])[];
  if (declared !== null)
    sets = [
      [RRType.A, declared.a],
      [RRType.AAAA, declared.aaaa],
    ];
  else {
    const healthy = name.targets.filter((t) => snapshot.isUp(t) && !targetIsDrained(snapshot.health, t));
    const targets = healthy.length > 0 ? healthy : name.targets;
    sets = (
      [
        [RRType.A, 'a'],
        [RRType.AAAA, 'aaaa'],
      ] as const
    ).map(([type, field]) => {
      const rdatas: Buffer[] = [];
      for (const t of targets) {
        for (const r of name.rdata.get(t.id)?.[field] ?? []) if (!rdatas.some((x) => x.equals(r))) rdatas.push(r);
      }
      return [type, rdatas] as const;
    });
  }
  for (const [type, rdatas] of sets) {
    if (rdatas.length === 0) continue;
    const set: RRset = { owner: name.owner, type, class: RRClass.IN, ttl, rdatas, source: name.source };
    yield { owner: name.owner, set, ttl };
  }
}

function soaEntry(zone: Zone): SectionEntry {
  return { owner: zone.origin, set: zone.soa, ttl: zone.soa.ttl };
}

/** Writes one length-framed message; false when the socket's buffer is full. */
function send(socket: net.Socket, message: Buffer): boolean {
  const framed = Buffer.allocUnsafe(message.length + 2);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return socket.write(framed);
}

function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** The serial of the SOA in an IXFR query's authority section (RFC 1995 §3); null when absent or malformed. */
function ixfrSerial(packet: Buffer, q: Query): number | null {
  if (packet.length < 12 || packet.readUInt16BE(8) < 1) return null;
  let pos = q.questionEnd;
  // Owner name (possibly a pointer to QNAME), then type, class, TTL, RDLENGTH.
  while (pos < packet.length) {
    const len = packet[pos]!;
    if (len === 0) {
      pos += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      pos += 2;
      break;
    }
    pos += len + 1;
  }
  if (pos + 10 > packet.length || packet.readUInt16BE(pos) !== RRType.SOA) return null;
  const rdlen = packet.readUInt16BE(pos + 8);
  const end = pos + 10 + rdlen;
  if (end > packet.length || rdlen < 22) return null;
  // SERIAL is the first of the five 32-bit fields closing the RDATA.
  return packet.readUInt32BE(end - 20);
}

/** Whether the one question's QTYPE is AXFR or IXFR: a look at the type, so other TCP queries are not read twice. */
function asksTransfer(packet: Buffer): boolean {
  if (packet.length < 17 || packet.readUInt16BE(4) !== 1) return false;
  let pos = 12;
  while (pos < packet.length && packet[pos]! !== 0 && packet[pos]! < 64) pos += packet[pos]! + 1;
  if (pos + 3 > packet.length) return false;
  const qtype = packet.readUInt16BE(pos + 1);
  return qtype === RRType.AXFR || qtype === RRType.IXFR;
}
