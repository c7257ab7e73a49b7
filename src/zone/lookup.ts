import { RRType } from '../dns/constants.js';
import type { Zone, ZoneNode } from './zone.js';

/** What a zone knows about a name (as CoreDNS's file plugin: a result kind, never a throw). */
export type NameLookup =
  /** The name exists (possibly as an empty non-terminal). `wildcard` when synthesised (RFC 4592), the owner is then QNAME. */
  | { kind: 'node'; node: ZoneNode; wildcard: boolean }
  /** The name is at or below a zone cut: answer with a referral (RFC 1034 §4.3.2 step 3b). */
  | { kind: 'delegation'; cut: ZoneNode }
  | { kind: 'nxdomain' };

/** Key of the suffix of `labelKeys` that starts at label `from`. */
export function suffixKey(labelKeys: readonly string[], from: number): string {
  let key = '';
  for (let i = from; i < labelKeys.length; i++) key = key.length === 0 ? labelKeys[i]! : key + '.' + labelKeys[i];
  return key;
}

/**
 * Finds `labelKeys` (a name inside `zone`) following RFC 1034 §4.3.2 and RFC 4592:
 * walk down from the apex, stop at a zone cut, and when the name does not exist try the
 * wildcard at the closest encloser. A DS query at a cut is answered from the parent side
 * (RFC 4035 §3.1.4.1), so the cut itself is not a referral for DS.
 */
export function lookupName(zone: Zone, labelKeys: readonly string[], qtype: number): NameLookup {
  const depth = labelKeys.length - zone.origin.length;
  let encloser = zone.nodes.get(zone.originKey)!;
  for (let i = depth - 1; i >= 0; i--) {
    const node = zone.nodes.get(suffixKey(labelKeys, i));
    if (node === undefined) {
      // `encloser` is the closest encloser; its wildcard child matches (RFC 4592 §3.3.1).
      const encloserKey = suffixKey(labelKeys, i + 1);
      const wildcard = zone.nodes.get(encloserKey.length === 0 ? '*' : `*.${encloserKey}`);
      return wildcard ? { kind: 'node', node: wildcard, wildcard: true } : { kind: 'nxdomain' };
    }
    if (node.isCut && !(i === 0 && qtype === RRType.DS)) return { kind: 'delegation', cut: node };
    encloser = node;
  }
  return { kind: 'node', node: encloser, wildcard: false };
}
