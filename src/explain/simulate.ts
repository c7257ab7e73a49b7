/**
 * What-if simulation (issue #20): for a client population, each target's share of answers
 * of every steered name now and after a change (drain, down, a new policy file), per
 * target, region and client continent, and who gets no answer or a fail-open one.
 *
 * It runs the responder's own `decide()` for every (name, client network), with the
 * network as the ECS address. Random steps are not sampled: a weighted "random" pick hands
 * `branch` all its outcomes with their exact probabilities (filters/weighted.ts), and the
 * simulation follows each, so shares are expected values. Any other draw of `rand` throws.
 */
import { nameKey, nameToText, parseName } from '../dns/name.js';
import { formatProblem } from '../problems/problem-list.js';
import { steeringEnv, targetIsDrained, targetIsUp, type ClientLocator, type Snapshot } from '../snapshot/snapshot.js';
import { force, initialHealth, type TargetHealth } from '../health/state-machine.js';
import { decide, type Decision, type DecisionEnv } from '../steer/decide.js';
import { compilePolicyText, MAX_POLICY_BYTES } from '../steer/policy-file.js';
import type { PopulationEntry, Population } from '../steer/population.js';
import type { ClientInfo, RandomOutcome, SteeredName, Target } from '../steer/types.js';
import { ErrorCode } from '../errors.js';

/** What the decisions read: the steered names, health (drains included), latency and capacity as of now. */
export interface World {
  readonly names: readonly SteeredName[];
  /** As the health monitor holds it, by Target.key; a target absent is up (never probed). */
  readonly health: ReadonlyMap<string, TargetHealth>;
  readonly env: Omit<DecisionEnv, 'rand' | 'branch' | 'isUp' | 'isDrained'>;
}

/** The world a snapshot answers from (the admin API's and the CLI's "before"). */
export function worldOf(snapshot: Snapshot, now: number): World {
  const { isUp: _u, isDrained: _d, rand: _r, ...env } = steeringEnv(snapshot, Math.random, now);
  return { names: [...snapshot.steered.values()].map((e) => e.name), health: snapshot.health, env };
}

/** The decision environment of a world: up and drained by the snapshot's own rules. */
function envOf(world: World): Omit<DecisionEnv, 'rand' | 'branch'> {
  return { ...world.env, isUp: (t) => targetIsUp(world.health, t), isDrained: (t) => targetIsDrained(world.health, t) };
}

/**
 * A change to simulate. Ids are target ids ("eu-west", when one zone has it), keys
 * ("example.com/eu-west") or "eu-west@example.com". drain/undrain are what the admin API does (undrain clears a
 * force-up too); down/up are what a probe could report.
 */
export interface Change {
  readonly drain?: readonly string[];
  readonly undrain?: readonly string[];
  readonly down?: readonly string[];
  readonly up?: readonly string[];
  /** A new policy file: its steered names replace those of `zone` (e.g. "example.com"). */
  readonly policy?: { readonly zone: string; readonly names: readonly SteeredName[] };
}

