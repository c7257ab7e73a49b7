/** decide(): the chain, the address family, the ECS scope cap and every whenAllDown action. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseName } from '../../src/dns/name.js';
import { decide } from '../../src/steer/decide.js';
import { compilePolicyText } from '../../src/steer/policy-file.js';
import type { SteeredName } from '../../src/steer/types.js';
import { client } from './context.js';

const POLICY = `targets:
  eu: { region: eu, ipv4: [192.0.2.1], ipv6: ["2001:db8::1"] }
  us: { region: us, ipv4: [192.0.2.2] }
  ap: { region: ap, ipv4: [192.0.2.3] }
names:
  open:     { policy: [{ health: {} }] }
  nodata:   { policy: [{ health: {} }], whenAllDown: nodata }
  servfail: { policy: [{ health: {} }], whenAllDown: servfail }
  fallback: { targets: [eu, us], policy: [{ health: {} }], whenAllDown: { fallback: [ap] } }
  geo:
    policy:
      - geo:
          rules: [{ countries: [GB], targets: [eu] }]
          default: { targets: [us] }
  fenced:
    policy:
      - health: {}
      - geo:
          rules:
            - { countries: [CH], targets: [eu], fallthrough: false }
            - { continents: [EU], targets: [us] }
  fencedFallback:
    policy:
      - health: {}
      - geo: { rules: [{ countries: [CH], targets: [eu], fallthrough: false }] }
    whenAllDown: { fallback: [ap] }
`;

const names = new Map<string, SteeredName>();
for (const s of compilePolicyText(POLICY, 'p.yaml', parseName('example.com.', null)).steered) names.set(s.owner[0]!, s);
const env = (down: string[] = []) => ({ isUp: (t: { id: string }) => !down.includes(t.id), rand: () => 0.5, now: 0 });
const ids = (d: { targets: readonly { id: string }[] }) => d.targets.map((t) => t.id);

describe('decide', () => {
  it('keeps only targets of the asked family; none gives NODATA', () => {
    const d6 = decide(names.get('open')!, 6, client(), env());
    assert.deepEqual(ids(d6), ['eu']);
    // eu is down and the fallback ap has no IPv6: NODATA rather than an empty answer.
    const none = decide(names.get('fallback')!, 6, client(), env(['eu']));
    assert.deepEqual([none.outcome, ids(none)], ['nodata', []]);
  });

  const allDown: Array<[string, string, string[]]> = [
    ['open', 'answer', ['eu', 'us', 'ap']],
    ['nodata', 'nodata', []],
    ['servfail', 'servfail', []],
    ['fallback', 'answer', ['ap']],
  ];
  for (const [name, outcome, expected] of allDown) {
    it(`whenAllDown of "${name}": ${outcome} ${expected.join(',')}`, () => {
      const d = decide(names.get(name)!, 4, client(), env(['eu', 'us', 'ap']), true);
      assert.equal(d.outcome, outcome);
      assert.deepEqual(ids(d), expected);
      assert.equal(d.allDown, true);
      assert.equal(d.trace!.at(-1)!.filter, 'whenAllDown');
    });
  }

  it('scope is the prefix the decision used, capped at the source prefix', () => {
    const wide = decide(names.get('geo')!, 4, client({ sourcePrefix: 24, fromEcs: true, geo: { country: 'GB', geoPrefix: 20 } }), env());
    assert.deepEqual([ids(wide), wide.scope], [['eu'], 20]);
    const capped = decide(names.get('geo')!, 4, client({ sourcePrefix: 16, fromEcs: true, geo: { country: 'GB', geoPrefix: 20 } }), env());
    assert.equal(capped.scope, 16);
    assert.equal(decide(names.get('open')!, 4, client({ sourcePrefix: 24 }), env()).scope, 0);
  });

  // Issue #20 item 1: a drain is never answered; a probe-down target still is by fail-open.
  const drainCases: Array<[string, string[], string[], string, string[]]> = [
    // name, drained, down, outcome, answered
    ['open', ['eu'], ['us', 'ap'], 'answer', ['us', 'ap']],
    ['open', ['eu', 'us', 'ap'], [], 'nodata', []],
    ['fallback', ['ap'], ['eu', 'us'], 'nodata', []],
    ['fallback', ['eu'], ['us'], 'answer', ['ap']],
    ['geo', ['eu'], [], 'answer', ['us']], // GB's rule names only eu, drained: the default answers
  ];
  for (const [name, drained, down, outcome, answered] of drainCases) {
    it(`"${name}" with ${drained.join('+')} drained, ${down.join('+') || 'none'} down: ${outcome} [${answered.join(',')}]`, () => {
      const e = { ...env([...drained, ...down]), isDrained: (t: { id: string }) => drained.includes(t.id) };
      const d = decide(names.get(name)!, 4, client({ geo: { country: 'GB' } }), e, true);
      assert.equal(d.outcome, outcome);
      assert.deepEqual(ids(d), answered);
      for (const id of drained) assert.ok(!ids(d).includes(id), `${id} drained but answered`);
      // ap is only in the fallback pool, not among the name's targets
      if (!(name === 'fallback' && drained[0] === 'ap')) assert.match(d.trace![0]!.why, new RegExp(`drained, never answered: ${drained.join(', ')}`));
      else assert.match(d.trace!.at(-1)!.why, /no undrained target/);
    });
  }

  it('forced up stays answered; down but undrained is still answered by fail-open', () => {
    const d = decide(names.get('open')!, 4, client(), { ...env(['us', 'ap']), isDrained: () => false });
    assert.deepEqual(ids(d), ['eu']);
    assert.deepEqual(ids(decide(names.get('open')!, 4, client(), { ...env(['eu', 'us', 'ap']), isDrained: (t) => t.id === 'us' })), ['eu', 'ap']);
  });

  it('a geofence keeps whenAllDown inside it: fail-open answers only the fence, a fallback outside it is NODATA', () => {
    const ch = client({ geo: { country: 'CH', continent: 'EU', geoPrefix: 16 } });
    const open = decide(names.get('fenced')!, 4, ch, env(['eu']), true);
    assert.deepEqual([open.outcome, ids(open), open.allDown], ['answer', ['eu'], true], 'fail-open inside the fence, never us');
    assert.match(open.trace!.at(-1)!.why, /inside the geofence/);
    const drained = decide(names.get('fenced')!, 4, ch, { ...env(['eu']), isDrained: (t) => t.id === 'eu' });
    assert.deepEqual([drained.outcome, ids(drained)], ['nodata', []], 'the fence is drained: nothing, not us');
    const fb = decide(names.get('fencedFallback')!, 4, ch, env(['eu']));
    assert.deepEqual([fb.outcome, ids(fb)], ['nodata', []], 'the fallback pool is outside the fence');
    const de = decide(names.get('fenced')!, 4, client({ geo: { country: 'DE', continent: 'EU', geoPrefix: 16 } }), env(['eu']));
    assert.deepEqual(ids(de), ['us'], 'clients outside the fence are not affected');
  });

  it('builds a trace only when asked', () => {
    assert.equal(decide(names.get('geo')!, 4, client(), env()).trace, null);
    assert.ok(decide(names.get('geo')!, 4, client(), env(), true).trace!.length >= 2);
  });
});
