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
 * Fall-through (issue #20, as gdnsd's ordered datacenter lists and NS1's geofence with
 * fallback): when the matched rule has no live target, or its chain leaves nothing, the next
 * less specific matching rule is tried (country → continent), then `default`, then the
 * name's `whenAllDown`. A rule with `fallthrough: false` is a geofence (data residency): it
 * never falls through, and it restricts whenAllDown to its own targets (`ctx.fence`).
 *
 * ECS scope (RFC 7871 §7.2.1): the answer must be claimed only for the network over which
 * it cannot change. That is the matched block for a CIDR, the ASN record's network for an
 * ASN, and the location record's network for subdivision/country/continent. A rule of a
 * more specific kind that did *not* match also narrows it: the answer holds only while the
 * client's network keeps clear of that block or record. Only a geo step with no rules that
 * could apply leaves the scope alone (the same answer for every client).
 */
import { clientNetworkPrefix, commonPrefixLength, coversNetwork, parseCidr, type Cidr } from '../cidr.js';
import { parseAddress, type IpAddress } from '../../net/ip-parse.js';
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
  /** `fallthrough: false`: a geofence, never left for a less specific rule. */
  readonly fence: boolean;
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
    fence: r.fallthrough === false,
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
  const address = c.allCidrs.length > 0 ? parseAddress(client.address) : null;
  const matches = matchesOf(c, client, address);
  // A group none of whose targets is a live candidate cannot answer any client now; health
  // is the same for every client, so passing it over depends on nothing about the client.
  const live = (g: Group): boolean => candidates.some((t) => g.targets.has(t.id) && ctx.isUp(t));
  const dead = new Set(c.rules.filter((r) => !r.fence && !live(r)));
  const defaultLive = c.default !== null && live(c.default);
  // The scope is computed over the rules that can still win: a rule passed over for every
  // client does not split the answer (a fall-through to a continent rule holds for the
  // continent's network). Without a live default, though, matching a dead rule (→ nothing)
  // and matching none (→ every candidate) differ, so every rule counts.
  const view = dead.size === 0 || !defaultLive ? c : viewWithout(c, dead);
  const passed: string[] = [];
  let scope = 0;
  const finish = (kept: readonly Target[]): readonly Target[] => {
    if (scope > 0) ctx.useScope(scope);
    return kept;
  };
  const scopeText = (): string => (scope > 0 ? ` (scope /${scope})` : '');
  const before = (): string => (passed.length > 0 ? `${passed.join('; ')}; ` : '');

  for (const m of matches) {
    const label = `${m.what} matched ${m.rule.label}`;
    if (dead.has(m.rule)) {
      passed.push(`${label}: no live target, falls through`);
      continue;
    }
    scope = Math.max(scope, scopeOf(m, view, client, address));
    const kept = inGroupOrder(candidates, m.rule.targets);
    if (m.rule.fence && !live(m.rule)) {
      ctx.fence(m.rule.targets);
      ctx.trace(() => ({ filter: 'geo', kept: [], why: `${before()}${label}: a geofence (fallthrough: false) with no live target: whenAllDown decides, within the fence${scopeText()}` }));
      return finish([]);
    }
    ctx.trace(() => ({ filter: 'geo', kept: kept.map((t) => t.id), why: `${before()}${label}${m.rule.fence ? ' (a geofence)' : ''}${scopeText()}` }));
    passed.length = 0;
    const result = m.rule.chain === undefined ? kept : ctx.runChain(m.rule.chain, kept);
    if (result.length > 0) return finish(result);
    if (m.rule.fence) {
      ctx.fence(m.rule.targets);
      ctx.trace(() => ({ filter: 'geo', kept: [], why: `${m.rule.label}'s chain left nothing and it is a geofence: whenAllDown decides, within the fence` }));
      return finish([]);
    }
    passed.push(`${m.rule.label}'s chain left nothing, falls through`);
  }

  if (matches.length === 0 && c.default === null) {
    scope = scopeOf(null, c, client, address);
    ctx.trace(() => ({ filter: 'geo', kept: candidates.map((t) => t.id), why: `no rule matched and no default: all candidates${scopeText()}` }));
    return finish(candidates);
  }
  const reached = matches.length === 0 ? 'no rule matched: default' : `${before()}default`;
  if (c.default !== null && defaultLive) {
    const group = c.default;
    scope = Math.max(scope, scopeOf(null, view, client, address));
    // In the group's own order, so a following `first` takes the operator's preference.
    const kept = inGroupOrder(candidates, group.targets);
    ctx.trace(() => ({ filter: 'geo', kept: kept.map((t) => t.id), why: `${reached}${scopeText()}` }));
    const result = group.chain === undefined ? kept : ctx.runChain(group.chain, kept);
    if (result.length > 0 || matches.length === 0) return finish(result);
    ctx.trace(() => ({ filter: 'geo', kept: [], why: `default's chain left nothing: whenAllDown decides` }));
    return finish([]);
  }
  // Nothing matched can answer: what the client matched still decided that.
  scope = Math.max(scope, matches.length > 0 ? scopeOf(matches[0]!, c, client, address) : scopeOf(null, c, client, address));
  const why = c.default === null ? `${before()}no default: whenAllDown decides` : `${reached} has no live target: whenAllDown decides`;
  ctx.trace(() => ({ filter: 'geo', kept: [], why: `${why}${scopeText()}` }));
  return finish([]);
};

