/**
 * RRSIG records (RFC 4034 §3) over an RRset in canonical form (§6): owner and embedded names
 * lower-cased, RRs sorted by RDATA, duplicates dropped. ECDSA signatures are r||s, 32 octets
 * each (RFC 6605 §4), not DER; Ed25519 as RFC 8080. Node's crypto, no other signer.
 */
import crypto from 'node:crypto';
import { RRType } from '../dns/constants.js';
import type { Name } from '../dns/name.js';
import { ALGORITHMS, canonicalName, type SigningKey } from './keys.js';

/** The RDATA names RFC 4034 §6.2 (as amended by RFC 6840 §5.1) lower-cases: offsets of the fixed fields before each. */
const NAME_FIELDS = new Map<number, 'first' | 'after2' | 'after6' | 'two'>([
  [RRType.NS, 'first'],
  [RRType.CNAME, 'first'],
  [RRType.PTR, 'first'],
  [RRType.DNAME, 'first'],
  [RRType.MX, 'after2'],
  [RRType.KX, 'after2'],
  [RRType.SRV, 'after6'],
  [RRType.SOA, 'two'],
  [RRType.RP, 'two'],
]);

function lowerName(out: Buffer, at: number): number {
  let i = at;
  for (let len = out[i]!; len !== 0; i += len + 1, len = out[i]!) {
    for (let j = i + 1; j <= i + len; j++) if (out[j]! >= 0x41 && out[j]! <= 0x5a) out[j] = out[j]! | 0x20;
  }
  return i + 1;
}

/** RDATA in canonical form: our RDATA is stored uncompressed, so only the case of embedded names changes. */
export function canonicalRdata(type: number, rdata: Buffer): Buffer {
  const kind = NAME_FIELDS.get(type);
  if (kind === undefined) return rdata;
  const out = Buffer.from(rdata);
  if (kind === 'first') lowerName(out, 0);
  else if (kind === 'after2') lowerName(out, 2);
  else if (kind === 'after6') lowerName(out, 6);
  else lowerName(out, lowerName(out, 0));
  return out;
}

/** An RRset's records in canonical form and order (RFC 4034 §6.3), as signed: owner, type, class, original TTL, RDLENGTH, RDATA each. */
export function canonicalRRset(owner: Name, type: number, klass: number, originalTtl: number, rdatas: readonly Buffer[]): Buffer {
  const wireOwner = canonicalName(owner);
  const sorted = rdatas.map((r) => canonicalRdata(type, r)).sort((a, b) => Buffer.compare(a, b));
  const parts: Buffer[] = [];
  let previous: Buffer | null = null;
  for (const rdata of sorted) {
    if (previous !== null && previous.equals(rdata)) continue;
    previous = rdata;
    const fixed = Buffer.allocUnsafe(10);
    fixed.writeUInt16BE(type, 0);
    fixed.writeUInt16BE(klass, 2);
    fixed.writeUInt32BE(originalTtl, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    parts.push(wireOwner, fixed, rdata);
  }
  return Buffer.concat(parts);
}

export interface SignatureTimes {
  /** Seconds since the epoch; serial number arithmetic (RFC 1982) wraps them into 32 bits. */
  readonly inception: number;
  readonly expiration: number;
}

/**
 * RRSIG RDATA over `canonical` (canonicalRRset's output) by `key`. `labels` is the owner's
 * label count without a leading "*" (RFC 4034 §3.1.3), so a wildcard expansion says so.
 */
export function rrsigRdata(key: SigningKey, type: number, labels: number, originalTtl: number, times: SignatureTimes, canonical: Buffer): Buffer {
  const signer = canonicalName(key.zone);
  const head = Buffer.allocUnsafe(18 + signer.length);
  head.writeUInt16BE(type, 0);
  head[2] = key.algorithm;
  head[3] = labels;
  head.writeUInt32BE(originalTtl >>> 0, 4);
  head.writeUInt32BE(times.expiration >>> 0, 8);
  head.writeUInt32BE(times.inception >>> 0, 12);
  head.writeUInt16BE(key.tag, 16);
  signer.copy(head, 18);
  const data = Buffer.concat([head, canonical]);
  const signature = key.algorithm === ALGORITHMS.ECDSAP256SHA256 ? crypto.sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }) : crypto.sign(null, data, key.privateKey);
  return Buffer.concat([head, signature]);
}
