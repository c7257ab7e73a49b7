/**
 * No stale answer after a change (issue #14 item 3): a server whose caches were warmed before
 * each change answers every question of a list exactly as a server with no caches does, after
 * admin writes of every kind (names that CNAME chains, wildcards, MX/SRV additional addresses,
 * referrals and their glue, empty non-terminals and other zones read), policy edits, drains,
 * hand edits reloaded, and more writes between two queries than a snapshot lists.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseName } from '../../src/dns/name.js';
import { ALGORITHMS, generateKey } from '../../src/dnssec/keys.js';
import { MAX_CHANGES_KEPT } from '../../src/snapshot/per-snapshot-cache.js';
import { ServerPair, type Question } from './differential.js';
import { POLICY_TEXT, ZONE_TEXT } from './helpers.js';

// The admin tests' zone, and names that reach other names, zones and cuts.
const ADM = `${ZONE_TEXT}ext          IN CNAME www.elsewhere.example.
cross        IN CNAME x.other.test.
*.wild       IN A    192.0.2.90
*.wild       IN TXT  "wild"
mx           IN MX   10 mail
mail         IN A    192.0.2.25
srv          IN SRV  0 0 443 mail
sub          IN NS   ns.sub
ns.sub       IN A    192.0.2.60
h.cutme      IN A    192.0.2.61
deep.ent.x   IN A    192.0.2.62
MiXeD        IN A    192.0.2.63
dn           IN DNAME other.test.
fo           IN TXT  "steered too"
tofo         IN CNAME fo
`;

const OTHER = `$ORIGIN other.test.
$TTL 300
@       3600 IN SOA  ns1.adm.test. hostmaster 7 7200 3600 1209600 300
@       3600 IN NS   ns1.adm.test.
x            IN A    192.0.2.70
`;

const q = (name: string, type = 'A', more: Partial<Question> = {}): Question => ({ name: name === '@' ? 'adm.test' : `${name}.adm.test`, type, ...more });

const QUESTIONS: readonly Question[] = [
  q('www'),
  q('WwW'),
  q('www', 'ANY'),
  q('www', 'ANY', { tcp: true }),
  q('www', 'A', { ecs: '192.0.2.0/24' }),
  q('old'),
  q('txt', 'TXT'),
  q('alias'),
  q('ext'),
  q('cross'),
  { name: 'x.other.test', type: 'A' },
  { name: 'other.test', type: 'SOA' },
  q('a.wild'),
  q('y.wild'),
  q('y.wild', 'TXT'),
  q('z.wild'),
  q('z.wild', 'TXT'),
  q('mx', 'MX'),
  q('mail'),
  q('srv', 'SRV'),
  q('x.sub'),
  q('ns.sub'),
  q('sub', 'NS'),
  q('sub', 'DS'),
  q('h.cutme'),
  q('cutme'),
  q('deep.ent.x'),
  q('ent.x'),
  q('x'),
  q('mixed'),
  q('MIXED', 'TXT'),
  q('dn', 'DNAME'),
  q('a.dn'),
  q('fo'),
  q('fo', 'TXT'),
  q('fo', 'AAAA'),
  q('fo', 'A', { ecs: '203.0.113.0/24' }),
  q('tofo'),
  q('nothing'),
  q('nothing', 'TXT'),
  q('NoThInG'),
  q('B.nX2'),
  q('nx1'),
  q('b.nx2'),
  q('nx3'),
  q('q.far'),
  q('www', 'MX'),
  q('ent.x', 'TXT'),
  q('@', 'SOA'),
  q('@', 'NS'),
  q('@', 'ANY'),
  q('@', 'ANY', { tcp: true }),
  q('@', 'MX'),
];

/** The admin tests' policy: `fo` fails over from primary to secondary (its random `w` is not asked). */
const FILES = { 'adm.test.zone': ADM, 'adm.test.policy.yaml': POLICY_TEXT, 'other.test.zone': OTHER };

/** Warms the caches, makes the change, and checks that no answer differs from the uncached server's. */
async function afterChange(pair: ServerPair, what: string, change: () => Promise<unknown>, settleMs: number, questions: readonly Question[]): Promise<void> {
  await pair.warm(questions);
  await change();
  const diffs = await pair.differences(questions, settleMs);
  assert.deepEqual(diffs, [], `stale after ${what}`);
}

