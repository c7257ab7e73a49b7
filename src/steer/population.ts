/**
 * Client populations for the what-if simulation (issue #20): who asks, from which network,
 * how often. From a file of `network weight` lines, a query log (src/log/query-log.ts), or
 * the built-in sample of the world by country (sample-population.ts).
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { ExplainInputError, parseClientArg } from './client-arg.js';
import { SAMPLE_POPULATION } from './sample-population.js';
import { ErrorCode } from '../errors.js';

/** One client network and how many of the queries it sends. */
export interface PopulationEntry {
  /** As given, e.g. "81.2.69.0/24", or "192.0.2.53" for a resolver's own address. */
  readonly network: string;
  readonly address: string;
  readonly family: 4 | 6;
  readonly prefix: number;
  /** true: sent as EDNS Client Subnet; false: the resolver's own address (no ECS). */
  readonly fromEcs: boolean;
  /** Relative query weight, > 0. */
  readonly weight: number;
}

export interface Population {
  readonly entries: readonly PopulationEntry[];
  /** What it is, for the output: "sample", "FILE (N lines)". */
  readonly source: string;
}

/** Limits: a population is read whole into memory, and each network costs a decision per name. */
export const POPULATION_LIMITS = { maxNetworks: 100_000, maxFileBytes: 256 * 1024 * 1024, maxWeight: 1e12 } as const;

export class PopulationError extends Error {
  readonly code = ErrorCode.GSLB_ERR_SIM_POPULATION;
}

/** Adds one network's weight; duplicates add up (a query log names a network once per query). */
class Builder {
  readonly #byNetwork = new Map<string, { entry: Omit<PopulationEntry, 'weight'>; weight: number }>();

  add(networkText: string, weight: number, where: string): void {
    let c;
    try {
      c = parseClientArg(networkText);
    } catch (err) {
      throw new PopulationError(`${where}: ${err instanceof ExplainInputError ? err.message.replace('pass that as --client', "list the resolver's address") : String(err)}`);
    }
    const network = `${c.address}/${c.prefix}${c.fromEcs ? '' : ' (resolver)'}`;
    const known = this.#byNetwork.get(network);
    if (known !== undefined) {
      known.weight += weight;
      return;
    }
    if (this.#byNetwork.size >= POPULATION_LIMITS.maxNetworks)
      throw new PopulationError(`${where}: more than ${POPULATION_LIMITS.maxNetworks} distinct networks; aggregate them (a /24 per line is as fine as ECS gets)`);
    this.#byNetwork.set(network, { entry: { network: c.fromEcs ? `${c.address}/${c.prefix}` : c.address, address: c.address, family: c.family, prefix: c.prefix, fromEcs: c.fromEcs }, weight });
  }

  build(source: string): Population {
    const entries = [...this.#byNetwork.values()].map((v) => Object.freeze({ ...v.entry, weight: v.weight }));
    if (entries.length === 0) throw new PopulationError(`${source}: no client networks`);
    return Object.freeze({ entries: Object.freeze(entries), source });
  }
}

/**
 * Reads one line: `NETWORK WEIGHT` (`81.2.69.0/24 120`; a bare address is a resolver's
 * address, asking without ECS), or a query-log JSON line (its ECS network, else its client
 * address, weight 1). Blank lines and `#` comments are skipped.
 */
function addLine(b: Builder, raw: string, where: string): void {
  const line = raw.trim();
  if (line === '' || line.startsWith('#')) return;
  if (line.startsWith('{')) {
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new PopulationError(`${where}: not a query-log line (invalid JSON)`);
    }
    const r = rec as { ecs?: unknown; client?: unknown };
    if (typeof rec !== 'object' || rec === null || typeof r.client !== 'string') throw new PopulationError(`${where}: query-log line without a "client" address`);
    // A malformed ECS option was answered as if absent: the resolver's address decided.
    b.add(typeof r.ecs === 'string' && r.ecs !== 'malformed' ? r.ecs : r.client, 1, where);
    return;
  }
  const fields = line.split(/\s+/);
  if (fields.length !== 2) throw new PopulationError(`${where}: expected "NETWORK WEIGHT" (e.g. "81.2.69.0/24 120"), got ${fields.length} field(s)`);
  const weight = Number(fields[1]);
  if (!/^[0-9.eE+]+$/.test(fields[1]!) || !Number.isFinite(weight) || weight <= 0 || weight > POPULATION_LIMITS.maxWeight) {
    throw new PopulationError(`${where}: weight "${fields[1]}" must be a number above 0 and at most ${POPULATION_LIMITS.maxWeight}`);
  }
  b.add(fields[0]!, weight, where);
}

/** Parses population text (the API body, tests). `file` names it in errors. */
export function parsePopulation(text: string, file: string): Population {
  const b = new Builder();
  const lines = text.split('\n');
  lines.forEach((l, i) => addLine(b, l, `${file}:${i + 1}`));
  return b.build(`${file} (${lines.length} lines)`);
}

/**
 * The admin API's population: (network, weight) pairs already checked by its schema, or the
 * text of a population file. Yields to the event loop every 1000 lines: the server answering
 * DNS runs it.
 */
export async function populationOfBody(body: string | readonly { network: string; weight: number }[], label: string): Promise<Population> {
  const b = new Builder();
  const lines = typeof body === 'string' ? body.split('\n') : body;
  for (let i = 0; i < lines.length; i++) {
    const item = lines[i]!;
    if (typeof item === 'string') addLine(b, item, `${label}:${i + 1}`);
    else b.add(item.network, item.weight, `${label}.${i}.network`);
    if (i % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return b.build(typeof body === 'string' ? `${label} (${lines.length} lines)` : `${label} (${lines.length} networks)`);
}

/** Streams a population file: line by line, so a large query log is never read whole. */
export async function readPopulationFile(file: string): Promise<Population> {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (err) {
    throw new PopulationError(`${file}: ${(err as Error).message}`);
  }
  if (size > POPULATION_LIMITS.maxFileBytes) throw new PopulationError(`${file}: ${size} bytes is over the ${POPULATION_LIMITS.maxFileBytes}-byte limit; aggregate it into "network weight" lines`);
  const b = new Builder();
  const rl = readline.createInterface({ input: fs.createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) addLine(b, line, `${file}:${++n}`);
  return b.build(`${file} (${n} lines)`);
}

/**
 * The built-in sample: one /24 per country of the default GeoIP database, weighted by the
 * IPv4 address space the database gives the country (see sample-population.ts for what
 * that does and does not represent).
 */
export function samplePopulation(): Population {
  const b = new Builder();
  for (const [country, network, weight] of SAMPLE_POPULATION) b.add(network, weight, `sample ${country}`);
  return b.build(`built-in sample (${SAMPLE_POPULATION.length} countries, one /24 each, weighted by IPv4 space)`);
}
