/**
 * RTT samples pushed by operators or measurement systems (admin API): network → region → ms,
 * smoothed (EWMA) and aged out after their TTL. Read by the latency filter after the policy
 * file's own table, with the sample's network as the ECS scope.
 */
import { commonPrefixLength, parseCidr, type Cidr } from './cidr.js';
import { parseAddress } from '../net/ip-parse.js';
import { SPECIFICITY, type ClientInfo, type LatencyEstimate } from './types.js';

interface Sample {
  readonly cidr: Cidr;
  ms: number;
  expires: number;
  /** When the last sample for this network arrived. */
  at: number;
}

const ALPHA = 0.3;

export class LatencySamples {
  /** region → network → sample; nested rather than one "network|region" key, which a region holding "|" would alias. */
  readonly #byRegion = new Map<string, Map<string, Sample>>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Adds one sample; throws with a clear message on a bad network. */
  add(network: string, region: string, ms: number, ttlSec: number): void {
    const cidr = parseCidr(network);
    let samples = this.#byRegion.get(region);
    if (samples === undefined) this.#byRegion.set(region, (samples = new Map<string, Sample>()));
    const existing = samples.get(cidr.text);
    const now = this.#now();
    const expires = now + ttlSec * 1000;
    if (existing && existing.expires > now) {
      existing.ms += ALPHA * (ms - existing.ms);
      existing.expires = expires;
      existing.at = now;
    } else {
      samples.set(cidr.text, { cidr, ms, expires, at: now });
    }
  }

  /** The longest-prefix live sample for the client and region. */
  lookup(client: ClientInfo, region: string): LatencyEstimate | null {
    const samples = this.#byRegion.get(region);
    if (samples === undefined) return null;
    const address = parseAddress(client.address);
    if (address === null) return null;
    const now = this.#now();
    let best: Sample | null = null;
    for (const [key, s] of samples) {
      if (s.expires <= now) {
        samples.delete(key);
        continue;
      }
      if (s.cidr.family !== address.family || s.cidr.prefix > client.sourcePrefix) continue;
      if (commonPrefixLength(address, s.cidr) < s.cidr.prefix) continue;
      if (best === null || s.cidr.prefix > best.cidr.prefix) best = s;
    }
    if (samples.size === 0) this.#byRegion.delete(region);
    if (best === null) return null;
    const age = Math.max(0, Math.round((now - best.at) / 1000));
    return { ms: best.ms, scopePrefix: best.cidr.prefix, matched: `sample ${best.cidr.text}, ${age} s old`, specificity: SPECIFICITY.network(best.cidr.prefix), measuredAt: best.at };
  }

  /**
   * The scope an estimate that holds for the client's first `scope` bits must claim so that
   * it keeps clear of every live sample for the region that is more specific and does not
   * hold the client (a resolver must not reuse the answer for a network a sample decides).
   */
  exclusionScope(client: ClientInfo, region: string, scope: number): number {
    const samples = this.#byRegion.get(region);
    if (samples === undefined) return scope;
    const address = parseAddress(client.address);
    if (address === null) return scope;
    const now = this.#now();
    let out = scope;
    for (const s of samples.values()) {
      if (s.expires <= now || s.cidr.family !== address.family || s.cidr.prefix <= scope) continue;
      const common = commonPrefixLength(address, s.cidr);
      if (common >= scope && common < s.cidr.prefix) out = Math.max(out, Math.min(s.cidr.prefix, common + 1));
    }
    return Math.min(out, client.sourcePrefix);
  }

  /** Live samples, for the API. */
  list(): Array<{ network: string; region: string; ms: number; expiresAt: string }> {
    const now = this.#now();
    return [...this.#byRegion].flatMap(([region, samples]) =>
      [...samples.values()].filter((s) => s.expires > now).map((s) => ({ network: s.cidr.text, region, ms: Math.round(s.ms * 10) / 10, expiresAt: new Date(s.expires).toISOString() })),
    );
  }
}
