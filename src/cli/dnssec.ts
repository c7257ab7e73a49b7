/** `meridian dnssec keygen ZONE` and `settime KEY`: signing keys in BIND's file format, their timing fields, and the DS to give the parent. */
import path from 'node:path';
import { type Name, type NameSyntaxError, nameToText, parseName } from '../dns/name.js';
import { ALGORITHMS, type AlgorithmName, dsRdata, FLAGS_SEP, generateKey, type KeyTiming, parseTime, setKeyTiming, timeText } from '../dnssec/keys.js';
import { rdataToText } from '../zone/rdata/index.js';
import { RRType } from '../dns/constants.js';

/** The timing flags, as dnssec-keygen's and dnssec-settime's -P -A -I -D (and -P sync, -D sync). */
export interface TimingFlags {
  publish?: string;
  activate?: string;
  inactive?: string;
  delete?: string;
  syncPublish?: string;
  syncDelete?: string;
}

export interface KeygenFlags extends TimingFlags {
  algorithm?: string;
  keyDir?: string;
  zsk?: boolean;
}

const FLAG_NAMES: Record<keyof TimingFlags, string> = {
  publish: '--publish',
  activate: '--activate',
  inactive: '--inactive',
  delete: '--delete',
  syncPublish: '--sync-publish',
  syncDelete: '--sync-delete',
};
const UNITS: Record<string, number> = { '': 1, s: 1, mi: 60, h: 3600, d: 86_400, w: 7 * 86_400, mo: 30 * 86_400, y: 365 * 86_400 };

/**
 * A time as BIND's tools take it: YYYYMMDDHHMMSS (UTC), `now`, `now+N`/`+N`/`-N` with a unit
 * (s, mi, h, d, w, mo, y; none: seconds), or `none` (null: the field is removed). Throws with the flag named.
 */
export function parseTimeFlag(flag: string, text: string, now: number): number | null {
  const t = text.trim().toLowerCase();
  if (t === 'none') return null;
  if (t === 'now') return now;
  const rel = /^(?:now)?([+-])(\d{1,10})(s|mi|h|d|w|mo|y)?$/.exec(t);
  if (rel !== null) return now + (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * UNITS[rel[3] ?? '']!;
  const abs = parseTime(t);
  if (abs === null) throw new Error(`${flag}: "${text.slice(0, 40)}" is not YYYYMMDDHHMMSS, now, +N[s|mi|h|d|w|mo|y] or none`);
  return abs;
}

function timingOf(flags: TimingFlags, now: number): Partial<Record<Exclude<keyof KeyTiming, 'created'>, number | null>> {
  const out: Partial<Record<Exclude<keyof KeyTiming, 'created'>, number | null>> = {};
  for (const k of Object.keys(FLAG_NAMES) as (keyof TimingFlags)[]) {
    const v = flags[k];
    if (v !== undefined) out[k] = parseTimeFlag(FLAG_NAMES[k], v, now);
  }
  return out;
}

function zoneArg(command: string, zoneText: string): Name | null {
  try {
    return parseName(zoneText.endsWith('.') ? zoneText : `${zoneText}.`, null);
  } catch (err) {
    process.stderr.write(`meridian dnssec ${command}: ZONE: ${(err as NameSyntaxError).message}\n`);
    return null;
  }
}

const when = (t: number | null | undefined): string => (t === null || t === undefined ? 'unset' : `${timeText(t)} (${new Date(t * 1000).toISOString()})`);

/** Writes K<zone>.+<alg>+<tag>.key and .private (0600) into --key-dir; prints their names, timing and the DS record. */
export function runKeygen(zoneText: string, flags: KeygenFlags, now = Math.floor(Date.now() / 1000)): number {
  const algorithmText = (flags.algorithm ?? 'ECDSAP256SHA256').toUpperCase();
  const algorithm = algorithmText === '13' ? 'ECDSAP256SHA256' : algorithmText === '15' ? 'ED25519' : algorithmText;
  if (!(algorithm in ALGORITHMS)) {
    process.stderr.write(`meridian dnssec keygen: --algorithm: "${flags.algorithm}" is not ECDSAP256SHA256 (13) or ED25519 (15)\n`);
    return 2;
  }
  const zone = zoneArg('keygen', zoneText);
  if (zone === null) return 2;
  let timing;
  try {
    timing = timingOf(flags, now);
  } catch (err) {
    process.stderr.write(`meridian dnssec keygen: ${(err as Error).message}\n`);
    return 2;
  }
  const dir = path.resolve(flags.keyDir ?? 'keys');
  try {
    const made = generateKey(zone, ALGORITHMS[algorithm as AlgorithmName], dir, now, { timing, zsk: flags.zsk === true });
    const t = made.key.timing;
    let out = `${made.keyFile}\n${made.privateFile}\n; publish ${when(t.publish)}, activate ${when(t.activate)}, inactive ${when(t.inactive)}, delete ${when(t.delete)}\n`;
    if ((made.key.flags & FLAGS_SEP) !== 0) out += `; the DS record for the parent zone:\n${nameToText(zone).toLowerCase()} IN DS ${rdataToText(RRType.DS, dsRdata(zone, made.key.dnskey))}\n`;
    process.stdout.write(out);
    return 0;
  } catch (err) {
    process.stderr.write(`meridian dnssec keygen: ${dir}: ${(err as Error).message}\n`);
    return 1;
  }
}

/** Changes the timing fields of the key whose files are KEY(.key|.private); prints the key's timing after. */
export function runSettime(keyArg: string, flags: TimingFlags, now = Math.floor(Date.now() / 1000)): number {
  const base = path.resolve(keyArg.replace(/\.(key|private)$/, ''));
  const m = /^K(.+\.)\+\d{3}\+\d{5}$/.exec(path.basename(base));
  if (m === null) {
    process.stderr.write(`meridian dnssec settime: KEY: "${path.basename(keyArg)}" is not a K<zone>.+<alg>+<tag> key file\n`);
    return 2;
  }
  const zone = zoneArg('settime', m[1]!);
  if (zone === null) return 2;
  let changes;
  try {
    changes = timingOf(flags, now);
  } catch (err) {
    process.stderr.write(`meridian dnssec settime: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    const t = setKeyTiming(base, zone, changes).timing;
    process.stdout.write(
      `${base}: publish ${when(t.publish)}, activate ${when(t.activate)}, inactive ${when(t.inactive)}, delete ${when(t.delete)}, sync publish ${when(t.syncPublish)}, sync delete ${when(t.syncDelete)}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`meridian dnssec settime: ${(err as Error).message}\n`);
    return 1;
  }
}
