/**
 * Issue #18 item 5: the semantic checks of a zone (src/zone/semantic-check.ts, a pass of their
 * own after buildZone gathers the nodes), one table row per check: the zone text, and every
 * problem it gives as `file:line severity message`. A row with no problem is a zone the checks
 * must accept. Lines count from 1: the rows start with `$ORIGIN` and `$TTL` on lines 1 and 2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildFromText, POLICY_FILE, ZONE_FILE } from '../support/zone-text.js';

const HEAD = '$ORIGIN t.\n$TTL 300\n';
const SOA = '@ SOA ns1 hostmaster 1 7200 3600 1209600 60';
const APEX = `${SOA}\n@ NS ns1\nns1 A 192.0.2.1\n`; // lines 3-5

/** A policy steering `names` over one target with both families. */
function policy(...names: string[]): string {
  return `targets:\n  a:\n    region: r1\n    ipv4: [192.0.2.100]\nnames:\n${names.map((n) => `  ${n}:\n    policy:\n      - all: {}\n`).join('')}`;
}
/** The line of `names:` + 1 + 3 per name before: where the policy names the steered name. */
const policyLine = (index: number): number => 6 + 3 * index;

interface Row {
  readonly title: string;
  readonly body: string;
  readonly policy?: string;
  /** `file:line severity message`; empty: accepted with no problem. */
  readonly problems: readonly string[];
  /** Whether a zone is built (only warnings). Default: when there is no problem. */
  readonly built?: boolean;
}

const rows: Row[] = [
  { title: 'a clean zone', body: APEX + 'www A 192.0.2.10\nalias CNAME www\n', problems: [] },
  { title: 'no SOA at the apex (the file, line 0)', body: '@ NS ns1\nns1 A 192.0.2.1\n', problems: [`${ZONE_FILE}:0 error no SOA record at the zone apex t.`] },
  {
    title: 'two SOA at the apex',
    body: APEX + '@ SOA ns2 hostmaster 2 7200 3600 1209600 60\n',
    problems: [`${ZONE_FILE}:3 error 2 SOA records at the apex; exactly one is allowed`],
  },
  { title: 'no NS at the apex (at the SOA)', body: `${SOA}\nns1 A 192.0.2.1\n`, problems: [`${ZONE_FILE}:3 error no NS records at the zone apex t.`] },
  {
    title: 'a DS at the apex',
    body: APEX + '@ DS 12345 8 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n',
    problems: [`${ZONE_FILE}:6 error DS record at the zone apex; it belongs in the parent zone`],
  },
  {
    title: 'a SOA away from the apex',
    body: APEX + 'www SOA ns1 hostmaster 1 7200 3600 1209600 60\n',
    problems: [`${ZONE_FILE}:6 error SOA record at www.t., which is not the zone apex`],
  },
  {
    title: 'two CNAMEs at one name',
    body: APEX + 'alias CNAME www\nalias CNAME ns1\nwww A 192.0.2.10\n',
    problems: [`${ZONE_FILE}:6 error 2 CNAME records at alias.t.; a name has at most one`],
  },
  {
    title: "a CNAME beside other data (the other RRset's line)",
    body: APEX + 'alias CNAME www\nalias TXT "x"\nwww A 192.0.2.10\n',
    problems: [`${ZONE_FILE}:7 error TXT record at alias.t. beside a CNAME (RFC 1034 §3.6.2)`],
  },
  {
    title: 'other data at a delegation point',
    body: APEX + 'sub NS ns.sub\nns.sub A 192.0.2.53\nsub MX 10 mail\n',
    problems: [`${ZONE_FILE}:8 error MX record at the delegation point sub.t.; only NS and DS belong there`],
  },
  {
    title: 'NS and DS at a delegation point, address glue below it',
    body: APEX + 'sub NS ns.sub\nsub DS 12345 8 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nns.sub A 192.0.2.53\nns.sub AAAA 2001:db8::53\n',
    problems: [],
  },
  {
    title: 'non-glue below a delegation, however deep',
    body: APEX + 'sub NS ns.sub\nns.sub A 192.0.2.53\nns.sub TXT "x"\na.b.sub MX 10 mail\n',
    problems: [
      `${ZONE_FILE}:8 error TXT record at ns.sub.t. is below the delegation to sub.t.; only A/AAAA glue may be there`,
      `${ZONE_FILE}:9 error MX record at a.b.sub.t. is below the delegation to sub.t.; only A/AAAA glue may be there`,
    ],
  },
  {
    title: 'TTLs differing within an RRset: a warning, the first TTL kept',
    body: APEX + 'www 300 A 192.0.2.10\nwww 60 A 192.0.2.11\n',
    problems: [`${ZONE_FILE}:7 warning TTL 60 differs from 300 of the A RRset at www.t.; using 300`],
    built: true,
  },
  { title: 'a steered name with only other types beside it', body: APEX + 'lb TXT "x"\n', policy: policy('lb'), problems: [] },
  { title: 'a steered name at the apex', body: APEX, policy: policy('"@"'), problems: [] },
  {
    title: 'a steered name beside a static A, AAAA and CNAME',
    body: APEX + 'lb A 192.0.2.9\nlb AAAA 2001:db8::9\nlb2 CNAME www\nwww A 192.0.2.10\n',
    policy: policy('lb', 'lb2'),
    problems: [
      `${POLICY_FILE}:${policyLine(0)} error steered name lb.t. also has a static A record at ${ZONE_FILE}:6; a policy answers A/AAAA alone`,
      `${POLICY_FILE}:${policyLine(0)} error steered name lb.t. also has a static AAAA record at ${ZONE_FILE}:7; a policy answers A/AAAA alone`,
      `${POLICY_FILE}:${policyLine(1)} error steered name lb2.t. also has a static CNAME record at ${ZONE_FILE}:8; a policy answers A/AAAA alone`,
    ],
  },
  {
    title: 'a steered name at, and one below, a delegation',
    body: APEX + 'sub NS ns.sub\nns.sub A 192.0.2.53\n',
    policy: policy('sub', 'www.sub'),
    problems: [`${POLICY_FILE}:${policyLine(0)} error steered name sub.t. is a delegation point`, `${POLICY_FILE}:${policyLine(1)} error steered name www.sub.t. is below a delegation`],
  },
];

describe('zone semantic checks: each check with its file:line', () => {
  for (const row of rows) {
    it(row.title, () => {
      const result = buildFromText('t.', HEAD + row.body, row.policy);
      const got = result.problems.map((p) => `${p.file}:${p.line} ${p.severity} ${p.message}`);
      assert.deepEqual(got.sort(), [...row.problems].sort());
      assert.equal(result.zone !== null, row.built ?? row.problems.length === 0, 'a zone only without errors');
    });
  }
});
