/**
 * geo: keeps the targets mapped to where the client is.
 *
 * Each rule lists criteria (continents, countries, subdivisions, ASNs, CIDRs); a rule matches
 * when any of them does. The most specific match wins across all rules, whatever their order:
 * CIDR (longest prefix) > ASN > subdivision > country > continent, as Route 53 geolocation
 * prefers a state record to a country record to a continent record, and gdnsd's geoip
 * plugin lets a `nets` entry override the location database. A tie goes to the earlier rule.
 * No match → `default`; no default → every candidate stays.
 *
 * ECS scope (RFC 7871 §7.2.1): the answer must be claimed only for the network over which
 * it cannot change. That is the matched block for a CIDR, the ASN record's network for an
 * ASN, and the location record's network for subdivision/country/continent. A rule of a
 * more specific kind that did *not* match also narrows it: the answer holds only while the
 * client's network keeps clear of that block or record. Only a geo step with no rules that
 * could apply leaves the scope alone (the same answer for every client).
 */
import { clientNetworkPrefix, commonPrefixLength, coversNetwork, parseAddress, parseCidr, type Cidr, type IpAddress } from '../cidr.js';
import type { ClientInfo, Filter, FilterStep, GeoConfig, Target } from '../types.js';

// Match kinds, least to most specific.
const NONE = 0;
const CONTINENT = 1;
const COUNTRY = 2;
const SUBDIVISION = 3;
const ASN = 4;
const CIDR = 5;

interface Group {
  /** For explain: "rules[2]" or "default". */
  readonly label: string;
  readonly targets: ReadonlySet<string>;
  readonly chain: readonly FilterStep[] | undefined;
}

interface CompiledRule extends Group {
  readonly continents: ReadonlySet<string>;
  readonly countries: ReadonlySet<string>;
  readonly subdivisions: ReadonlySet<string>;
  readonly asns: ReadonlySet<number>;
  readonly cidrs: readonly Cidr[];
}

interface CompiledGeo {
  readonly rules: readonly CompiledRule[];
  readonly default: Group | null;
  readonly allCidrs: readonly Cidr[];
  readonly hasAsns: boolean;
  readonly hasLocations: boolean;
  readonly hasSubdivisions: boolean;
}

interface Match {
  readonly rule: CompiledRule;
  readonly kind: number;
  /** The CIDR's prefix length; 0 for the other kinds. */
  readonly prefix: number;
  readonly what: string;
}

// Config objects live as long as their snapshot; compiling once per object keeps CIDR
// parsing and set building off the query path without changing what the filter returns.
const compiledConfigs = new WeakMap<GeoConfig, CompiledGeo>();

function compile(config: GeoConfig): CompiledGeo {
  const known = compiledConfigs.get(config);
  if (known) return known;
  const upper = (xs: readonly string[] | undefined): ReadonlySet<string> => new Set((xs ?? []).map((x) => x.toUpperCase()));
  const rules = config.rules.map((r, i) => ({
    label: `rules[${i}]`,
    targets: new Set(r.targets),
    chain: r.chain,
    continents: upper(r.continents),
    countries: upper(r.countries),
    subdivisions: upper(r.subdivisions),
    asns: new Set(r.asns ?? []),
    cidrs: (r.cidrs ?? []).map(parseCidr),
  }));
  const compiled: CompiledGeo = {
    rules,
    default: config.default ? { label: 'default', targets: new Set(config.default.targets), chain: config.default.chain } : null,
    allCidrs: rules.flatMap((r) => r.cidrs),
    hasAsns: rules.some((r) => r.asns.size > 0),
    hasLocations: rules.some((r) => r.continents.size + r.countries.size + r.subdivisions.size > 0),
    hasSubdivisions: rules.some((r) => r.subdivisions.size > 0),
  };
  compiledConfigs.set(config, compiled);
  return compiled;
}