const put =
  (pair: ServerPair, zone: string, name: string, type: string, rdata: string[], ttl = 300) =>
  () =>
    pair.call('PUT', `/v1/zones/${zone}/records/${name}/${type}`, { ttl, rdata });
const del = (pair: ServerPair, zone: string, name: string, type: string) => () => pair.call('DELETE', `/v1/zones/${zone}/records/${name}/${type}`);

/** Every kind of change, in turn; `settleMs`: how long a change may take to reach DNS workers. */
function changes(pair: () => ServerPair, settleMs: number, questions = QUESTIONS): void {
  // node:test queues each test itself: the promise it returns needs no await here.
  const run = (what: string, change: (p: ServerPair) => () => Promise<unknown>): void => void it(what, () => afterChange(pair(), what, change(pair()), settleMs, questions));
  run("a name's address (its CNAME chains, 0x20, ANY, ECS)", (p) => put(p, 'adm.test', 'www', 'A', ['192.0.2.180']));
  run('a name in another zone a CNAME leads to', (p) => put(p, 'other.test', 'x', 'A', ['192.0.2.71']));
  run('an exact name under a wildcard', (p) => put(p, 'adm.test', 'y.wild', 'A', ['192.0.2.91']));
  run("a name below a wildcard's sibling (an empty non-terminal appears)", (p) => put(p, 'adm.test', 'a.z.wild', 'A', ['192.0.2.92']));
  run('the wildcard itself', (p) => put(p, 'adm.test', '*.wild', 'A', ['192.0.2.93']));
  run('the exact name removed', (p) => del(p, 'adm.test', 'y.wild', 'A'));
  run('the name below removed (the empty non-terminal goes)', (p) => del(p, 'adm.test', 'a.z.wild', 'A'));
  run('a glue address below a cut', (p) => put(p, 'adm.test', 'ns.sub', 'A', ['192.0.2.64']));
  run('an NS at a new cut', (p) => put(p, 'adm.test', 'cutme', 'NS', ['ns.elsewhere.example.']));
  run('a cut removed', (p) => del(p, 'adm.test', 'sub', 'NS'));
  run("an MX and SRV target's address", (p) => put(p, 'adm.test', 'mail', 'A', ['192.0.2.26', '192.0.2.27']));
  run('the apex NS', (p) => put(p, 'adm.test', '@', 'NS', ['ns1', 'mail'], 3600));
  run('the SOA (negative TTL)', (p) => put(p, 'adm.test', '@', 'SOA', ['ns1 hostmaster 500 7200 3600 1209600 60'], 3600));
  run('a DNAME', (p) => put(p, 'adm.test', 'dn', 'DNAME', ['elsewhere.example.']));
  run('a name that had an NXDOMAIN', (p) => put(p, 'adm.test', 'nx1', 'A', ['192.0.2.94']));
  run('a name above a name that has an NXDOMAIN', (p) => put(p, 'adm.test', 'nx2', 'A', ['192.0.2.95']));
  run('a name below a name that has an NXDOMAIN (it becomes an empty non-terminal)', (p) => put(p, 'adm.test', 'c.nx3', 'A', ['192.0.2.96']));
  run('a wildcard above a name that has an NXDOMAIN', (p) => put(p, 'adm.test', '*.far', 'A', ['192.0.2.97']));
  run('a type at a name that had a NODATA for it', (p) => put(p, 'adm.test', 'www', 'MX', ['10 mail']));
  run('a name by another case', (p) => put(p, 'adm.test', 'mIxEd', 'TXT', ['case']));
  run('the only name below an empty non-terminal removed', (p) => del(p, 'adm.test', 'deep.ent.x', 'A'));
  run('records at a steered name', (p) => put(p, 'adm.test', 'fo', 'TXT', ['other']));
  run(
    'a batch across names',
    (p) => () =>
      p.call('POST', '/v1/zones/adm.test/records/batch', {
        operations: [
          { op: 'put', name: 'deep.ent.x', type: 'A', ttl: 300, rdata: ['192.0.2.65'] },
          { op: 'delete', name: 'old', type: 'A' },
          { op: 'put', name: 'alias', type: 'CNAME', ttl: 300, rdata: ['mail'] },
          { op: 'put', name: 'h.cutme', type: 'A', ttl: 300, rdata: ['192.0.2.66'] },
        ],
      }),
  );
  run(
    'a policy edit',
    (p) => () =>
      p.call('PUT', '/v1/zones/adm.test/policy/names/fo', { ttl: 7, targets: ['secondary', 'primary'], policy: [{ failover: { groups: [{ targets: ['secondary'] }, { targets: ['primary'] }] } }] }),
  );
  run('a drain', (p) => () => p.call('POST', '/v1/targets/secondary/drain'));
  run('a hand edit reloaded', (p) => async () => {
    p.edit('adm.test.zone', (t) => `${t}www2 IN A 192.0.2.82\ntxt IN TXT "more"\n`);
    await p.call('POST', '/v1/reload');
  });
  run('the policy file edited by hand and reloaded', (p) => async () => {
    p.edit('adm.test.policy.yaml', (t) => t.replace('groups: [{ targets: [primary] }, { targets: [secondary] }]', 'groups: [{ targets: [secondary] }, { targets: [primary] }]'));
    await p.call('POST', '/v1/reload');
  });
  run('a CNAME to a steered name', (p) => put(p, 'adm.test', 'tofo', 'CNAME', ['fo.adm.test.']));
  run('as many writes between two queries as a snapshot lists, the first to a name asked', (p) => async () => {
    for (let i = 0; i < MAX_CHANGES_KEPT; i++) await put(p, 'adm.test', i === 0 ? 'www' : `m${i}`, 'A', [`192.0.2.${150 + i}`])();
  });
  run('more writes between two queries than a snapshot lists', (p) => async () => {
    for (let i = 0; i < 20; i++) await put(p, 'adm.test', i % 2 === 0 ? 'www' : `n${i}`, 'A', [`192.0.2.${100 + i}`])();
  });
  run('a zone added and removed', (p) => async () => {
    await p.call('POST', '/v1/zones', { name: 'elsewhere.example', soa: { mname: 'ns1.adm.test.', rname: 'hostmaster.adm.test.' }, ns: ['ns1.adm.test.'] }, 201);
    await put(p, 'elsewhere.example', 'www', 'A', ['192.0.2.72'])();
  });
}

