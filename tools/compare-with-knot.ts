/**
 * Serves the same zones in meridian and in Knot DNS and compares their answers (issue #2).
 *
 *   node dist/tools/compare-with-knot.js [--zones DIR]... [--verbose] [--filter TEXT]
 *
 * Without --zones: the corpus of test/support/compare/corpus.ts over its two zone sets
 * (test/fixtures/zones and zones/), exactly as test/compare/knot-compare.test.ts runs it.
 * With --zones DIR: DIR's zones; a folder of the corpus gets its corpus, any other folder
 * gets queries made from its contents (every owner and type, a missing type, a missing
 * name, ANY over UDP and TCP). Prints one line per query: "same", "accepted difference:
 * <reason>", "KNOWN MERIDIAN BUG: <what>" (KNOWN_BUGS) or "DIFFERENT" with the fields;
 * exits 1 when any difference is unexplained or a known bug (or an ACCEPTED entry no longer
 * occurs), 2 on a usage or start-up error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load-config.js';
import { startServer, type RunningServer } from '../src/main.js';
import { startKnot, knotUnavailableReason, knotVersion, readKnotZones, type RunningKnot } from '../test/support/knot.js';
import { formatOutcomes, formatReasons, runCorpus, unusedAcceptances, type Outcome } from '../test/support/compare/compare.js';
import { ACCEPTED, CORPUS, GENERAL_ACCEPTED, KNOWN_BUGS, generatedQueries, ZONE_SETS, type CorpusQuery, type ZoneSet } from '../test/support/compare/corpus.js';

/** The project root, from dist/tools/ or tools/. */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('project root (package.json) not found');
    dir = up;
  }
  return dir;
}

async function startMeridian(zonesDir: string): Promise<RunningServer & { port: number }> {
  const base = loadConfig(null, { listen: ['127.0.0.1:0'], zonesDir, logLevel: 'silent' }, {});
  const config = { ...base, zones: { ...base.zones, watch: false } };
  const server = await startServer(config, pino({ level: 'silent' }));
  return Object.assign(server, { port: server.addresses[0]!.port });
}

interface Job {
  readonly label: string;
  readonly dir: string;
  /** The corpus set for this folder, or null to generate queries from the zones. */
  readonly set: ZoneSet | null;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      zones: { type: 'string', multiple: true },
      verbose: { type: 'boolean', short: 'v', default: false },
      filter: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node dist/tools/compare-with-knot.js [--zones DIR]... [--verbose] [--filter TEXT]');
    return 0;
  }
  const unavailable = knotUnavailableReason();
  if (unavailable !== null) {
    console.error(`compare-with-knot: ${unavailable}`);
    return 2;
  }
  const root = projectRoot();
  const known = (Object.keys(ZONE_SETS) as ZoneSet[]).map((set) => ({ set, dir: path.resolve(root, ZONE_SETS[set]) }));
  const jobs: Job[] = values.zones
    ? values.zones.map((d) => {
        const dir = path.resolve(d);
        if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--zones ${d}: not a folder`);
        return { label: d, dir, set: known.find((k) => k.dir === dir)?.set ?? null };
      })
    : known.map((k) => ({ label: ZONE_SETS[k.set], dir: k.dir, set: k.set }));

  console.log(`# ${knotVersion()} vs meridian`);
  const all: Outcome<CorpusQuery>[] = [];
  let corpusRan = false;
  for (const job of jobs) {
    let meridian: (RunningServer & { port: number }) | null = null;
    let knot: RunningKnot | null = null;
    try {
      [meridian, knot] = await Promise.all([startMeridian(job.dir), startKnot(job.dir)]);
      let queries: readonly CorpusQuery[];
      let accepted = GENERAL_ACCEPTED;
      if (job.set !== null) {
        queries = CORPUS.filter((q) => q.set === job.set);
        accepted = ACCEPTED;
        corpusRan = true;
      } else {
        queries = generatedQueries(await readKnotZones(knot));
      }
      if (values.filter) queries = queries.filter((q) => q.id.includes(values.filter!));
      console.log(`\n## ${job.label}: ${queries.length} queries (meridian :${meridian.port}, knot :${knot.port})`);
      const outcomes = await runCorpus(queries, { meridian: meridian.port, knot: knot.port }, accepted, KNOWN_BUGS);
      console.log(formatOutcomes(outcomes, values.verbose));
      all.push(...outcomes);
    } finally {
      await Promise.allSettled([meridian?.close(), knot?.stop()]);
    }
  }

  const legend = formatReasons(all);
  if (legend) console.log(`\n# accepted differences:\n${legend}`);
  const count = (s: string): number => all.filter((o) => o.status === s).length;
  console.log(`\n# ${all.length} queries: ${count('same')} same, ${count('accepted')} accepted differences, ` + `${count('KNOWN BUG')} known meridian bugs, ${count('DIFFERENT')} DIFFERENT`);
  let failed = count('DIFFERENT') > 0 || count('KNOWN BUG') > 0;
  if (corpusRan && !values.filter && !values.zones) {
    const unused = unusedAcceptances(all, ACCEPTED);
    for (const u of unused) console.log(`# ACCEPTED entry no longer needed: ${u.query} ${u.field}`);
    const fixed = unusedAcceptances(all, KNOWN_BUGS);
    for (const u of fixed) console.log(`# KNOWN_BUGS entry fixed, remove it: ${u.query} ${u.field}`);
    failed ||= fixed.length > 0;
    failed ||= unused.length > 0;
  }
  return failed ? 1 : 0;
}

class UsageError extends Error {}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`compare-with-knot: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
