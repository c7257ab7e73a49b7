/**
 * The what-if simulation (issue #20) on the pure code: exact weighted outcomes against the
 * race they describe, decisionOutcomes through decide(), changes (drain, undrain, down, up,
 * a new policy) and what they do to shares, per target, region and continent, and who
 * loses answers; bad input names the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseName } from '../../src/dns/name.js';
import { MAX_WEIGHTED_OUTCOMES, weightedFilter, weightedOutcomes } from '../../src/steer/filters/weighted.js';
import { compilePolicyText } from '../../src/steer/policy-file.js';
import { parsePopulation } from '../../src/steer/population.js';
import { applyChange, decisionOutcomes, SimulationError, whatIf, type NameComparison, type World } from '../../src/explain/simulate.js';
import { force, initialHealth, type TargetHealth } from '../../src/health/state-machine.js';
import type { ClientLocator } from '../../src/snapshot/snapshot.js';
import type { SteeredName, Target } from '../../src/steer/types.js';
import { client, context, NO_GEO, seeded, target } from './context.js';

const POLICY = `targets:
  eu-west:    { region: eu-west, ipv4: [192.0.2.10], weight: 90 }
  eu-central: { region: eu-central, ipv4: [192.0.2.20], weight: 10 }
  us-east:    { region: us-east, ipv4: [198.51.100.10] }
names:
  www:
    policy:
      - health: {}
      - geo:
          rules:
            - { continents: [EU], targets: [eu-west, eu-central], chain: [{ weighted: { mode: random } }] }
          default: { targets: [us-east] }
  resident:
    policy:
      - health: {}
      - geo: { rules: [{ continents: [EU], targets: [eu-west, eu-central], fallthrough: false }], default: { targets: [us-east] } }
  pair:
    policy:
      - health: {}
      - weighted: { mode: random, count: 2 }
      - first: 1
`;

const compile = (text: string): SteeredName[] => {
  const c = compilePolicyText(text, 'sim.policy.yaml', parseName('sim.test.', null));
  assert.deepEqual(
    c.problems.filter((p) => p.severity === 'error'),
    [],
  );
  return c.steered;
};

/** Two client networks: 81.2.69.0/24 in Europe (weight 3), 8.8.8.0/24 in North America (weight 1). */
const locate: ClientLocator = (address, family, sourcePrefix, fromEcs) => ({
  address,
  family,
  sourcePrefix,
  fromEcs,
  geo: address.startsWith('81.') ? { ...NO_GEO, continent: 'EU', country: 'GB' } : { ...NO_GEO, continent: 'NA', country: 'US' },
});
const POPULATION = parsePopulation('81.2.69.0/24 3\n8.8.8.0/24 1\n', 'pop.txt');

/** Health by target id of sim.test (absent: never probed, up). */
function world(names = compile(POLICY), health: [string, TargetHealth][] = []): World {
  return { names, health: new Map(health.map(([id, h]) => [`sim.test/${id}`, h])), env: { now: 0 } };
}

const nameOf = (c: { names: readonly NameComparison[] }, n: string): NameComparison => c.names.find((x) => x.name === `${n}.sim.test.`)!;
const share = (rows: readonly { id: string; before: number; after: number }[], id: string): [number, number] => {
  const r = rows.find((x) => x.id === id);
  return r === undefined ? [0, 0] : [r.before, r.after];
};
const close = (got: number, want: number): void => assert.ok(Math.abs(got - want) < 1e-9, `got ${got}, want ${want}`);

