/**
 * The client of `meridian explain --client`, `GET /v1/explain` and a population line: an
 * address, or a prefix meaning "as if sent by ECS".
 */
import { isIP } from 'node:net';
import { isLocatable } from '../net/ip-class.js';
import { parseIPOctets, unmapIPv4 } from '../net/ip-parse.js';
import { truncateAddress } from './cidr.js';

/** A client, name or type given to explain (or a population line) that cannot be used; the message names it. */
export class ExplainInputError extends Error {}

/**
 * "81.2.69.0/24" or "2001:db8::1" → address, family, prefix. A prefix means "as if sent by
 * ECS": the address is cut to the prefix as a resolver would send it, and a subnet the
 * server would not use (private, /0…) is refused, since the server would decide on the
 * resolver's own address instead.
 */
export function parseClientArg(text: string): { address: string; family: 4 | 6; prefix: number; fromEcs: boolean } {
  const [addr, prefixText] = text.split('/');
  let address = unmapIPv4(addr ?? '');
  const family = isIP(address);
  if (family === 0) throw new ExplainInputError(`client "${text}" is not an IP address or prefix`);
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new ExplainInputError(`prefix length in "${text}" must be 0..${max}`);
  if (prefixText !== undefined) {
    address = truncateAddress(address, prefix);
    if (prefix === 0 || !isLocatable(parseIPOctets(address)!)) {
      throw new ExplainInputError(`the server does not locate clients by the subnet ${address}/${prefix} (private, unroutable or /0): it uses the resolver's address; pass that as --client`);
    }
  }
  return { address, family: family as 4 | 6, prefix, fromEcs: prefixText !== undefined };
}
