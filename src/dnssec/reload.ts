/**
 * Keys without a restart: on SIGHUP and when a file in a key folder changes (debounced), each
 * signed zone's keys are read again; a zone whose files are broken keeps the keys it had and
 * the log names the file and the reason (never the key material). The timing fields need no
 * reload: the signer applies them at each instant (a signed answer is built afresh at the next
 * event), and a timer at each event logs what the zone's keys do from then on.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { nameKey, nameToText } from '../dns/name.js';
import { KeyFileError, type SigningKey } from './keys.js';
import { readZone } from './load.js';
import type { DnssecSigner, KeyState, ZoneKeys } from './signer.js';

/** Longest setTimeout delay (about 24.8 days); a later event is waited for in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;
const DEBOUNCE_MS = 250;

/** What identifies a zone's keys as read: a reload that reads the same changes nothing. */
function fingerprint(zone: ZoneKeys): string {
  return zone.keys.map((k) => `${k.base}|${k.flags}|${k.dnskey.toString('base64')}|${Object.values(k.timing).join(',')}`).join('\n') + `|${zone.split}|${zone.denial}`;
}

const tags = (keys: readonly SigningKey[]): number[] => keys.map((k) => k.tag);

/** A zone's keys now, for the log. */
export function describeState(s: KeyState): { published: number[]; signing: number[]; cds: number[] } {
  return { published: tags(s.published), signing: tags(s.active), cds: tags(s.synced) };
}

export class KeyReloader {
  readonly #signer: DnssecSigner;
  readonly #config: Config['dns']['dnssec'];
  readonly #log: Logger;
  readonly #prints = new Map<string, string>();
  /** What the log last said each zone's keys do, by origin key. */
  readonly #said = new Map<string, string>();
  readonly #watchers: fs.FSWatcher[] = [];
  #debounce: NodeJS.Timeout | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(signer: DnssecSigner, config: Config['dns']['dnssec'], log: Logger) {
    this.#signer = signer;
    this.#config = config;
    this.#log = log;
    for (const zone of signer.zones.values()) this.#prints.set(nameToText(zone.origin).toLowerCase(), fingerprint(zone));
  }

  /** Watches the key folders and arms the timer for the next timing event. */
  start(): void {
    for (const dir of new Set(
      Object.values(this.#config.zones)
        .filter((z) => z.enabled)
        .map((z) => z.keyDir),
    )) {
      try {
        const w = fs.watch(dir, { persistent: false }, () => this.#changed());
        w.on('error', (err) => this.#log.warn({ err, directory: dir }, 'DNSSEC key folder watch failed; SIGHUP still reloads the keys'));
        this.#watchers.push(w);
      } catch (err) {
        this.#log.warn({ err, directory: dir }, 'cannot watch the DNSSEC key folder; SIGHUP still reloads the keys');
      }
    }
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    for (const w of this.#watchers) w.close();
    this.#watchers.length = 0;
    if (this.#debounce !== null) clearTimeout(this.#debounce);
    if (this.#timer !== null) clearTimeout(this.#timer);
  }

  /** Reads every signed zone's keys again; returns the zones whose keys changed. */
  reload(): string[] {
    if (this.#stopped) return [];
    const now = this.#signer.nowSec();
    const changed: ZoneKeys[] = [];
    for (const [zoneText, z] of Object.entries(this.#config.zones)) {
      if (!z.enabled) continue;
      let zone: ZoneKeys;
      try {
        zone = readZone(zoneText, z, now);
      } catch (err) {
        const file = err instanceof KeyFileError ? err.file : z.keyDir;
        this.#log.error({ zone: zoneText, file, reason: (err as Error).message }, 'DNSSEC keys not reloaded: the keys read before keep signing');
        continue;
      }
      const print = fingerprint(zone);
      const name = nameToText(zone.origin).toLowerCase();
      if (this.#prints.get(name) === print) continue;
      this.#prints.set(name, print);
      changed.push(zone);
    }
    if (changed.length > 0) {
      this.#signer.setKeys(changed);
      for (const z of changed) this.#log.info({ zone: nameToText(z.origin), ...describeState(this.#signer.stateOf(nameKey(z.origin))!) }, 'DNSSEC keys reloaded');
      this.#arm();
    }
    return changed.map((z) => nameToText(z.origin));
  }

  #changed(): void {
    if (this.#debounce !== null) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      this.reload();
    }, DEBOUNCE_MS);
    this.#debounce.unref();
  }

  /** A timer at the next timing event of any zone's keys: then the log says what each zone's keys do. */
  #arm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#stopped) return;
    const next = this.#signer.nextEventMs();
    if (next === Infinity) return;
    const delay = Math.min(Math.max(next - this.#signer.nowMs(), 10), MAX_DELAY_MS);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#logStates();
      this.#arm();
    }, delay);
    this.#timer.unref();
  }

  #logStates(): void {
    for (const [key, zone] of this.#signer.zones) {
      const state = describeState(this.#signer.stateOf(key)!);
      const text = JSON.stringify(state);
      if (this.#said.get(key) === text) continue;
      this.#said.set(key, text);
      if (state.signing.length === 0)
        this.#log.error({ zone: nameToText(zone.origin), ...state }, 'DNSSEC: no key of the zone signs now; validators will find its answers bogus (meridian check lists the keys)');
      else this.#log.info({ zone: nameToText(zone.origin), ...state }, 'DNSSEC: a key timing event changed what the keys do');
    }
  }
}
