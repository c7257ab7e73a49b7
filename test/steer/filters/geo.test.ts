/** geo: precedence CIDR > ASN > subdivision > country > continent > default, and the ECS scope each implies. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { geoFilter } from '../../../src/steer/filters/geo.js';
import type { GeoConfig } from '../../../src/steer/types.js';
import { client, context, frozen, ids, target } from '../context.js';

const CANDIDATES = frozen(['eu', 'gb', 'sct', 'bt', 'c16', 'c24', 'def'].map((id) => target(id)));

// Deliberately listed least specific first: precedence must not depend on rule order.
const CONFIG: GeoConfig = frozen({
  rules: [
    { continents: ['EU'], targets: ['eu'] },
    { countries: ['GB'], targets: ['gb'] },
    { subdivisions: ['GB-SCT'], targets: ['sct'] },
    { asns: [2856], targets: ['bt'] },
    { cidrs: ['81.2.0.0/16'], targets: ['c16'] },
    { cidrs: ['81.2.69.0/24'], targets: ['c24'] },
  ],
  default: { targets: ['def'] },
});

const scotland = { continent: 'EU', country: 'GB', subdivisions: ['GB-SCT'], asn: 2856, geoPrefix: 22, asnPrefix: 19 };

describe('geo filter', () => {
  const cases: Array<[string, Parameters<typeof client>[0], string[], number, RegExp]> = [
    ['longest CIDR wins over everything', { address: '81.2.69.142', geo: scotland }, ['c24'], 24, /cidr 81\.2\.69\.0\/24 matched rules\[5\]/],
    // 81.2.1.1 and 81.2.69.0/24 share 17 bits: the answer holds for the /18 that keeps clear of that block.
    ['shorter CIDR; a longer block nearby narrows the scope', { address: '81.2.1.1', geo: scotland }, ['c16'], 18, /cidr 81\.2\.0\.0\/16/],
    ['ASN beats subdivision', { address: '192.0.2.1', geo: scotland }, ['bt'], 19, /asn 2856/],
    ['subdivision beats country', { address: '192.0.2.1', geo: { ...scotland, asn: 1 } }, ['sct'], 22, /subdivision GB-SCT/],
    ['subdivisions compare case-insensitively', { address: '192.0.2.1', geo: { ...scotland, asn: 1, subdivisions: ['gb-sct'] } }, ['sct'], 22, /subdivision GB-SCT/],
    ['country beats continent', { address: '192.0.2.1', geo: { ...scotland, asn: 1, subdivisions: ['GB-ENG'] } }, ['gb'], 22, /country GB/],
    ['continent', { address: '192.0.2.1', geo: { continent: 'EU', country: 'FR', asn: 1, geoPrefix: 14, asnPrefix: 12 } }, ['eu'], 14, /continent EU/],
    ['default when nothing matches; scope from the records', { address: '192.0.2.1', geo: { continent: 'NA', country: 'US', asn: 7018, geoPrefix: 12, asnPrefix: 10 } }, ['def'], 12, /default/],
    ['default for a client with no geo record: its /24', { address: '192.0.2.1' }, ['def'], 24, /default/],
    ['default for an IPv6 client with no record: its /56', { address: '2001:db8::1' }, ['def'], 56, /default/],
    ['ECS /24 client inside the /24 block', { address: '81.2.69.0', sourcePrefix: 24, geo: scotland }, ['c24'], 24, /cidr 81\.2\.69\.0\/24/],
    // The /24 block holds only part of an ECS /16, so it must not match.
    ['ECS /16 client does not match the longer block', { address: '81.2.0.0', sourcePrefix: 16, geo: scotland }, ['c16'], 18, /cidr 81\.2\.0\.0\/16/],
    ['mapped IPv4 client matches IPv4 blocks', { address: '::ffff:81.2.69.1', family: 4, geo: scotland }, ['c24'], 24, /cidr/],
  ];
  for (const [name, c, expected, scope, why] of cases) {
    it(name, () => {
      const h = context({ client: client(c) });
      const out = geoFilter(CANDIDATES, CONFIG, h.ctx);
      assert.deepEqual(ids(out), expected);
      assert.equal(h.scope(), scope);
      assert.equal(h.traces.length, 1);
      assert.deepEqual(h.traces[0]!.kept, expected);
      assert.match(h.traces[0]!.why, why);
    });
  }

  it('a CIDR-only policy: scope is how far the client stays clear of the blocks', () => {
    const config: GeoConfig = { rules: [{ cidrs: ['81.2.0.0/16'], targets: ['c16'] }], default: { targets: ['def'] } };
    const h = context({ client: client({ address: '8.8.8.8' }) });
    assert.deepEqual(ids(geoFilter(CANDIDATES, config, h.ctx)), ['def']);
    // 8.x and 81.x share only the first bit: the default holds for 0.0.0.0/2.
    assert.equal(h.scope(), 2);
  });

  it('the earlier rule wins a tie', () => {
    const config: GeoConfig = {
      rules: [
        { countries: ['GB'], targets: ['gb'] },
        { countries: ['GB'], targets: ['eu'] },
      ],
    };
    const h = context({ client: client({ geo: { country: 'GB', geoPrefix: 20 } }) });
    assert.deepEqual(ids(geoFilter(CANDIDATES, config, h.ctx)), ['gb']);
  });

  it('a rule matches on any of its criteria', () => {
    const config: GeoConfig = { rules: [{ countries: ['FR'], asns: [2856], targets: ['bt'] }] };
    const h = context({ client: client({ geo: { country: 'GB', asn: 2856, geoPrefix: 20, asnPrefix: 16 } }) });
    assert.deepEqual(ids(geoFilter(CANDIDATES, config, h.ctx)), ['bt']);
    // Matched by ASN, which outranks country: the answer holds across the ASN's network.
    assert.equal(h.scope(), 16);
  });

  it('no match and no default keeps every candidate, still scoped', () => {
    const config: GeoConfig = { rules: [{ countries: ['FR'], targets: ['eu'] }] };
    const h = context({ client: client({ geo: { country: 'GB', geoPrefix: 20 } }) });
    assert.deepEqual(ids(geoFilter(CANDIDATES, config, h.ctx)), ids(CANDIDATES));
    assert.equal(h.scope(), 20);
    assert.match(h.traces[0]!.why, /no rule matched and no default/);
  });

  it('no rules that could apply: the default is the same for everyone, no scope', () => {
    const config: GeoConfig = { rules: [], default: { targets: ['def'] } };
    const h = context({ client: client({ geo: { country: 'GB', geoPrefix: 20 } }) });
    assert.deepEqual(ids(geoFilter(CANDIDATES, config, h.ctx)), ['def']);
    assert.deepEqual(h.scopes, []);
  });

  it("keeps the rule's order and intersects with the candidates", () => {
    const config: GeoConfig = { rules: [{ countries: ['GB'], targets: ['def', 'gb', 'absent'] }] };
    const h = context({ client: client({ geo: { country: 'GB', geoPrefix: 20 } }) });
    assert.deepEqual(ids(geoFilter(CANDIDATES, config, h.ctx)), ['def', 'gb']);
  });

  it('a selected rule whose targets are not candidates falls through to the next matching rule', () => {
    const h = context({ client: client({ geo: { country: 'GB', continent: 'EU', geoPrefix: 20 } }) });
    const out = geoFilter([target('eu')], CONFIG, h.ctx);
    assert.deepEqual(ids(out), ['eu']);
    assert.match(h.traces[0]!.why, /country GB matched rules\[\d\]: no live target, falls through; continent EU matched/);
  });

  it('runs the rule chain through ctx.runChain', () => {
    const config: GeoConfig = frozen({
      rules: [{ countries: ['GB'], targets: ['gb', 'sct', 'eu'], chain: [{ health: {} }, { first: 1 }] }],
      default: { targets: ['def'], chain: [{ all: {} }] },
    });
    const down = new Set(['gb']);
    const h = context({ client: client({ geo: { country: 'GB', geoPrefix: 20 } }), isUp: (t) => !down.has(t.id) });
    assert.deepEqual(ids(geoFilter(CANDIDATES, config, h.ctx)), ['sct']);
    assert.deepEqual(
      h.traces.map((t) => [t.filter, t.kept]),
      [
        ['geo', ['gb', 'sct', 'eu']],
        ['health', ['sct', 'eu']],
        ['first', ['sct']],
      ],
    );
  });

  // Issue #20: fall-through (cidr → country → continent → default → whenAllDown) and geofences.
  const FT: GeoConfig = frozen({
    rules: [
      { continents: ['EU'], targets: ['eu'] },
      { countries: ['GB'], targets: ['gb'] },
      { cidrs: ['81.2.69.0/24'], targets: ['c24'] },
      { countries: ['CH'], targets: ['ch'], fallthrough: false },
    ],
    default: { targets: ['def'] },
  });
  const FT_TARGETS = frozen(['eu', 'gb', 'c24', 'ch', 'def'].map((id) => target(id)));
  const gbClient = client({ address: '81.2.69.142', geo: { continent: 'EU', country: 'GB', geoPrefix: 20 } });
  const chClient = client({ address: '192.0.2.1', geo: { continent: 'EU', country: 'CH', geoPrefix: 16 } });
  const fallCases: Array<[string, ReturnType<typeof client>, string[], string[], number, string[] | null, RegExp]> = [
    ['the most specific live rule', gbClient, [], ['c24'], 24, null, /cidr 81\.2\.69\.0\/24 matched rules\[2\] \(scope \/24\)/],
    ["cidr rule down: country, with the country record's scope (not the /24)", gbClient, ['c24'], ['gb'], 20, null, /rules\[2\]: no live target, falls through; country GB matched rules\[1\]/],
    ['cidr and country down: continent', gbClient, ['c24', 'gb'], ['eu'], 20, null, /falls through; country GB matched rules\[1\]: no live target, falls through; continent EU matched rules\[0\]/],
    ['every matching rule down: default', gbClient, ['c24', 'gb', 'eu'], ['def'], 20, null, /continent EU matched rules\[0\]: no live target, falls through; default/],
    ['everything down: nothing (whenAllDown), scoped by the rule the client matched', gbClient, ['c24', 'gb', 'eu', 'def'], [], 24, null, /default has no live target: whenAllDown decides/],
    ['a geofence with a live target answers it', chClient, [], ['ch'], 16, null, /country CH matched rules\[3\] \(a geofence\)/],
    ['a geofence never falls through, though its continent has live targets', chClient, ['ch'], [], 16, ['ch'], /geofence \(fallthrough: false\) with no live target/],
  ];
  for (const [name, who, down, expected, scope, fenced, why] of fallCases) {
    it(`fall-through: ${name}`, () => {
      const h = context({ client: who, isUp: (t) => !down.includes(t.id) });
      assert.deepEqual(ids(geoFilter(FT_TARGETS, FT, h.ctx)), expected);
      assert.equal(h.scope(), scope);
      assert.deepEqual(h.fenced === null ? null : [...h.fenced], fenced);
      assert.match(h.traces.map((t) => t.why).join(' | '), why);
    });
  }
});