describe('answers after every kind of change: cached as uncached', () => {
  let pair: ServerPair;
  before(async () => {
    pair = await ServerPair.start({ files: FILES });
  });
  after(async () => {
    await pair?.stop();
  });
  changes(() => pair, 0);
});

describe('answers after every kind of change, a zone of many names: cached as uncached', () => {
  let pair: ServerPair;
  before(async () => {
    const many = Array.from({ length: 6000 }, (_, i) => `h${i} IN A 198.18.${i >> 8}.${i & 255}\n`).join('');
    pair = await ServerPair.start({ files: { ...FILES, 'adm.test.zone': ADM + many } });
  });
  after(async () => {
    await pair?.stop();
  });
  changes(() => pair, 0, [...QUESTIONS, q('h1'), q('h77'), q('h5999', 'TXT')]);
});

describe('answers after every kind of change, DNS workers (--workers 2): cached as uncached', () => {
  let pair: ServerPair;
  before(async () => {
    pair = await ServerPair.start({ files: FILES, cachedEnv: { MERIDIAN_WORKERS: '2' } });
  });
  after(async () => {
    await pair?.stop();
  });
  changes(() => pair, 10_000);
});

describe('answers after every kind of change, a signed zone (DO=1): cached as uncached', () => {
  let pair: ServerPair;
  let keys: string;
  before(async () => {
    keys = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-diff-keys-'));
    generateKey(parseName('adm.test.', null), ALGORITHMS.ECDSAP256SHA256, keys);
    pair = await ServerPair.start({ files: FILES, dnsConfig: '  dnssec:\n    zones:\n      adm.test: { keyDir: keys }\n', copy: { from: keys, to: 'keys' } });
  });
  after(async () => {
    await pair?.stop();
    if (keys) fs.rmSync(keys, { recursive: true, force: true });
  });
  const signed = [
    ...QUESTIONS.filter((x) => !x.ecs).map((x) => ({ ...x, dnssecOk: true })),
    q('@', 'DNSKEY', { dnssecOk: true }),
    q('@', 'CDS'),
    q('fo', 'A', { dnssecOk: true, ecs: '203.0.113.0/24' }),
  ];
  changes(() => pair, 0, [...QUESTIONS, ...signed]);
});