/**
 * Every rule the client matches, each by its most specific criterion, most specific first
 * (CIDR by prefix length > ASN > subdivision > country > continent); a tie keeps file order.
 */
function matchesOf(c: CompiledGeo, client: ClientInfo, address: IpAddress | null): Match[] {
  const geo = client.geo;
  const country = geo.country?.toUpperCase() ?? null;
  const continent = geo.continent?.toUpperCase() ?? null;
  const subdivisions = c.hasSubdivisions ? geo.subdivisions.map((s) => s.toUpperCase()) : [];
  const out: { m: Match; i: number }[] = [];
  c.rules.forEach((rule, i) => {
    let best: Match | null = null;
    const beats = (kind: number, prefix: number): boolean => best === null || kind > best.kind || (kind === best.kind && prefix > best.prefix);
    if (address !== null) {
      for (const cidr of rule.cidrs) {
        if (beats(CIDR, cidr.prefix) && coversNetwork(cidr, address, client.sourcePrefix)) best = { rule, kind: CIDR, prefix: cidr.prefix, what: `cidr ${cidr.text}` };
      }
    }
    if (geo.asn !== null && rule.asns.has(geo.asn) && beats(ASN, 0)) best = { rule, kind: ASN, prefix: 0, what: `asn ${geo.asn}` };
    const sub = rule.subdivisions.size > 0 ? subdivisions.find((x) => rule.subdivisions.has(x)) : undefined;
    if (sub !== undefined && beats(SUBDIVISION, 0)) best = { rule, kind: SUBDIVISION, prefix: 0, what: `subdivision ${sub}` };
    if (country !== null && rule.countries.has(country) && beats(COUNTRY, 0)) best = { rule, kind: COUNTRY, prefix: 0, what: `country ${country}` };
    if (continent !== null && rule.continents.has(continent) && beats(CONTINENT, 0)) best = { rule, kind: CONTINENT, prefix: 0, what: `continent ${continent}` };
    if (best !== null) out.push({ m: best, i });
  });
  out.sort((a, b) => b.m.kind - a.m.kind || b.m.prefix - a.m.prefix || a.i - b.i);
  return out.map((x) => x.m);
}

/** The compiled config as if the given rules were absent (for the scope of a fall-through). */
function viewWithout(c: CompiledGeo, gone: ReadonlySet<CompiledRule>): CompiledGeo {
  const rules = c.rules.filter((r) => !gone.has(r));
  return {
    rules,
    default: c.default,
    allCidrs: rules.flatMap((r) => r.cidrs),
    hasAsns: rules.some((r) => r.asns.size > 0),
    hasLocations: rules.some((r) => r.continents.size + r.countries.size + r.subdivisions.size > 0),
    hasSubdivisions: rules.some((r) => r.subdivisions.size > 0),
  };
}

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
