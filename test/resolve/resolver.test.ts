/**
 * Issue #18 item 5: the resolver (src/resolve/resolver.ts) and zone lookup
 * (src/zone/lookup.ts) in process, one table row per case: the question, and the whole
 * resolution as text (RCODE, AA, each section's records with their TTLs, whether the glue is
 * required). Steered names are decided by a stub `steer` that answers as the row says and
 * records what it was asked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RRClass, RRType, rcodeToText, typeFromText, typeToText } from '../../src/dns/constants.js';
import { labelKey, nameToText, parseName } from '../../src/dns/name.js';
import { SnapshotBuilder } from '../../src/control/snapshot-builder.js';
import { resolve, type Question } from '../../src/resolve/resolver.js';
import type { Resolution, SectionEntry } from '../../src/resolve/resolution.js';
import type { ClientLocator } from '../../src/snapshot/snapshot.js';
import type { Decision } from '../../src/steer/decide.js';
import type { SteeredName } from '../../src/steer/types.js';
import { lookupName } from '../../src/zone/lookup.js';
import { rdataToText } from '../../src/zone/rdata/index.js';
import { zoneFromText, zoneMap } from '../support/zone-text.js';

const DS_RDATA = '12345 8 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const T = zoneFromText(
  't.',
  `$ORIGIN t.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 60
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.10
www AAAA 2001:db8::10
www TXT "hello"
mx MX 10 mail
mx MX 20 mail.example.org.
mail A 192.0.2.25
a.b TXT "deep"
alias CNAME www
chain1 CNAME chain2
chain2 CNAME alias
out CNAME www.example.org.
loop1 CNAME loop2
loop2 CNAME loop1
dangling CNAME nothere
other CNAME www.u.
todel CNAME host.sub
tolb CNAME lb
*.wild A 192.0.2.99
*.wild TXT "wild"
x.wild TXT "exists"
y.z.wild TXT "below an empty non-terminal"
*.wc CNAME www
sub NS ns.sub
sub NS ns.elsewhere.org.
sub DS ${DS_RDATA}
ns.sub A 192.0.2.53
ns.sub AAAA 2001:db8::53
ext 3600 NS ns1
kid NS ns1
kid DS ${DS_RDATA}
lb TXT "steered"
`,
  `targets:
  a:
    region: r1
    ipv4: [192.0.2.100]
    ipv6: ["2001:db8::100"]
  b:
    region: r2
    ipv4: [192.0.2.101]
names:
  lb:
    ttl: 20
    downTtl: 5
    policy:
      - all: {}
`,
);
const U = zoneFromText('u.', '$ORIGIN u.\n$TTL 600\n@ SOA ns hostmaster 7 7200 3600 1209600 900\n@ NS ns\nns A 192.0.2.2\nwww A 198.51.100.1\n');
const KID = zoneFromText('kid.t.', '$ORIGIN kid.t.\n$TTL 300\n@ SOA ns1.t. hostmaster 3 7200 3600 1209600 60\n@ NS ns1.t.\nwww A 203.0.113.1\n');

const locate: ClientLocator = () => {
  throw new Error('the resolver locates no client');
};
const snapshot = SnapshotBuilder.offline(locate).build(1, { zones: zoneMap(T, U, KID) });

/** What the stub steer answers for a row: the targets by id, or nodata/servfail. */
type SteerAnswer = { targets: string[]; anyDown?: boolean } | 'nodata' | 'servfail';

function stubSteer(answer: SteerAnswer, asked: string[]): (name: SteeredName, qtype: number) => Decision {
  return (name, qtype) => {
    asked.push(`${nameToText(name.owner)} ${typeToText(qtype)}`);
    const outcome = typeof answer === 'string' ? answer : 'answer';
    const targets = typeof answer === 'string' ? [] : name.targets.filter((t) => answer.targets.includes(t.id));
    return { outcome, targets, scope: 0, key: '', allDown: false, anyDown: typeof answer === 'string' ? false : (answer.anyDown ?? false), trace: null };
  };
}

function question(name: string, type: string, qclass: number = RRClass.IN): Question {
  const labels = parseName(name, null);
  return { labels, labelKeys: labels.map(labelKey), qtype: typeFromText(type)!, qclass };
}