export class SimulationError extends Error {
  readonly code = ErrorCode.GSLB_ERR_SIM_INPUT;
  /** The input at fault, e.g. "drain", "policy". */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** The world after a change: the names replaced, the target overrides applied. */
export function applyChange(world: World, change: Change): World {
  const known = new Map<string, Target>();
  for (const n of [...world.names, ...(change.policy?.names ?? [])]) for (const t of n.targets) known.set(t.key, t);
  const keysOf = (field: string, ids: readonly string[] | undefined): Set<string> => {
    const out = new Set<string>();
    for (const id of ids ?? []) {
      // "zone/id" or "id@zone", as the admin API's drain takes them
      const at = id.indexOf('@');
      const key =
        at > 0
          ? `${id
              .slice(at + 1)
              .replace(/\.$/, '')
              .toLowerCase()}/${id.slice(0, at)}`
          : id;
      if (known.has(key)) {
        out.add(key);
        continue;
      }
      const matches = [...known.keys()].filter((k) => k.slice(k.lastIndexOf('/') + 1) === id);
      if (matches.length === 0) throw new SimulationError(field, `no target "${id}" in any steered name`);
      if (matches.length > 1) throw new SimulationError(field, `"${id}" is a target in several zones: ${matches.join(', ')}; name one`);
      out.add(matches[0]!);
    }
    return out;
  };
  const drain = keysOf('drain', change.drain);
  const undrain = keysOf('undrain', change.undrain);
  const down = keysOf('down', change.down);
  const up = keysOf('up', change.up);
  for (const [a, b, an, bn] of [
    [drain, undrain, 'drain', 'undrain'],
    [down, up, 'down', 'up'],
  ] as const) {
    for (const k of a) if (b.has(k)) throw new SimulationError(bn, `${k} is also in ${an}`);
  }
  let names = world.names;
  if (change.policy !== undefined) {
    const prefix = change.policy.zone.replace(/\.$/, '').toLowerCase() + '/';
    names = [...world.names.filter((n) => !n.targets.some((t) => t.key.startsWith(prefix))), ...change.policy.names];
  }
  // The overrides as the monitor would apply them: a drain is a forced-down, undrain clears
  // the override, down/up set the probe's verdict.
  const now = world.env.now;
  const health = new Map(world.health);
  const edit = (keys: Set<string>, f: (h: TargetHealth) => TargetHealth): void => {
    for (const k of keys) health.set(k, f(health.get(k) ?? initialHealth(now)));
  };
  edit(drain, (h) => force(h, 'down', now));
  edit(undrain, (h) => force(h, null, now));
  edit(down, (h) => ({ ...h, status: 'down' }));
  edit(up, (h) => ({ ...h, status: 'up' }));
  return { names, health, env: world.env };
}

/** Expected share of the population's queries, 0..1. */
interface Tally {
  /** By target key. */
  readonly targets: Map<string, number>;
  noAnswer: number;
  failOpen: number;
  total: number;
}

const newTally = (): Tally => ({ targets: new Map(), noAnswer: 0, failOpen: 0, total: 0 });

/** One name's decisions for the whole population. */
interface NameTally {
  readonly name: SteeredName;
  readonly all: Tally;
  readonly byContinent: Map<string, Tally>;
  /** Expected answered fraction per client network (for "who loses answers"). */
  readonly answered: Map<string, { entry: PopulationEntry; client: ClientInfo; answered: number }>;
}

/** Every outcome of one decision, with its probability: the responder's decide(), following each branch of each random step. */
export function decisionOutcomes(name: SteeredName, family: 4 | 6, client: ClientInfo, env: Omit<DecisionEnv, 'rand' | 'branch'>): { decision: Decision; p: number }[] {
  const out: { decision: Decision; p: number }[] = [];
  const path: number[] = [];
  for (;;) {
    const sizes: number[] = [];
    let depth = 0;
    let p = 1;
    const branch = (outcomes: readonly RandomOutcome[]): readonly Target[] => {
      if (depth === path.length) path.push(0);
      const o = outcomes[path[depth]!]!;
      sizes[depth++] = outcomes.length;
      p *= o.p;
      return o.targets;
    };
    const rand = (): number => {
      throw new Error(`${nameToText(name.owner)}: a filter drew a random number the simulation cannot expand`);
    };
    let decision: Decision;
    try {
      decision = decide(name, family, client, { ...env, rand, branch });
    } catch (err) {
      // Too many outcomes to enumerate: an answer about the policy, not a crash.
      throw new SimulationError('policy', `${nameToText(name.owner)}: ${(err as Error).message}`);
    }
    out.push({ decision, p });
    if (out.length > 100_000) throw new SimulationError('policy', `${nameToText(name.owner)}: more than 100000 random outcomes per client`);
    path.length = depth;
    let k = depth - 1;
    while (k >= 0 && path[k]! + 1 >= sizes[k]!) k--;
    if (k < 0) return out;
    path[k]!++;
    path.length = k + 1;
  }
}

function addDecision(t: Tally, d: Decision, w: number): void {
  t.total += w;
  if (d.outcome !== 'answer') {
    t.noAnswer += w;
    return;
  }
  if (d.allDown) t.failOpen += w;
  // An answer with n targets: clients spread over its addresses, 1/n each.
  for (const target of d.targets) t.targets.set(target.key, (t.targets.get(target.key) ?? 0) + w / d.targets.length);
}

/**
 * Accumulates the decisions of entries [from, to) into `tallies` (one per name of the world).
 * Split so the admin API can yield between slices (see slices()).
 */
function simulateSlice(world: World, locate: ClientLocator, family: 4 | 6, entries: readonly PopulationEntry[], from: number, to: number, tallies: NameTally[]): void {
  const env = envOf(world);
  for (let i = from; i < to; i++) {
    const e = entries[i]!;
    const client = locate(e.address, e.family, e.prefix, e.fromEcs);
    const continent = client.geo.continent ?? 'unknown';
    world.names.forEach((name, n) => {
      const tally = tallies[n]!;
      let cont = tally.byContinent.get(continent);
      if (cont === undefined) tally.byContinent.set(continent, (cont = newTally()));
      let answered = 0;
      for (const { decision, p } of decisionOutcomes(name, family, client, env)) {
        addDecision(tally.all, decision, e.weight * p);
        addDecision(cont, decision, e.weight * p);
        if (decision.outcome === 'answer') answered += p;
      }
      tally.answered.set(e.network, { entry: e, client, answered });
    });
  }
}

function newTallies(world: World): NameTally[] {
  return world.names.map((name) => ({ name, all: newTally(), byContinent: new Map(), answered: new Map() }));
}

// ---- The comparison ----

export interface ShareRow {
  /** Target id, region or continent code. */
  readonly id: string;
  readonly before: number;
  readonly after: number;
  readonly delta: number;
}

export interface ContinentRow {
  readonly continent: string;
  /** The continent's part of the population's queries. */
  readonly queries: number;
  readonly targets: readonly ShareRow[];
  readonly noAnswer: ShareRow;
  readonly failOpen: ShareRow;
}

export interface LosingClient {
  readonly network: string;
  readonly country: string | null;
  readonly continent: string | null;
  readonly weight: number;
  /** Expected answered fraction of its queries, 0..1. */
  readonly answeredBefore: number;
  readonly answeredAfter: number;
}

export interface NameComparison {
  readonly name: string;
  /** false: the name is not steered on that side (a policy change added or removed it). */
  readonly steeredBefore: boolean;
  readonly steeredAfter: boolean;
  /** Shares of all queries, 0..1 (an answer of n targets gives 1/n to each). */
  readonly targets: readonly ShareRow[];
  readonly regions: readonly ShareRow[];
  readonly noAnswer: ShareRow;
  /** Answered although every target was down (fail-open or the fallback pool). */
  readonly failOpen: ShareRow;
  readonly continents: readonly ContinentRow[];
  /** Client networks whose answered fraction drops, largest weight first (at most 50). */
  readonly losingAnswers: readonly LosingClient[];
  readonly losingAnswersTotal: number;
}

export interface Comparison {
  readonly type: 'A' | 'AAAA';
  readonly population: { readonly source: string; readonly networks: number; readonly weight: number };
  readonly names: readonly NameComparison[];
}

const row = (id: string, before: number, after: number): ShareRow => ({ id, before, after, delta: after - before });
const frac = (v: number, total: number): number => (total > 0 ? v / total : 0);
const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function compareTallies(a: NameTally | undefined, b: NameTally | undefined): NameComparison {
  const any = (a ?? b)!;
  const empty = newTally();
  const ta = a?.all ?? empty;
  const tb = b?.all ?? empty;
  const targetInfo = new Map<string, Target>();
  for (const t of [...(a?.name.targets ?? []), ...(b?.name.targets ?? [])]) targetInfo.set(t.key, t);
  const targets = [...targetInfo.values()].map((t) => row(t.id, frac(ta.targets.get(t.key) ?? 0, ta.total), frac(tb.targets.get(t.key) ?? 0, tb.total))).sort(byId);
  const regions = new Map<string, [number, number]>();
  for (const t of targetInfo.values()) {
    const r = regions.get(t.region) ?? [0, 0];
    r[0] += frac(ta.targets.get(t.key) ?? 0, ta.total);
    r[1] += frac(tb.targets.get(t.key) ?? 0, tb.total);
    regions.set(t.region, r);
  }
  const continentKeys = new Set([...(a?.byContinent.keys() ?? []), ...(b?.byContinent.keys() ?? [])]);
  const continents = [...continentKeys].sort().map((c): ContinentRow => {
    const ca = a?.byContinent.get(c) ?? empty;
    const cb = b?.byContinent.get(c) ?? empty;
    return {
      continent: c,
      queries: frac((a ?? b)!.byContinent.get(c)?.total ?? 0, (a ?? b)!.all.total),
      targets: [...targetInfo.values()]
        .map((t) => row(t.id, frac(ca.targets.get(t.key) ?? 0, ca.total), frac(cb.targets.get(t.key) ?? 0, cb.total)))
        .filter((r) => r.before > 0 || r.after > 0)
        .sort(byId),
      noAnswer: row('no answer', frac(ca.noAnswer, ca.total), frac(cb.noAnswer, cb.total)),
      failOpen: row('fail-open', frac(ca.failOpen, ca.total), frac(cb.failOpen, cb.total)),
    };
  });
  const losing: LosingClient[] = [];
  for (const [network, before] of a?.answered ?? []) {
    const after = b?.answered.get(network)?.answered ?? 0;
    if (after < before.answered - 1e-9) {
      const g = before.client.geo;
      losing.push({ network, country: g.country, continent: g.continent, weight: before.entry.weight, answeredBefore: before.answered, answeredAfter: after });
    }
  }
  losing.sort((x, y) => y.weight - x.weight || (x.network < y.network ? -1 : 1));
  return {
    name: nameToText(any.name.owner),
    steeredBefore: a !== undefined,
    steeredAfter: b !== undefined,
    targets,
    regions: [...regions].map(([id, [x, y]]) => row(id, x, y)).sort(byId),
    noAnswer: row('no answer', frac(ta.noAnswer, ta.total), frac(tb.noAnswer, tb.total)),
    failOpen: row('fail-open', frac(ta.failOpen, ta.total), frac(tb.failOpen, tb.total)),
    continents,
    losingAnswers: losing.slice(0, 50),
    losingAnswersTotal: losing.length,
  };
}

/** Compares the tallies of the world before and after, name by name (by owner name). */
function compare(type: 'A' | 'AAAA', population: Population, before: NameTally[], after: NameTally[]): Comparison {
  const keys = new Map<string, [NameTally | undefined, NameTally | undefined]>();
  for (const t of before) keys.set(t.name.key, [t, undefined]);
  for (const t of after) keys.set(t.name.key, [keys.get(t.name.key)?.[0], t]);
  return {
    type,
    population: { source: population.source, networks: population.entries.length, weight: population.entries.reduce((s, e) => s + e.weight, 0) },
    names: [...keys.values()].map(([a, b]) => compareTallies(a, b)).sort((x, y) => (x.name < y.name ? -1 : 1)),
  };
}

/** Before and after, in slices of `slice` client networks: it yields between two. */
function* slices(before: World, change: Change, population: Population, locate: ClientLocator, type: 'A' | 'AAAA', slice: number): Generator<void, Comparison> {
  const after = applyChange(before, change);
  const family = type === 'A' ? 4 : 6;
  const ta = newTallies(before);
  const tb = newTallies(after);
  const n = population.entries.length;
  for (let from = 0; from < n; from += slice) {
    const to = Math.min(n, from + slice);
    simulateSlice(before, locate, family, population.entries, from, to, ta);
    simulateSlice(after, locate, family, population.entries, from, to, tb);
    yield;
  }
  return compare(type, population, ta, tb);
}

/** Before and after for the whole population, synchronously (the CLI and tests). */
export function whatIf(before: World, change: Change, population: Population, locate: ClientLocator, type: 'A' | 'AAAA' = 'A'): Comparison {
  const run = slices(before, change, population, locate, type, Infinity);
  for (;;) {
    const step = run.next();
    if (step.done) return step.value;
  }
}

/**
 * whatIf, yielding to the event loop every `slice` client networks: the admin API runs in
 * the process that answers DNS, and a large population must not hold queries up.
 */
export async function whatIfSliced(before: World, change: Change, population: Population, locate: ClientLocator, type: 'A' | 'AAAA', slice: number): Promise<Comparison> {
  const run = slices(before, change, population, locate, type, slice);
  for (;;) {
    const step = run.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

// ---- Text ----

/** Client networks losing answers listed per name in the text table (JSON has up to 50). */
const TEXT_LOSING = 10;
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const signed = (v: number): string => (Math.abs(v) < 0.0005 ? '' : `${v > 0 ? '+' : ''}${(v * 100).toFixed(1)}`);

/** The table `meridian simulate` prints. `changed` hides the rows that do not move. */
export function formatComparison(c: Comparison, describe: string): string {
  const out: string[] = [];
  out.push(`simulated ${c.type} answers for ${c.population.networks} client networks: ${c.population.source}`);
  out.push(`change: ${describe}`);
  out.push('shares are expected fractions of the queries (weighted random steps counted exactly, not sampled); an answer of n targets gives 1/n to each');
  for (const n of c.names) {
    out.push('');
    out.push(`${n.name}${!n.steeredBefore ? ' (steered only after the change)' : !n.steeredAfter ? ' (not steered after the change)' : ''}`);
    const line = (label: string, r: ShareRow): string => `  ${label.padEnd(22)} ${pct(r.before).padStart(7)} ${pct(r.after).padStart(7)} ${signed(r.delta).padStart(7)}`;
    out.push(`  ${''.padEnd(22)} ${'before'.padStart(7)} ${'after'.padStart(7)} ${'delta'.padStart(7)}`);
    for (const r of n.targets) out.push(line(`target ${r.id}`, r));
    for (const r of n.regions) out.push(line(`region ${r.id}`, r));
    out.push(line('no answer', n.noAnswer));
    out.push(line('fail-open', n.failOpen));
    for (const ct of n.continents) {
      const moves = [...ct.targets, ct.noAnswer, ct.failOpen].filter((r) => r.before > 0 || r.after > 0);
      const text = moves.map((r) => `${r.id} ${pct(r.before)}${Math.abs(r.delta) >= 0.0005 ? `→${pct(r.after)}` : ''}`).join(', ');
      out.push(`  ${`${ct.continent} (${pct(ct.queries)} of queries)`.padEnd(22)} ${text}`);
    }
    if (n.losingAnswersTotal > 0) {
      const shown = n.losingAnswers.slice(0, TEXT_LOSING);
      out.push(
        `  LOSING ANSWERS: ${n.losingAnswersTotal} client network(s)${n.losingAnswersTotal > shown.length ? ` (the ${shown.length} with the most queries shown; --json lists ${n.losingAnswers.length})` : ''}`,
      );
      for (const l of shown) out.push(`    ${l.network} ${l.country ?? '??'} ${l.continent ?? '??'}: answered ${pct(l.answeredBefore)} → ${pct(l.answeredAfter)}`);
    }
  }
  return out.join('\n');
}

/**
 * A changed policy file for a zone the snapshot serves, compiled and validated as the zone
 * loader does; its errors come back as `file:line: message` lines in a SimulationError.
 */
export function policyChange(snapshot: Snapshot, zone: string, text: string, file: string): NonNullable<Change['policy']> {
  let origin;
  try {
    origin = parseName(zone.endsWith('.') ? zone : zone + '.', null);
  } catch (err) {
    throw new SimulationError('zone', `"${zone}": ${(err as Error).message}`);
  }
  const key = nameKey(origin);
  if (!snapshot.zones.has(key)) throw new SimulationError('zone', `"${zone}" is not a zone this server serves (${[...snapshot.zones.values()].map((z) => z.originKey + '.').join(', ')})`);
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw new SimulationError('policy', `${file}: over the ${MAX_POLICY_BYTES}-byte limit for a policy file`);
  const compiled = compilePolicyText(text, file, origin);
  const errors = compiled.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new SimulationError('policy', `${errors.length} error(s):\n${errors.map(formatProblem).join('\n')}`);
  return { zone: key, names: compiled.steered };
}
