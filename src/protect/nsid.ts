/**
 * NSID (RFC 5001): the server's identifier, sent back in an EDNS option to a query that asks
 * for it with an empty NSID option. Written as text, or as hex after "0x" (as Knot's `nsid`).
 */
export const NSID_OPTION = 3;

/** The whole option (code, length, data) for `dns.nsid`; null when it is not set. */
export function nsidOption(value: string | null): Buffer | null {
  if (value === null) return null;
  const data = /^0x/i.test(value) ? Buffer.from(value.slice(2), 'hex') : Buffer.from(value, 'utf8');
  const out = Buffer.alloc(4 + data.length);
  out.writeUInt16BE(NSID_OPTION, 0);
  out.writeUInt16BE(data.length, 2);
  data.copy(out, 4);
  return out;
}
