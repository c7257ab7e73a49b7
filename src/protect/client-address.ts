/**
 * The octets of a client's address as the sockets report it ("192.0.2.1", "2001:db8::1",
 * "::ffff:192.0.2.1" on a dual-stack socket), for cookies (RFC 9018 hashes them) and rate
 * limiting (which keys by network). The last address read is kept: a flood, or a resolver's
 * stream of queries, comes from one address at a time.
 */
import { parseIPv6 } from '../geoip/address.js';

export class ClientAddressReader {
  #lastText = '';
  #last: Uint8Array | null = null;
  readonly #v4 = new Uint8Array(4);

  /** 4 octets for IPv4 (IPv4-mapped IPv6 included), 16 for IPv6; null for text that is neither. The array is reused: read it before the next call. */
  read(text: string): Uint8Array | null {
    if (text === this.#lastText) return this.#last;
    this.#lastText = text;
    this.#last = parseDotted(text, text.startsWith('::ffff:') ? 7 : 0, this.#v4);
    if (this.#last === null) this.#last = parseIPv6(text);
    return this.#last;
  }
}

/** A dotted quad from `from` to the end of `text` into `out`; null when it is not one. */
function parseDotted(text: string, from: number, out: Uint8Array): Uint8Array | null {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = from; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return null;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      value = value * 10 + (c - 0x30);
      if (value > 255) return null;
      digits++;
    } else return null;
  }
  return part === 4 ? out : null;
}
