/** DNS numeric constants used across the server (RFC 1035 §3.2, IANA registries). */

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  RP: 17,
  AAAA: 28,
  LOC: 29,
  SRV: 33,
  NAPTR: 35,
  KX: 36,
  CERT: 37,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  SSHFP: 44,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  TLSA: 52,
  SMIMEA: 53,
  CDS: 59,
  CDNSKEY: 60,
  OPENPGPKEY: 61,
  SVCB: 64,
  HTTPS: 65,
  SPF: 99,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
  URI: 256,
  CAA: 257,
} as const;

export const RRClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
  /** Extended RCODE (RFC 6891 §6.1.3): upper 8 bits go in the OPT TTL field. */
  BADVERS: 16,
  /** RFC 7873 §8: bad or missing server cookie. */
  BADCOOKIE: 23,
} as const;

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** EDNS option codes. */
export const EdnsOption = { NSID: 3, CLIENT_SUBNET: 8, COOKIE: 10, PADDING: 12 } as const;

const typeNames = new Map<number, string>();
for (const [name, value] of Object.entries(RRType)) typeNames.set(value, name);
const typeValues = new Map<string, number>(Object.entries(RRType));

/** "A" -> 1, "TYPE65280" -> 65280 (RFC 3597 §5); undefined when unknown. */
export function typeFromText(text: string): number | undefined {
  const upper = text.toUpperCase();
  const known = typeValues.get(upper);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}

/** 1 -> "A", 65280 -> "TYPE65280". */
export function typeToText(type: number): string {
  return typeNames.get(type) ?? `TYPE${type}`;
}

export function classFromText(text: string): number | undefined {
  const upper = text.toUpperCase();
  if (upper === 'IN') return RRClass.IN;
  if (upper === 'CH' || upper === 'CHAOS') return RRClass.CH;
  if (upper === 'HS') return RRClass.HS;
  const m = /^CLASS(\d{1,5})$/.exec(upper);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  return undefined;
}

export function rcodeToText(rcode: number): string {
  for (const [name, value] of Object.entries(Rcode)) if (value === rcode) return name;
  return `RCODE${rcode}`;
}