describe('weightedOutcomes: the exact distribution of a random weighted pick', () => {
  const a = target('a', { weight: 90 });
  const b = target('b', { weight: 10 });
  const c = target('c', { weight: 0 });
  const table: { name: string; ts: Target[]; count: number; capacity?: (t: Target) => number; want: [string, number][] }[] = [
    {
      name: '90/10, one',
      ts: [a, b],
      count: 1,
      want: [
        ['a', 0.9],
        ['b', 0.1],
      ],
    },
    {
      name: 'weight 0 never while a positive one is left',
      ts: [a, b, c],
      count: 1,
      want: [
        ['a', 0.9],
        ['b', 0.1],
      ],
    },
    {
      name: 'weights 0 only: equal',
      ts: [c, target('d', { weight: 0 })],
      count: 1,
      want: [
        ['c', 0.5],
        ['d', 0.5],
      ],
    },
    {
      name: 'half capacity halves the weight',
      ts: [a, b],
      count: 1,
      capacity: (t) => (t.id === 'a' ? 1 / 9 : 1),
      want: [
        ['a', 0.5],
        ['b', 0.5],
      ],
    },
    {
      name: 'two of three, in draw order',
      ts: [a, b, c],
      count: 2,
      want: [
        ['a,b', 0.9],
        ['b,a', 0.1],
      ],
    },
    {
      name: 'two of 1/1/2',
      ts: [target('x'), target('y'), target('z', { weight: 2 })],
      count: 2,
      want: [
        ['x,y', 0.25 / 3],
        ['x,z', (0.25 * 2) / 3],
        ['y,x', 0.25 / 3],
        ['y,z', (0.25 * 2) / 3],
        ['z,x', 0.25],
        ['z,y', 0.25],
      ],
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const got = weightedOutcomes(row.ts, row.count, row.capacity ?? (() => 1));
      assert.deepEqual(
        got.map((o) => o.targets.map((t) => t.id).join(',')),
        row.want.map(([k]) => k),
      );
      got.forEach((o, i) => close(o.p, row.want[i]![1]));
      close(
        got.reduce((s, o) => s + o.p, 0),
        1,
      );
    });
  }

  it('matches the race the filter draws: 20,000 picks of two among 5/3/2, every order within 1 point', () => {
    const ts = [target('p', { weight: 5 }), target('q', { weight: 3 }), target('r', { weight: 2 })];
    const rand = seeded(11);
    const counts = new Map<string, number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const key = weightedFilter(ts, { count: 2 }, context({ rand }).ctx)
        .map((t) => t.id)
        .join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const o of weightedOutcomes(ts, 2, () => 1)) {
      const key = o.targets.map((t) => t.id).join(',');
      assert.ok(Math.abs((counts.get(key) ?? 0) / n - o.p) < 0.01, `${key}: drawn ${(counts.get(key) ?? 0) / n}, exact ${o.p}`);
    }
  });

  it('refuses to enumerate past its cap rather than stall', () => {
    const many = Array.from({ length: 30 }, (_, i) => target(`t${i}`));
    assert.throws(() => weightedOutcomes(many, 3, () => 1), new RegExp(`more than ${MAX_WEIGHTED_OUTCOMES}`));
  });

  it('the filter hands the outcomes to ctx.branch and never draws', () => {
    const h = context(); // rand() throws
    const seen: number[] = [];
    const kept = weightedFilter([a, b], {}, { ...h.ctx, branch: (o) => (seen.push(...o.map((x) => x.p)), o[1]!.targets) });
    assert.deepEqual(
      kept.map((t) => t.id),
      ['b'],
    );
    assert.deepEqual(seen, [0.9, 0.1]);
  });
});

describe('decisionOutcomes: decide() along every branch', () => {
  const names = compile(POLICY);
  const env = { isUp: () => true, now: 0 };
  it('a European client of www: eu-west 0.9, eu-central 0.1', () => {
    const out = decisionOutcomes(
      names.find((n) => n.owner[0] === 'www')!,
      4,
      client({ geo: { continent: 'EU' } }),
      env,
    );
    assert.deepEqual(
      out.map((o) => [o.decision.targets.map((t) => t.id).join(','), o.p]),
      [
        ['eu-central', 0.1],
        ['eu-west', 0.9],
      ],
    );
  });
  it('a weighted pick followed by first: 1 keeps the first drawn', () => {
    const out = decisionOutcomes(
      names.find((n) => n.owner[0] === 'pair')!,
      4,
      client(),
      env,
    );
    const byFirst = new Map<string, number>();
    for (const o of out) byFirst.set(o.decision.targets[0]!.id, (byFirst.get(o.decision.targets[0]!.id) ?? 0) + o.p);
    // weights 90, 10, 1 (us-east has the default weight 1)
    close(byFirst.get('eu-west')!, 90 / 101);
    close(byFirst.get('us-east')!, 1 / 101);
  });
  it('a deterministic decision is one outcome of probability 1', () => {
    const out = decisionOutcomes(
      names.find((n) => n.owner[0] === 'resident')!,
      4,
      client({ geo: { continent: 'NA' } }),
      env,
    );
    assert.equal(out.length, 1);
    assert.equal(out[0]!.p, 1);
  });
});

