/**
 * Issue #2: serve the same zones in meridian and in Knot DNS and compare the answers to a
 * corpus of queries; every difference must be listed, with its reason, in ACCEPTED
 * (test/support/compare/corpus.ts). Skipped with a message when knotd is not installed (CI
 * installs the Debian package `knot`, so it runs there).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatOutcomes, runCorpus, unusedAcceptances, type Outcome } from '../support/compare/compare.js';
import { ACCEPTED, CORPUS, KNOWN_BUGS, ZONE_SETS, type CorpusQuery, type ZoneSet } from '../support/compare/corpus.js';
import { knotUnavailableReason, knotVersion, startKnot, type RunningKnot } from '../support/knot.js';
import { projectRoot, startTestServer, type TestServer } from '../support/test-server.js';

const skip = knotUnavailableReason();
if (skip !== null) console.log(`# skipping the Knot comparison: ${skip}`);

describe('the corpus and the accepted-differences table', () => {
  it('has unique query ids, and every accepted entry names corpus queries and a reason', () => {
    const ids = CORPUS.map((q) => q.id);
    assert.deepEqual(
      ids.filter((id, i) => ids.indexOf(id) !== i),
      [],
      'duplicate query ids',
    );
    for (const a of [...ACCEPTED, ...KNOWN_BUGS]) {
      assert.ok(Array.isArray(a.queries), `ACCEPTED names queries by id, not by pattern: ${String(a.queries)}`);
      if (!Array.isArray(a.queries)) continue;
      assert.ok(a.reason.trim().length > 20, `accepted ${a.field} for ${a.queries.join(', ')} needs a reason`);
      assert.ok(a.queries.length > 0, `accepted ${a.field} names no query`);
      for (const q of a.queries) assert.ok(ids.includes(q), `ACCEPTED/KNOWN_BUGS names ${JSON.stringify(q)}, which is not in CORPUS`);
    }
  });
});

describe('meridian answers as Knot DNS does', { skip: skip ?? false, timeout: 30_000 }, () => {
  const outcomes: Outcome<CorpusQuery>[] = [];
  const running: Array<{ set: ZoneSet; meridian: TestServer | null; knot: RunningKnot | null }> = [];

  before(async () => {
    console.log(`comparing with ${knotVersion()}`);
    for (const set of Object.keys(ZONE_SETS) as ZoneSet[]) {
      const dir = path.join(projectRoot, ZONE_SETS[set]);
      const pair: (typeof running)[number] = { set, meridian: null, knot: null };
      running.push(pair);
      [pair.meridian, pair.knot] = await Promise.all([startTestServer(dir), startKnot(dir)]);
    }
  });

  after(async () => {
    // Whatever started, even if before() failed half-way, is stopped here.
    await Promise.allSettled(running.flatMap((p) => [p.meridian?.close(), p.knot?.stop()].filter((stop) => stop !== undefined)));
  });

  const buggy = new Set(KNOWN_BUGS.flatMap((b) => (Array.isArray(b.queries) ? b.queries : [])));

  const run = async (set: ZoneSet, queries: readonly CorpusQuery[]): Promise<Outcome<CorpusQuery>[]> => {
    const pair = running.find((p) => p.set === set);
    assert.ok(pair?.meridian && pair.knot, 'servers did not start');
    const results = await runCorpus(queries, { meridian: pair.meridian.port, knot: pair.knot.port }, ACCEPTED, KNOWN_BUGS);
    outcomes.push(...results);
    return results;
  };

  for (const set of Object.keys(ZONE_SETS) as ZoneSet[]) {
    it(`${set} (${ZONE_SETS[set]}): every difference is an accepted one`, async () => {
      const results = await run(
        set,
        CORPUS.filter((q) => q.set === set && !buggy.has(q.id)),
      );
      const different = results.filter((o) => o.status !== 'same' && o.status !== 'accepted');
      assert.equal(different.length, 0, `unexplained differences from Knot:\n${formatOutcomes(different, true)}`);
    });
  }

  // Known meridian bugs (KNOWN_BUGS): reported as TODO until src/ is fixed, then this passes.
  it('known meridian bugs are fixed', { todo: KNOWN_BUGS.map((b) => b.summary).join('; ') || false }, async () => {
    const results: Outcome<CorpusQuery>[] = [];
    for (const set of Object.keys(ZONE_SETS) as ZoneSet[])
      results.push(
        ...(await run(
          set,
          CORPUS.filter((q) => q.set === set && buggy.has(q.id)),
        )),
      );
    const wrong = results.filter((o) => o.status !== 'same' && o.status !== 'accepted');
    assert.equal(wrong.length, 0, `still differing from Knot:\n${formatOutcomes(wrong, true)}`);
  });

  it('has no accepted difference or known bug that did not occur', () => {
    assert.equal(outcomes.length, CORPUS.length, 'every query ran');
    const unused = unusedAcceptances(outcomes, ACCEPTED);
    assert.deepEqual(unused, [], 'ACCEPTED lists differences that no longer occur: remove them');
    const fixed = unusedAcceptances(outcomes, KNOWN_BUGS);
    assert.deepEqual(fixed, [], 'KNOWN_BUGS lists bugs that are fixed: remove them');
  });
});
