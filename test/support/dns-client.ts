/** A small DNS client over real sockets for tests: build a query, send it over UDP or TCP, decode. */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export interface QueryOptions {
  id?: number;
  /** Add an OPT record (EDNS0). */
  edns?: boolean;
  udpSize?: number;
  dnssecOk?: boolean;
  ednsVersion?: number;
  recursionDesired?: boolean;
  qclass?: 'IN' | 'CH' | 'ANY';
  /** Extra EDNS options, as dns-packet takes them. */
  options?: Array<{ code: number; data?: Buffer }>;
}

export function buildQuery(name: string, type: string, opts: QueryOptions = {}): Buffer {
  const packet: dnsPacket.Packet = {
    type: 'query',
    id: opts.id ?? Math.floor(Math.random() * 65535),
    flags: opts.recursionDesired === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: opts.qclass ?? 'IN' }],
  };
  if (opts.edns) {
    packet.additionals = [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: opts.udpSize ?? 1232,
        extendedRcode: 0,
        ednsVersion: opts.ednsVersion ?? 0,
        flags: opts.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
        options: (opts.options ?? []) as never,
      } as unknown as dnsPacket.Answer,
    ];
  }
  const encoded = dnsPacket.encode(packet);
  // dns-packet does not know RFC 3597 TYPEnnn mnemonics: write the number ourselves.
  const numeric = /^TYPE(\d+)$/i.exec(type);
  if (numeric) encoded.writeUInt16BE(Number(numeric[1]), 12 + Buffer.byteLength(name.replace(/\.$/, '')) + 2);
  return encoded;
}

export function sendUdp(port: number, packet: Buffer, host = '127.0.0.1', timeoutMs = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('UDP query timed out'));
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(packet, port, host);
  });
}

/** Sends one or more queries on one TCP connection (pipelined) and returns the answers in order. */
export function sendTcp(port: number, packets: Buffer[], host = '127.0.0.1', timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const answers: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TCP query timed out after ${answers.length}/${packets.length} answers`));
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(Buffer.concat(packets.map(frame)));
    });
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        answers.push(pending.subarray(2, 2 + len));
        pending = pending.subarray(2 + len);
      }
      if (answers.length === packets.length) {
        clearTimeout(timer);
        socket.end();
        resolve(answers);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export function frame(packet: Buffer): Buffer {
  const out = Buffer.alloc(packet.length + 2);
  out.writeUInt16BE(packet.length, 0);
  packet.copy(out, 2);
  return out;
}

/** A decoded record, loosely typed: tests read whichever fields the type has. */
export interface DecodedRR {
  name: string;
  type: string;
  class: string;
  ttl: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

export interface Decoded {
  id: number;
  flags: number;
  questions: Array<{ name: string; type: string; class: string }>;
  answers: DecodedRR[];
  authorities: DecodedRR[];
  additionals: DecodedRR[];
}

export function decode(buf: Buffer): Decoded {
  return dnsPacket.decode(buf) as unknown as Decoded;
}

/** The RCODE from the header (dns-packet reports it in flags). */
export function rcodeOf(buf: Buffer): number {
  return buf[3]! & 0x0f;
}

export const flagsOf = (buf: Buffer): { qr: boolean; aa: boolean; tc: boolean; rd: boolean; ra: boolean; opcode: number } => ({
  qr: (buf[2]! & 0x80) !== 0,
  opcode: (buf[2]! >> 3) & 0x0f,
  aa: (buf[2]! & 0x04) !== 0,
  tc: (buf[2]! & 0x02) !== 0,
  rd: (buf[2]! & 0x01) !== 0,
  ra: (buf[3]! & 0x80) !== 0,
});

export async function udp(port: number, name: string, type: string, opts: QueryOptions = {}): Promise<{ raw: Buffer; msg: Decoded }> {
  const raw = await sendUdp(port, buildQuery(name, type, opts));
  return { raw, msg: decode(raw) };
}

export async function tcp(port: number, name: string, type: string, opts: QueryOptions = {}): Promise<{ raw: Buffer; msg: Decoded }> {
  const [raw] = await sendTcp(port, [buildQuery(name, type, opts)]);
  return { raw: raw!, msg: decode(raw!) };
}
