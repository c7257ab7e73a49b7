/**
 * The octets of a client's address as the sockets report it ("192.0.2.1", "2001:db8::1",
 * "::ffff:192.0.2.1" on a dual-stack socket), for cookies (RFC 9018 hashes them) and rate
 * limiting (which keys by network). The last address read is kept: a flood, or a resolver's
 * stream of queries, comes from one address at a time.
 */
import { parseIPv4Into, parseIPv6Into } from '../net/ip-parse.js';

export class ClientAddressReader {
  #lastText = '';
  #last: Uint8Array | null = null;
  readonly #v4 = new Uint8Array(4);
  readonly #v6 = new Uint8Array(16);

  /** 4 octets for IPv4 (IPv4-mapped IPv6 included), 16 for IPv6; null for text that is neither. The array is reused: read it before the next call. */
  read(text: string): Uint8Array | null {
    if (text === this.#lastText) return this.#last;
    this.#lastText = text;
    this.#last = parseIPv4Into(text, text.startsWith('::ffff:') ? 7 : 0, this.#v4);
    if (this.#last === null) this.#last = parseIPv6Into(text, this.#v6) ? this.#v6 : null;
    return this.#last;
  }
}