describe('whatIf: before and after a change', () => {
  it('no change: before equals after; per target, region and continent', () => {
    const c = whatIf(world(), {}, POPULATION, locate);
    const www = nameOf(c, 'www');
    // 3/4 of the queries from Europe split 90/10, 1/4 from North America to us-east
    close(share(www.targets, 'eu-west')[0], 0.75 * 0.9);
    close(share(www.targets, 'eu-central')[0], 0.75 * 0.1);
    close(share(www.regions, 'us-east')[0], 0.25);
    for (const r of www.targets) assert.equal(r.delta, 0);
    const eu = www.continents.find((x) => x.continent === 'EU')!;
    close(eu.queries, 0.75);
    close(share(eu.targets, 'eu-west')[0], 0.9);
    assert.equal(www.losingAnswersTotal, 0);
  });

  it('drain eu-west: Europe moves to eu-central, nobody loses answers', () => {
    const www = nameOf(whatIf(world(), { drain: ['eu-west'] }, POPULATION, locate), 'www');
    assert.deepEqual(
      share(www.targets, 'eu-west').map((v) => Math.round(v * 1000)),
      [675, 0],
    );
    close(share(www.targets, 'eu-central')[1], 0.75);
    assert.equal(www.noAnswer.after, 0);
    assert.equal(www.losingAnswersTotal, 0);
  });

  it('both EU targets drained: the geofence answers Europe with nothing, flagged as losing answers', () => {
    const resident = nameOf(whatIf(world(), { drain: ['eu-west@sim.test.', 'sim.test/eu-central'] }, POPULATION, locate), 'resident');
    close(resident.noAnswer.after, 0.75);
    assert.equal(resident.losingAnswersTotal, 1);
    assert.deepEqual(resident.losingAnswers[0], { network: '81.2.69.0/24', country: 'GB', continent: 'EU', weight: 3, answeredBefore: 1, answeredAfter: 0 });
  });

  it('both EU targets down (not drained): fail-open inside the fence, counted as fail-open', () => {
    const resident = nameOf(whatIf(world(), { down: ['eu-west', 'eu-central'] }, POPULATION, locate), 'resident');
    close(resident.failOpen.after, 0.75);
    assert.equal(resident.noAnswer.after, 0);
    const eu = resident.continents.find((x) => x.continent === 'EU')!;
    close(eu.failOpen.after, 1);
    close(share(eu.targets, 'eu-west')[1], 0.5);
  });

  it('undrain and up undo a drain and a failure in effect', () => {
    const w = world(undefined, [
      ['eu-west', force(initialHealth(0), 'down', 0)],
      ['eu-central', { ...initialHealth(0), status: 'down' }],
    ]);
    const www = nameOf(whatIf(w, { undrain: ['eu-west'], up: ['eu-central'] }, POPULATION, locate), 'www');
    // before: eu-west drained, eu-central down -> nothing live in EU, falls through to default us-east
    close(share(www.targets, 'us-east')[0], 1);
    close(share(www.targets, 'eu-west')[1], 0.675);
  });

  it("a new policy replaces the zone's names: added and removed names are marked", () => {
    const next = compile(POLICY.replace('  pair:', '  other:'));
    const c = whatIf(world(), { policy: { zone: 'sim.test', names: next } }, POPULATION, locate);
    assert.equal(nameOf(c, 'pair').steeredAfter, false);
    assert.equal(nameOf(c, 'other').steeredBefore, false);
    close(share(nameOf(c, 'pair').targets, 'eu-west')[1], 0);
  });

  it('unknown, reserved and contradictory ids are refused, naming the field', () => {
    for (const [change, field] of [
      [{ drain: ['__proto__'] }, 'drain'],
      [{ down: ['constructor'] }, 'down'],
      [{ drain: ['eu-west'], undrain: ['eu-west'] }, 'undrain'],
    ] as const) {
      assert.throws(
        () => applyChange(world(), change),
        (err: unknown) => err instanceof SimulationError && err.field === field,
        JSON.stringify(change),
      );
    }
  });

  it('duplicated networks add up and __proto__ in a population file is a file:line error', () => {
    const p = parsePopulation('# comment\n\n81.2.69.0/24 1\n81.2.69.7/24 2\n', 'p.txt');
    assert.equal(p.entries.length, 1);
    assert.equal(p.entries[0]!.weight, 3);
    assert.throws(() => parsePopulation('81.2.69.0/24 1\n__proto__ 1\n', 'p.txt'), /^Error: p\.txt:2: client "__proto__" is not an IP address/);
  });
});

