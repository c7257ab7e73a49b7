/**
 * NOTIFY out (RFC 1996): each time a zone's serial changes in a published snapshot (a file
 * edit, a reload, an admin API write), and for every zone at start, each secondary in
 * `dns.transfer.notify` is told over UDP, and told again (after 1, 2, 4, 8 s) until it
 * answers. A newer serial replaces the retries of an older one.
 */
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { Opcode, RRClass, RRType } from '../dns/constants.js';
import { MessageWriter } from '../dns/message-writer.js';
import { labelKey, nameToText, nameToWire } from '../dns/name.js';
import { formatListenAddress, type ListenAddress } from '../net/listen-address.js';
import type { Snapshot, SnapshotStore } from '../snapshot/snapshot.js';
import type { Zone } from '../zone/zone.js';

export interface NotifyOptions {
  /** First wait for an answer; doubled after each try. */
  readonly firstTimeoutMs?: number;
  /** Tries in all (RFC 1996 §3.6 leaves the number to the primary; Knot, BIND try 5 or so). */
  readonly attempts?: number;
}

interface Pending {
  readonly id: number;
  readonly serial: number;
  timer: NodeJS.Timeout | null;
}

export class Notifier {
  readonly #store: SnapshotStore;
  readonly #targets: readonly ListenAddress[];
  readonly #log: Logger;
  readonly #firstTimeoutMs: number;
  readonly #attempts: number;
  readonly #writer = new MessageWriter();
  /** The serial last notified, by zone key. */
  readonly #serials = new Map<string, number>();
  /** Unanswered NOTIFYs by "zone key|target". */
  readonly #pending = new Map<string, Pending>();
  readonly #sockets = new Map<4 | 6, dgram.Socket>();
  #unsubscribe: () => void = () => {};

  constructor(store: SnapshotStore, targets: readonly ListenAddress[], log: Logger, options: NotifyOptions = {}) {
    this.#store = store;
    this.#targets = targets;
    this.#log = log;
    this.#firstTimeoutMs = options.firstTimeoutMs ?? 1000;
    this.#attempts = options.attempts ?? 5;
  }

  start(): void {
    if (this.#targets.length === 0) return;
    this.#unsubscribe = this.#store.onPublish((s) => this.#changed(s));
    this.#changed(this.#store.current);
  }

  close(): void {
    this.#unsubscribe();
    for (const p of this.#pending.values()) if (p.timer) clearTimeout(p.timer);
    this.#pending.clear();
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }

  #changed(snapshot: Snapshot): void {
    for (const [key, zone] of snapshot.zones) {
      if (this.#serials.get(key) === zone.serial) continue;
      this.#serials.set(key, zone.serial);
      for (const target of this.#targets) this.#send(zone, target, 1, null);
    }
    for (const key of this.#serials.keys()) if (!snapshot.zones.has(key)) this.#serials.delete(key);
  }

  #send(zone: Zone, target: ListenAddress, attempt: number, previous: Pending | null): void {
    const slot = `${zone.originKey}|${formatListenAddress(target)}`;
    const old = this.#pending.get(slot);
    if (old && old !== previous) {
      if (old.timer) clearTimeout(old.timer);
    }
    const pending: Pending = previous ?? { id: crypto.randomInt(0, 65536), serial: zone.serial, timer: null };
    this.#pending.set(slot, pending);
    this.#socket(target.family).send(this.#message(zone, pending.id), target.port, target.host);
    pending.timer = setTimeout(
      () => {
        if (this.#pending.get(slot) !== pending) return;
        if (attempt >= this.#attempts) {
          this.#pending.delete(slot);
          this.#log.warn(
            { zone: nameToText(zone.origin), serial: zone.serial, secondary: formatListenAddress(target), attempts: attempt },
            'NOTIFY not answered; the secondary will find the change at its next refresh',
          );
          return;
        }
        this.#send(zone, target, attempt + 1, pending);
      },
      this.#firstTimeoutMs * 2 ** (attempt - 1),
    );
    pending.timer.unref();
  }

  /** NOTIFY with the zone's SOA in the answer section (RFC 1996 §3.7), AA set. */
  #message(zone: Zone, id: number): Buffer {
    const owner = nameToWire(zone.origin);
    const question = Buffer.alloc(12 + owner.length + 4);
    question.writeUInt16BE(id, 0);
    owner.copy(question, 12);
    question.writeUInt16BE(RRType.SOA, 12 + owner.length);
    question.writeUInt16BE(RRClass.IN, 14 + owner.length);
    const q = { labels: [...zone.origin], labelKeys: zone.origin.map(labelKey), questionEnd: question.length };
    const bytes = this.#writer.encode(question, q, {
      rcode: 0,
      authoritative: true,
      answer: [{ owner: zone.origin, set: zone.soa, ttl: zone.soa.ttl }],
      authority: [],
      additional: [],
      glueRequired: false,
    }).bytes;
    bytes[2] = (Opcode.NOTIFY << 3) | 0x04; // a request: QR clear, AA set
    bytes[3] = 0;
    return bytes;
  }

  #socket(family: 4 | 6): dgram.Socket {
    let socket = this.#sockets.get(family);
    if (socket === undefined) {
      socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
      socket.on('error', (err) => this.#log.warn({ err }, 'NOTIFY socket error'));
      socket.on('message', (msg, from) => this.#answered(msg, from));
      socket.unref();
      this.#sockets.set(family, socket);
    }
    return socket;
  }

  #answered(msg: Buffer, from: dgram.RemoteInfo): void {
    if (msg.length < 12 || (msg[2]! & 0x80) === 0 || ((msg[2]! >> 3) & 0x0f) !== Opcode.NOTIFY) return;
    const id = msg.readUInt16BE(0);
    for (const [slot, p] of this.#pending) {
      const target = slot.slice(slot.indexOf('|') + 1);
      if (p.id !== id || target !== formatListenAddress({ host: from.address, port: from.port })) continue;
      if (p.timer) clearTimeout(p.timer);
      this.#pending.delete(slot);
      const rcode = msg[3]! & 0x0f;
      if (rcode !== 0) this.#log.warn({ zone: slot.slice(0, slot.indexOf('|')) + '.', serial: p.serial, secondary: target, rcode }, 'NOTIFY answered with an error');
      else this.#log.debug({ zone: slot.slice(0, slot.indexOf('|')) + '.', serial: p.serial, secondary: target }, 'NOTIFY acknowledged');
      return;
    }
  }

  /** NOTIFYs sent and not answered yet (for tests and status). */
  get unanswered(): number {
    return this.#pending.size;
  }
}
