/** The latency table: most specific row with the region wins; scope and provenance. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileLatencyTable, type LatencyRow } from '../../src/steer/latency-table.js';
import { client } from './context.js';

const ROWS: LatencyRow[] = [
  { continent: 'EU', rtt: { 'eu-west': 30, 'us-east': 90, 'ap-south': 200 } },
  { country: 'GB', rtt: { 'eu-west': 12, 'us-east': 75 } },
  { asn: 2856, rtt: { 'eu-west': 8 } },
  { cidr: '81.2.0.0/16', rtt: { 'eu-west': 5, 'us-east': 70 } },
  { cidr: '81.2.69.0/24', rtt: { 'us-east': 65 } },
  { cidr: '81.2.0.0/24', rtt: { 'us-east': 60 } },
  { cidr: '2001:db8::/32', rtt: { 'eu-west': 20 } },
  { cidr: '::ffff:10.0.0.0/104', rtt: { 'eu-west': 1 } },
];

const table = compileLatencyTable(ROWS);
const gb = { continent: 'EU', country: 'GB', asn: 2856, geoPrefix: 18, asnPrefix: 15 };

describe('latency table', () => {
  const cases: Array<[string, Parameters<typeof client>[0], string, { ms: number; scopePrefix: number; matched: string } | null]> = [
    ['longest CIDR with the region', { address: '81.2.69.142', geo: gb }, 'us-east', { ms: 65, scopePrefix: 24, matched: 'cidr 81.2.69.0/24' }],
    ['shorter CIDR when the longer lacks the region', { address: '81.2.69.142', geo: gb }, 'eu-west', { ms: 5, scopePrefix: 16, matched: 'cidr 81.2.0.0/16' }],
    ['CIDR before ASN', { address: '81.2.1.1', geo: gb }, 'eu-west', { ms: 5, scopePrefix: 16, matched: 'cidr 81.2.0.0/16' }],
    // The ASN's /15 holds 81.2.0.0/16, whose own eu-west figure differs: the scope must exclude it.
    ['ASN before country, scope narrowed around a nested CIDR row', { address: '81.3.1.1', geo: gb }, 'eu-west', { ms: 8, scopePrefix: 16, matched: 'asn 2856' }],
    ['country when the ASN row lacks the region', { address: '81.3.1.1', geo: gb }, 'us-east', { ms: 75, scopePrefix: 18, matched: 'country GB' }],
    ['continent last', { address: '81.3.1.1', geo: gb }, 'ap-south', { ms: 200, scopePrefix: 18, matched: 'continent EU' }],
    ['unknown region', { address: '81.3.1.1', geo: gb }, 'sa-east', null],
    ['no geo at all', { address: '198.51.100.1' }, 'eu-west', null],
    ['IPv6 CIDR', { address: '2001:db8::1' }, 'eu-west', { ms: 20, scopePrefix: 32, matched: 'cidr 2001:db8::/32' }],
    ['mapped CIDR row matches an IPv4 client', { address: '10.1.2.3' }, 'eu-west', { ms: 1, scopePrefix: 8, matched: 'cidr 10.0.0.0/8' }],
    ['ECS /16 does not match a /24 row', { address: '81.2.0.0', sourcePrefix: 16, geo: gb }, 'us-east', { ms: 70, scopePrefix: 16, matched: 'cidr 81.2.0.0/16' }],
    ['lower-case country from the database', { address: '192.0.2.1', geo: { country: 'gb', geoPrefix: 20 } }, 'eu-west', { ms: 12, scopePrefix: 20, matched: 'country GB' }],
    ['country without a geo prefix claims the client /24', { address: '192.0.2.1', geo: { country: 'GB' } }, 'eu-west', { ms: 12, scopePrefix: 24, matched: 'country GB' }],
  ];
  for (const [name, c, region, expected] of cases) {
    it(name, () => {
      const got = table.lookup(client(c), region);
      assert.deepEqual(got && { ms: got.ms, scopePrefix: got.scopePrefix, matched: got.matched }, expected);
    });
  }

  it('first row wins among equals, and a region named like an Object property is not found', () => {
    const t = compileLatencyTable([
      { country: 'FR', rtt: { a: 10 } },
      { country: 'FR', rtt: { a: 20, b: 5 } },
    ]);
    const c = client({ geo: { country: 'FR', geoPrefix: 16 } });
    assert.equal(t.lookup(c, 'a')?.ms, 10);
    assert.equal(t.lookup(c, 'b')?.ms, 5);
    assert.equal(t.lookup(c, 'constructor'), null);
    assert.equal(t.size, 2);
  });

  it('rejects malformed rows', () => {
    assert.throws(() => compileLatencyTable([{ rtt: { a: 1 } }]), /exactly one of/);
    assert.throws(() => compileLatencyTable([{ country: 'GB', asn: 1, rtt: { a: 1 } }]), /exactly one of/);
    assert.throws(() => compileLatencyTable([{ cidr: '81.2.3.0/16', rtt: { a: 1 } }]), /host bits/);
    assert.throws(() => compileLatencyTable([{ country: 'GB', rtt: { a: -1 } }]), /milliseconds/);
  });

  it('an empty table knows nothing', () => {
    assert.equal(compileLatencyTable([]).lookup(client({ geo: gb }), 'eu-west'), null);
  });
});