const entry = (e: SectionEntry): string => `${nameToText(e.owner)} ${e.ttl} ${typeToText(e.set.type)} ${e.set.rdatas.map((r) => rdataToText(e.set.type, r)).join(' | ')}`;

/** The whole resolution as lines: `RCODE aa|-- glue|-`, then `an:`, `ns:`, `ad:` records. */
function render(r: Resolution): string[] {
  return [
    `${rcodeToText(r.rcode)} ${r.authoritative ? 'aa' : '--'}${r.glueRequired ? ' glue-required' : ''}`,
    ...r.answer.map((e) => `an: ${entry(e)}`),
    ...r.authority.map((e) => `ns: ${entry(e)}`),
    ...r.additional.map((e) => `ad: ${entry(e)}`),
  ];
}

const SOA_T = 'ns: t. 60 SOA ns1.t. hostmaster.t. 1 7200 3600 1209600 60';

interface Row {
  readonly title: string;
  readonly q: Question;
  readonly tcp?: boolean;
  readonly steer?: SteerAnswer;
  readonly want: readonly string[];
  /** Questions the stub steer must have been asked, in order (default: none). */
  readonly steered?: readonly string[];
}

const rows: Row[] = [
  // Positive answers, with in-zone addresses of MX targets in additional.
  { title: 'an A record', q: question('www.t.', 'A'), want: ['NOERROR aa', 'an: www.t. 300 A 192.0.2.10'] },
  { title: 'a name asked in capitals: the owner as the zone has it', q: question('WWW.T.', 'AAAA'), want: ['NOERROR aa', 'an: www.t. 300 AAAA 2001:db8::10'] },
  {
    title: 'MX with the in-zone target address in additional (the out-of-zone one has none)',
    q: question('mx.t.', 'MX'),
    want: ['NOERROR aa', 'an: mx.t. 300 MX 10 mail.t. | 20 mail.example.org.', 'ad: mail.t. 300 A 192.0.2.25'],
  },
  { title: 'the apex NS, with its address', q: question('t.', 'NS'), want: ['NOERROR aa', 'an: t. 300 NS ns1.t.', 'ad: ns1.t. 300 A 192.0.2.1'] },
  // Negative answers (RFC 2308): SOA in authority with min(SOA TTL, MINIMUM).
  { title: 'NXDOMAIN', q: question('nothere.t.', 'A'), want: ['NXDOMAIN aa', SOA_T] },
  { title: 'NODATA: the name has other types', q: question('www.t.', 'MX'), want: ['NOERROR aa', SOA_T] },
  { title: 'NODATA: an empty non-terminal', q: question('b.t.', 'A'), want: ['NOERROR aa', SOA_T] },
  { title: 'NXDOMAIN below an existing name', q: question('c.a.b.t.', 'TXT'), want: ['NXDOMAIN aa', SOA_T] },
  // CNAME chains (RFC 1034 §3.6.2, §4.3.2; RFC 6604 for the RCODE of the last link).
  { title: 'a CNAME, followed in the zone', q: question('alias.t.', 'A'), want: ['NOERROR aa', 'an: alias.t. 300 CNAME www.t.', 'an: www.t. 300 A 192.0.2.10'] },
  { title: 'a CNAME asked for itself', q: question('alias.t.', 'CNAME'), want: ['NOERROR aa', 'an: alias.t. 300 CNAME www.t.'] },
  {
    title: 'a chain of three',
    q: question('chain1.t.', 'AAAA'),
    want: ['NOERROR aa', 'an: chain1.t. 300 CNAME chain2.t.', 'an: chain2.t. 300 CNAME alias.t.', 'an: alias.t. 300 CNAME www.t.', 'an: www.t. 300 AAAA 2001:db8::10'],
  },
  { title: 'a chain leaving our zones stops there, NOERROR', q: question('out.t.', 'A'), want: ['NOERROR aa', 'an: out.t. 300 CNAME www.example.org.'] },
  { title: 'a loop stops where it comes back', q: question('loop1.t.', 'A'), want: ['NOERROR aa', 'an: loop1.t. 300 CNAME loop2.t.', 'an: loop2.t. 300 CNAME loop1.t.'] },
  { title: 'a chain to a missing name: NXDOMAIN after the CNAME', q: question('dangling.t.', 'A'), want: ['NXDOMAIN aa', 'an: dangling.t. 300 CNAME nothere.t.', SOA_T] },
  { title: 'a chain into another zone we serve', q: question('other.t.', 'A'), want: ['NOERROR aa', 'an: other.t. 300 CNAME www.u.', 'an: www.u. 600 A 198.51.100.1'] },
  {
    title: 'a chain into a delegation: the CNAME, then the referral, still AA',
    q: question('todel.t.', 'A'),
    want: [
      'NOERROR aa glue-required',
      'an: todel.t. 300 CNAME host.sub.t.',
      'ns: sub.t. 300 NS ns.sub.t. | ns.elsewhere.org.',
      'ad: ns.sub.t. 300 A 192.0.2.53',
      'ad: ns.sub.t. 300 AAAA 2001:db8::53',
    ],
  },
  // Wildcards (RFC 4592): the owner is QNAME; a name that exists, even empty, blocks the wildcard.
  { title: 'a wildcard answers a missing name, owned by QNAME', q: question('Host.wild.t.', 'A'), want: ['NOERROR aa', 'an: Host.wild.t. 300 A 192.0.2.99'] },
  { title: 'a wildcard answers several labels below the closest encloser', q: question('a.b.c.wild.t.', 'TXT'), want: ['NOERROR aa', 'an: a.b.c.wild.t. 300 TXT "wild"'] },
  { title: 'a wildcard without the type: NODATA', q: question('host.wild.t.', 'MX'), want: ['NOERROR aa', SOA_T] },
  { title: 'an existing name is not matched by the wildcard beside it', q: question('x.wild.t.', 'A'), want: ['NOERROR aa', SOA_T] },
  { title: 'below an existing name the closest encloser is that name: no *.x, NXDOMAIN', q: question('y.x.wild.t.', 'A'), want: ['NXDOMAIN aa', SOA_T] },
  { title: 'an empty non-terminal is the closest encloser too: NXDOMAIN below it', q: question('q.z.wild.t.', 'A'), want: ['NXDOMAIN aa', SOA_T] },
  { title: 'the empty non-terminal itself: NODATA, not the wildcard', q: question('z.wild.t.', 'A'), want: ['NOERROR aa', SOA_T] },
  { title: 'the wildcard node asked by its own name', q: question('*.wild.t.', 'A'), want: ['NOERROR aa', 'an: *.wild.t. 300 A 192.0.2.99'] },
  { title: 'below the wildcard node the closest encloser is `*`: NXDOMAIN', q: question('ghost.*.wild.t.', 'A'), want: ['NXDOMAIN aa', SOA_T] },
  { title: 'a wildcard CNAME, owned by QNAME, followed', q: question('any.wc.t.', 'A'), want: ['NOERROR aa', 'an: any.wc.t. 300 CNAME www.t.', 'an: www.t. 300 A 192.0.2.10'] },
  // Delegations (RFC 1034 §4.3.2 step 3b): NS in authority, AA clear, glue in additional.
  {
    title: 'a referral with glue below the cut: glue required',
    q: question('host.sub.t.', 'A'),
    want: ['NOERROR -- glue-required', 'ns: sub.t. 300 NS ns.sub.t. | ns.elsewhere.org.', 'ad: ns.sub.t. 300 A 192.0.2.53', 'ad: ns.sub.t. 300 AAAA 2001:db8::53'],
  },
  {
    title: 'the cut itself, NS: a referral',
    q: question('sub.t.', 'NS'),
    want: ['NOERROR -- glue-required', 'ns: sub.t. 300 NS ns.sub.t. | ns.elsewhere.org.', 'ad: ns.sub.t. 300 A 192.0.2.53', 'ad: ns.sub.t. 300 AAAA 2001:db8::53'],
  },
  { title: 'a referral whose server is in the parent: its address, not required', q: question('www.ext.t.', 'A'), want: ['NOERROR --', 'ns: ext.t. 3600 NS ns1.t.', 'ad: ns1.t. 300 A 192.0.2.1'] },
  {
    title: 'the glue name itself is below the cut: a referral',
    q: question('ns.sub.t.', 'A'),
    want: ['NOERROR -- glue-required', 'ns: sub.t. 300 NS ns.sub.t. | ns.elsewhere.org.', 'ad: ns.sub.t. 300 A 192.0.2.53', 'ad: ns.sub.t. 300 AAAA 2001:db8::53'],
  },
  // DS at a cut is the parent's (RFC 4035 §3.1.4.1).
  { title: 'DS at a cut: answered by the parent', q: question('sub.t.', 'DS'), want: ['NOERROR aa', `an: sub.t. 300 DS ${DS_RDATA.toUpperCase()}`] },
  { title: 'DS at a cut without one: NODATA from the parent', q: question('ext.t.', 'DS'), want: ['NOERROR aa', SOA_T] },
  {
    title: 'DS below a cut: a referral',
    q: question('x.sub.t.', 'DS'),
    want: ['NOERROR -- glue-required', 'ns: sub.t. 300 NS ns.sub.t. | ns.elsewhere.org.', 'ad: ns.sub.t. 300 A 192.0.2.53', 'ad: ns.sub.t. 300 AAAA 2001:db8::53'],
  },
  { title: 'DS at the apex of a child we serve too: the parent answers', q: question('kid.t.', 'DS'), want: ['NOERROR aa', `an: kid.t. 300 DS ${DS_RDATA.toUpperCase()}`] },
  { title: 'other types at that apex: the child answers', q: question('kid.t.', 'SOA'), want: ['NOERROR aa', 'an: kid.t. 300 SOA ns1.t. hostmaster.kid.t. 3 7200 3600 1209600 60'] },
  { title: 'below it: the child, not a referral', q: question('www.kid.t.', 'A'), want: ['NOERROR aa', 'an: www.kid.t. 300 A 203.0.113.1'] },
  // ANY (RFC 8482 §4.1): one RRset over UDP (the smallest), all of them over TCP.
  { title: 'ANY over UDP: the smallest RRset', q: question('www.t.', 'ANY'), want: ['NOERROR aa', 'an: www.t. 300 A 192.0.2.10'] },
  {
    title: 'ANY over TCP: every RRset',
    q: question('www.t.', 'ANY'),
    tcp: true,
    want: ['NOERROR aa', 'an: www.t. 300 A 192.0.2.10', 'an: www.t. 300 AAAA 2001:db8::10', 'an: www.t. 300 TXT "hello"'],
  },
  { title: 'ANY at a CNAME: the CNAME, not followed', q: question('alias.t.', 'ANY'), tcp: true, want: ['NOERROR aa', 'an: alias.t. 300 CNAME www.t.'] },
  { title: 'ANY at a missing name: NXDOMAIN', q: question('nothere.t.', 'ANY'), tcp: true, want: ['NXDOMAIN aa', SOA_T] },
  // Steered names: A/AAAA from the decision, other types from the zone.
  {
    title: "a steered A: the chosen targets' addresses, the name's TTL",
    q: question('lb.t.', 'A'),
    steer: { targets: ['a', 'b'] },
    steered: ['lb.t. A'],
    want: ['NOERROR aa', 'an: lb.t. 20 A 192.0.2.100 | 192.0.2.101'],
  },
  { title: 'a steered AAAA: only targets with one', q: question('lb.t.', 'AAAA'), steer: { targets: ['a', 'b'] }, steered: ['lb.t. AAAA'], want: ['NOERROR aa', 'an: lb.t. 20 AAAA 2001:db8::100'] },
  { title: 'a target down: the downTtl', q: question('lb.t.', 'A'), steer: { targets: ['b'], anyDown: true }, steered: ['lb.t. A'], want: ['NOERROR aa', 'an: lb.t. 5 A 192.0.2.101'] },
  { title: 'a decision of NODATA', q: question('lb.t.', 'A'), steer: 'nodata', steered: ['lb.t. A'], want: ['NOERROR aa', SOA_T] },
  { title: 'chosen targets without the family: NODATA', q: question('lb.t.', 'AAAA'), steer: { targets: ['b'] }, steered: ['lb.t. AAAA'], want: ['NOERROR aa', SOA_T] },
  { title: 'a decision of SERVFAIL', q: question('lb.t.', 'A'), steer: 'servfail', steered: ['lb.t. A'], want: ['SERVFAIL --'] },
  { title: 'other types of a steered name come from the zone, undecided', q: question('lb.t.', 'TXT'), steer: 'servfail', want: ['NOERROR aa', 'an: lb.t. 300 TXT "steered"'] },
  {
    title: 'a CNAME to a steered name: the chain, then the decision',
    q: question('tolb.t.', 'A'),
    steer: { targets: ['a'] },
    steered: ['lb.t. A'],
    want: ['NOERROR aa', 'an: tolb.t. 300 CNAME lb.t.', 'an: lb.t. 20 A 192.0.2.100'],
  },
  {
    title: 'ANY over TCP at a steered name: its records and both decisions',
    q: question('lb.t.', 'ANY'),
    tcp: true,
    steer: { targets: ['a'] },
    steered: ['lb.t. A', 'lb.t. AAAA'],
    want: ['NOERROR aa', 'an: lb.t. 300 TXT "steered"', 'an: lb.t. 20 A 192.0.2.100', 'an: lb.t. 20 AAAA 2001:db8::100'],
  },
  // What is not answered from the zones.
  { title: 'a name in no zone: REFUSED', q: question('www.example.org.', 'A'), want: ['REFUSED --'] },
  { title: 'class HS: REFUSED', q: question('www.t.', 'A', RRClass.HS), want: ['REFUSED --'] },
  { title: 'class ANY is answered as IN', q: question('www.t.', 'A', RRClass.ANY), want: ['NOERROR aa', 'an: www.t. 300 A 192.0.2.10'] },
  // Transfers go to transfer/ before the resolver; what reaches it is what Knot answers without one (src/transfer/README.md).
  { title: 'AXFR (over UDP): NOTIMP, as Knot', q: question('t.', 'AXFR'), want: ['NOTIMP --'] },
  { title: 'IXFR (over UDP): NOTAUTH, as Knot', q: question('t.', 'IXFR'), want: ['NOTAUTH --'] },
  { title: 'MAILB: NOTIMP', q: question('t.', 'MAILB'), want: ['NOTIMP --'] },
  { title: 'OPT as a question: FORMERR', q: { ...question('t.', 'A'), qtype: RRType.OPT }, want: ['FORMERR --'] },
];

