/**
 * `meridian simulate` as users run it (the built CLI in a child process) on the example
 * zones: the text table and --json, the change flags, the drains in effect read from the
 * health state file, --clients files (network lines, query logs, hostile and huge ones) and
 * --policy files, each error with file:line and a non-zero exit.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/process.js';
import { projectRoot } from '../support/test-server.js';

const ZONES = path.join(projectRoot, 'zones');
let dir: string;
let config: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-simulate-'));
  config = path.join(dir, 'meridian.yaml');
  fs.writeFileSync(config, `zones: { directory: ${ZONES}, watch: false }\nhealth: { stateFile: null }\n`);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const simulate = (...args: string[]): ReturnType<typeof runCli> => runCli(['simulate', '--config', config, ...args]);
const file = (name: string, text: string): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

interface Row {
  id: string;
  before: number;
  after: number;
  delta: number;
}
interface Result {
  type: string;
  population: { source: string; networks: number; weight: number };
  names: {
    name: string;
    targets: Row[];
    regions: Row[];
    noAnswer: Row;
    failOpen: Row;
    continents: { continent: string; targets: Row[] }[];
    losingAnswersTotal: number;
    losingAnswers: { network: string; continent: string | null }[];
  }[];
}
const json = async (...args: string[]): Promise<Result> => {
  const r = await simulate(...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Result;
};
const nameOf = (r: Result, n: string): Result['names'][number] => r.names.find((x) => x.name === n)!;
const row = (rows: Row[], id: string): Row => rows.find((x) => x.id === id)!;

describe('meridian simulate', { concurrency: 2 }, () => {
  it('--help names every flag', async () => {
    const r = await runCli(['simulate', '--help']);
    assert.equal(r.code, 0);
    for (const flag of ['--clients', '--drain', '--undrain', '--down', '--up', '--policy', '--zone', '--type', '--json']) assert.ok(r.stdout.includes(flag), flag);
  });

  it('the built-in sample, --drain eu-west: text table with before, after, delta and continents', async () => {
    const r = await simulate('--drain', 'eu-west');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^simulated A answers for \d+ client networks: built-in sample/);
    assert.match(r.stdout, /change: drain eu-west/);
    assert.match(r.stdout, /^www\.example\.com\.$/m);
    assert.match(r.stdout, /^ {2}target eu-west +\d+\.\d% +0\.0% +-\d+\.\d$/m);
    assert.match(r.stdout, /^ {2}EU \(\d+\.\d% of queries\) +eu-central 10\.0%→100\.0%, eu-west 90\.0%→0\.0%$/m);
  });

  it('--json: the drained target gets nothing after, the geofence with both EU targets drained loses Europe', async () => {
    const r = await json('--drain', 'eu-west', '--drain', 'example.com/eu-central');
    const eu = nameOf(r, 'eu-data.example.com.');
    assert.equal(row(eu.targets, 'eu-west').after, 0);
    assert.ok(eu.noAnswer.after > 0.1, 'European clients get NODATA inside the fence');
    assert.ok(eu.losingAnswersTotal > 10);
    assert.ok(
      eu.losingAnswers.every((l) => l.continent === 'EU'),
      'only European clients lose answers',
    );
    const www = nameOf(r, 'www.example.com.');
    assert.equal(www.losingAnswersTotal, 0, 'www falls through to the default rule');
  });

  it('drains in effect come from the health state file; --undrain undoes them', async () => {
    const state = file(
      'health.json',
      JSON.stringify({
        version: 1,
        savedAt: Date.now(),
        targets: {
          'example.com/us-east': {
            status: 'up',
            forced: 'down',
            successes: 0,
            failures: 0,
            lastResult: null,
            lastFailure: null,
            since: 0,
            rttMs: null,
            capacity: null,
            history: [],
            restoredAgeMs: null,
          },
        },
      }),
    );
    const cfg = file('with-state.yaml', `zones: { directory: ${ZONES}, watch: false }\nhealth: { stateFile: ${state} }\n`);
    const r = await runCli(['simulate', '--config', cfg, '--undrain', 'us-east', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const api = nameOf(JSON.parse(r.stdout) as Result, 'cdn.example.com.');
    assert.equal(row(api.targets, 'us-east').before, 0);
    assert.ok(row(api.targets, 'us-east').after > 0.3);
  });

  it('--clients: network lines and a query log; --down; --type AAAA', async () => {
    const pop = file('pop.txt', '# two networks\n81.2.69.0/24 3\n8.8.8.0/24 1\n');
    const r = await json('--clients', pop, '--down', 'us-east');
    assert.equal(r.population.networks, 2);
    const www = nameOf(r, 'www.example.com.');
    assert.equal(row(www.targets, 'us-east').before, 0.25);
    assert.equal(row(www.targets, 'us-east').after, 0, 'NA falls through to the default rule, us-east being down');
    const log = file('query.log', '{"client":"127.0.0.1","ecs":"81.2.69.0/24","qname":"www.example.com."}\n'.repeat(3) + '{"client":"127.0.0.1","ecs":"8.8.8.0/24"}\n');
    const q = await json('--clients', log, '--type', 'AAAA');
    assert.equal(q.type, 'AAAA');
    assert.deepEqual([q.population.networks, q.population.weight], [2, 4]);
  });

  it('--policy: a changed file compiles like the loader; errors are file:line', async () => {
    const policy = fs.readFileSync(path.join(ZONES, 'example.com.policy.yaml'), 'utf8');
    const good = file('example.com.policy.yaml', policy.replace('weight: 90', 'weight: 10'));
    const r = await json('--policy', good);
    const eu = nameOf(r, 'www.example.com.').continents.find((c) => c.continent === 'EU')!;
    assert.ok(row(eu.targets, 'eu-west').after < row(eu.targets, 'eu-west').before);
    fs.mkdirSync(path.join(dir, 'bad'), { recursive: true });
    const bad = file('bad/example.com.policy.yaml', policy.replace('weight: 90', 'weight: -5'));
    const b = await simulate('--policy', bad);
    assert.equal(b.code, 2);
    assert.match(b.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: .*weight`));
    const anon = await simulate('--policy', file('edit.yaml', policy));
    assert.equal(anon.code, 2);
    assert.match(anon.stderr, /pass --zone/);
    const other = await simulate('--policy', file('edit2.yaml', policy), '--zone', 'nowhere.test');
    assert.match(other.stderr, /zone: "nowhere\.test" is not a zone this server serves/);
  });

  it('hostile --clients files and ids: file:line errors, exit 2', async () => {
    const cases: [string, RegExp][] = [
      ['81.2.69.0/24 1\n81.2.69.0/24 x\n', /bad\.txt:2: weight "x"/],
      ['81.2.69.0/24 1\n__proto__ 1\n', /bad\.txt:2: client "__proto__" is not an IP address/],
      ['{"client": "8.8.8.8"\n', /bad\.txt:1: not a query-log line/],
      ['192.168.1.0/24 5\n', /bad\.txt:1: the server does not locate clients by the subnet/],
    ];
    for (const [text, re] of cases) {
      const r = await simulate('--clients', file('bad.txt', text));
      assert.equal(r.code, 2, text);
      assert.match(r.stderr, re);
    }
    const ids = await simulate('--drain', '__proto__');
    assert.equal(ids.code, 2);
    assert.match(ids.stderr, /drain: no target "__proto__"/);
    const missing = await simulate('--clients', path.join(dir, 'nope.txt'));
    assert.match(missing.stderr, /nope\.txt: ENOENT/);
  });

  it('a file past the network cap is refused at the line that crosses it, read as a stream', async () => {
    const lines: string[] = [];
    for (let i = 0; i <= 100_000; i++) lines.push(`${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24 1`);
    const big = file('big.txt', lines.join('\n') + '\n');
    const r = await simulate('--clients', big);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /big\.txt:100001: more than 100000 distinct networks/);
  });
});
