/** A tiny authoritative DNS server on loopback UDP for the discovery tests: answers SRV, A and AAAA from a table the test changes. */
import dgram from 'node:dgram';
import net from 'node:net';

export type StubRecord = { type: 'A' | 'AAAA'; address: string } | { type: 'SRV'; priority: number; weight: number; port: number; target: string };

const TYPES = { A: 1, AAAA: 28, SRV: 33 } as const;

export class DnsStub {
  /** Lower-case name without the final dot → its records. */
  readonly records = new Map<string, StubRecord[]>();
  /** When set, every query gets SERVFAIL. */
  failing = false;
  queries = 0;
  private readonly socket = dgram.createSocket('udp4');

  async start(): Promise<string> {
    this.socket.on('message', (msg, peer) => {
      this.queries++;
      const reply = this.answer(msg);
      if (reply !== null) this.socket.send(reply, peer.port, peer.address);
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return `127.0.0.1:${this.socket.address().port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(q: Buffer): Buffer | null {
    if (q.length < 12) return null;
    let at = 12;
    const labels: string[] = [];
    while (at < q.length && q[at]! > 0) {
      labels.push(q.subarray(at + 1, at + 1 + q[at]!).toString('latin1'));
      at += q[at]! + 1;
    }
    const qtype = q.readUInt16BE(at + 1);
    const questionEnd = at + 5;
    const name = labels.join('.').toLowerCase();
    const matching = (this.records.get(name) ?? []).filter((r) => TYPES[r.type] === qtype);
    const known = this.records.has(name);
    const rcode = this.failing ? 2 : known ? 0 : 3;
    const answers = this.failing ? [] : matching.map((r) => record(r));
    const header = Buffer.alloc(12);
    header.writeUInt16BE(q.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8400 | (q.readUInt16BE(2) & 0x0100) | rcode, 2); // QR, AA, RD copied
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, q.subarray(12, questionEnd), ...answers]);
  }
}

function record(r: StubRecord): Buffer {
  let rdata: Buffer;
  if (r.type === 'SRV') {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(r.priority, 0);
    fixed.writeUInt16BE(r.weight, 2);
    fixed.writeUInt16BE(r.port, 4);
    rdata = Buffer.concat([fixed, wireName(r.target)]);
  } else if (r.type === 'A') {
    rdata = Buffer.from(r.address.split('.').map(Number));
  } else {
    rdata = ipv6Bytes(r.address);
  }
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the question's name
  head.writeUInt16BE(TYPES[r.type], 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(0, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function wireName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

function ipv6Bytes(address: string): Buffer {
  if (!net.isIPv6(address)) throw new Error(`not IPv6: ${address}`);
  const [head, tail] = address.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