describe('populations: hostile lines are file:line errors', () => {
  const table: [string, RegExp][] = [
    ['81.2.69.0/24', /p\.txt:1: expected "NETWORK WEIGHT"/],
    ['81.2.69.0/24 1 2', /p\.txt:1: expected/],
    ['81.2.69.0/24 -1', /p\.txt:1: weight "-1"/],
    ['81.2.69.0/24 0', /weight "0"/],
    ['81.2.69.0/24 NaN', /weight "NaN"/],
    ['81.2.69.0/24 Infinity', /weight "Infinity"/],
    ['81.2.69.0/24 1e13', /weight "1e13"/],
    ['81.2.69.0/33 1', /prefix length/],
    ['10.1.2.0/24 1', /p\.txt:1: the server does not locate clients by the subnet 10\.1\.2\.0\/24/],
    ['0.0.0.0/0 1', /\/0/],
    ['{"client": 1}', /query-log line without a "client"/],
    ['{"client": ', /invalid JSON/],
    ['', /no client networks/],
  ];
  for (const [text, re] of table) it(JSON.stringify(text), () => assert.throws(() => parsePopulation(`${text}\n`, 'p.txt'), re));

  it('query-log lines: the ECS network, else the resolver address; one query each', () => {
    const log = [
      '{"time":"x","client":"127.0.0.1","ecs":"81.2.69.0/24","qname":"www.sim.test."}',
      '{"time":"x","client":"127.0.0.1","ecs":"81.2.69.0/24","qname":"www.sim.test."}',
      '{"time":"x","client":"8.8.4.4","ecs":null}',
      '{"time":"x","client":"8.8.4.4","ecs":"malformed"}',
    ].join('\n');
    const p = parsePopulation(log, 'q.log');
    assert.deepEqual(
      p.entries.map((e) => [e.network, e.weight, e.fromEcs]),
      [
        ['81.2.69.0/24', 2, true],
        ['8.8.4.4', 2, false],
      ],
    );
  });
});

describe('whatIf: a policy too random to enumerate', () => {
  it('is a SimulationError naming the name, not a crash', () => {
    const ids = Array.from({ length: 30 }, (_, i) => `t${i}`);
    const text = `targets:\n${ids.map((id, i) => `  ${id}: { region: r${i}, ipv4: [192.0.2.${i + 1}] }`).join('\n')}\nnames:\n  many:\n    policy:\n      - weighted: { mode: random, count: 3 }\n`;
    assert.throws(
      () => whatIf(world(compile(text)), {}, POPULATION, locate),
      (err: unknown) => err instanceof SimulationError && err.field === 'policy' && err.message.includes('many.sim.test.: a weighted pick of 3 among 30 targets'),
    );
  });
});