export const geoFilter: Filter<GeoConfig> = (candidates, config, ctx) => {
  const c = compile(config);
  const { client } = ctx;
  const geo = client.geo;
  const address = c.allCidrs.length > 0 ? parseAddress(client.address) : null;
  const country = geo.country?.toUpperCase() ?? null;
  const continent = geo.continent?.toUpperCase() ?? null;
  const subdivisions = c.hasSubdivisions ? geo.subdivisions.map((s) => s.toUpperCase()) : [];

  let best: Match | null = null;
  const beats = (kind: number, prefix: number): boolean => best === null || kind > best.kind || (kind === best.kind && prefix > best.prefix);
  for (const rule of c.rules) {
    if (address !== null) {
      for (const cidr of rule.cidrs) {
        if (beats(CIDR, cidr.prefix) && coversNetwork(cidr, address, client.sourcePrefix)) {
          best = { rule, kind: CIDR, prefix: cidr.prefix, what: `cidr ${cidr.text}` };
        }
      }
    }
    if (geo.asn !== null && rule.asns.has(geo.asn) && beats(ASN, 0)) best = { rule, kind: ASN, prefix: 0, what: `asn ${geo.asn}` };
    const sub = subdivisions.find((s) => rule.subdivisions.has(s));
    if (sub !== undefined && beats(SUBDIVISION, 0)) best = { rule, kind: SUBDIVISION, prefix: 0, what: `subdivision ${sub}` };
    if (country !== null && rule.countries.has(country) && beats(COUNTRY, 0)) best = { rule, kind: COUNTRY, prefix: 0, what: `country ${country}` };
    if (continent !== null && rule.continents.has(continent) && beats(CONTINENT, 0)) {
      best = { rule, kind: CONTINENT, prefix: 0, what: `continent ${continent}` };
    }
  }

  const scope = scopeOf(best, c, ctx.client, address);
  if (scope > 0) ctx.useScope(scope);
  const scopeText = scope > 0 ? ` (scope /${scope})` : '';

  const group: Group | null = best?.rule ?? c.default;
  if (group === null) {
    ctx.trace(() => ({ filter: 'geo', kept: candidates.map((t) => t.id), why: `no rule matched and no default: all candidates${scopeText}` }));
    return candidates;
  }
  // In the rule's own order, so a following `first` takes the operator's preference.
  const kept = inGroupOrder(candidates, group.targets);
  const because = best ? `${best.what} matched ${best.rule.label}` : 'no rule matched: default';
  ctx.trace(() => ({
    filter: 'geo',
    kept: kept.map((t) => t.id),
    why: `${because}${scopeText}${kept.length === 0 ? '; none of its targets is a candidate' : ''}`,
  }));
  if (kept.length === 0 || group.chain === undefined) return kept;
  return ctx.runChain(group.chain, kept);
};

/** The prefix length over which this geo decision holds (0: the same for every client). */
function scopeOf(best: Match | null, c: CompiledGeo, client: ClientInfo, address: IpAddress | null): number {
  const kind = best?.kind ?? NONE;
  // A record without its prefix (or no record at all) still says something about the client:
  // claim its network, never "everyone".
  const network = clientNetworkPrefix(client.family, client.sourcePrefix);
  let scope = best !== null && kind === CIDR ? best.prefix : 0;
  if (kind <= ASN && c.hasAsns) scope = Math.max(scope, client.geo.asnPrefix ?? network);
  if (kind <= SUBDIVISION && c.hasLocations) scope = Math.max(scope, client.geo.geoPrefix ?? network);
  // CIDR blocks that would have won had the client been elsewhere in its network: the answer
  // holds for the bits the client shares with each block plus the first that differs.
  for (const cidr of c.allCidrs) {
    if (best !== null && kind === CIDR && cidr.prefix <= best.prefix) continue;
    if (address === null) scope = Math.max(scope, network);
    else if (cidr.family === address.family) scope = Math.max(scope, Math.min(cidr.prefix, commonPrefixLength(address, cidr) + 1));
  }
  return scope;
}

/** The candidates named in `ids`, in the order of `ids`. */
export function inGroupOrder(candidates: readonly Target[], ids: Iterable<string>): Target[] {
  const byId = new Map(candidates.map((t) => [t.id, t]));
  const out: Target[] = [];
  for (const id of ids) {
    const t = byId.get(id);
    if (t) out.push(t);
  }
  return out;
}
