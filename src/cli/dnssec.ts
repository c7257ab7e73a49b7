/** `meridian dnssec keygen ZONE`: a signing key in BIND's file format, and the DS to give the parent. */
import path from 'node:path';
import { type NameSyntaxError, nameToText, parseName } from '../dns/name.js';
import { ALGORITHMS, type AlgorithmName, dsRdata, generateKey } from '../dnssec/keys.js';
import { rdataToText } from '../zone/rdata/index.js';
import { RRType } from '../dns/constants.js';

export interface KeygenFlags {
  algorithm?: string;
  keyDir?: string;
}

/** Writes K<zone>.+<alg>+<tag>.key and .private (0600) into --key-dir; prints their names and the DS record. */
export function runKeygen(zoneText: string, flags: KeygenFlags): number {
  const algorithmText = (flags.algorithm ?? 'ECDSAP256SHA256').toUpperCase();
  const algorithm = algorithmText === '13' ? 'ECDSAP256SHA256' : algorithmText === '15' ? 'ED25519' : algorithmText;
  if (!(algorithm in ALGORITHMS)) {
    process.stderr.write(`meridian dnssec keygen: --algorithm: "${flags.algorithm}" is not ECDSAP256SHA256 (13) or ED25519 (15)\n`);
    return 2;
  }
  let zone;
  try {
    zone = parseName(zoneText.endsWith('.') ? zoneText : `${zoneText}.`, null);
  } catch (err) {
    process.stderr.write(`meridian dnssec keygen: ZONE: ${(err as NameSyntaxError).message}\n`);
    return 2;
  }
  const dir = path.resolve(flags.keyDir ?? 'keys');
  try {
    const made = generateKey(zone, ALGORITHMS[algorithm as AlgorithmName], dir);
    const ds = rdataToText(RRType.DS, dsRdata(zone, made.key.dnskey));
    process.stdout.write(`${made.keyFile}\n${made.privateFile}\n; the DS record for the parent zone:\n${nameToText(zone).toLowerCase()} IN DS ${ds}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`meridian dnssec keygen: ${dir}: ${(err as Error).message}\n`);
    return 1;
  }
}