describe('resolver: one question from a snapshot', () => {
  for (const row of rows) {
    it(row.title, () => {
      const asked: string[] = [];
      const steer = stubSteer(row.steer ?? 'servfail', asked);
      const got = render(resolve(snapshot, row.q, { minimalAny: row.tcp !== true, steer }));
      assert.deepEqual(got, row.want);
      assert.deepEqual(asked, row.steered ?? []);
    });
  }
});

describe('zone lookup: node, delegation or NXDOMAIN', () => {
  const lookup = (name: string, type = 'A'): string => {
    const found = lookupName(T, parseName(name, null).map(labelKey), typeFromText(type)!);
    if (found.kind === 'nxdomain') return 'nxdomain';
    if (found.kind === 'delegation') return `delegation ${nameToText(found.cut.name)}`;
    return `${found.wildcard ? 'wildcard' : 'node'} ${nameToText(found.node.name)} [${[...found.node.rrsets.keys()].map(typeToText).join(' ')}]`;
  };
  const table: Array<[string, string, string]> = [
    ['t.', 'A', 'node t. [SOA NS]'],
    ['www.t.', 'A', 'node www.t. [A AAAA TXT]'],
    ['b.t.', 'A', 'node b.t. []'],
    ['nothere.t.', 'A', 'nxdomain'],
    ['h.wild.t.', 'A', 'wildcard *.wild.t. [A TXT]'],
    ['a.b.wild.t.', 'A', 'wildcard *.wild.t. [A TXT]'],
    ['x.wild.t.', 'A', 'node x.wild.t. [TXT]'],
    ['y.x.wild.t.', 'A', 'nxdomain'],
    ['q.z.wild.t.', 'A', 'nxdomain'],
    ['ghost.*.wild.t.', 'A', 'nxdomain'],
    ['sub.t.', 'A', 'delegation sub.t.'],
    ['sub.t.', 'DS', 'node sub.t. [NS DS]'],
    ['a.sub.t.', 'DS', 'delegation sub.t.'],
    ['ns.sub.t.', 'A', 'delegation sub.t.'],
    ['deep.below.sub.t.', 'A', 'delegation sub.t.'],
  ];
  for (const [name, type, want] of table) {
    it(`${name} ${type}: ${want}`, () => assert.equal(lookup(name, type), want));
  }
});
