/**
 * Issue #20 item 3, measured beats guessed: latency figures ranked by the specificity of the
 * client network first, then freshness; stale samples never count; every figure's source in
 * the trace; the ECS scope keeps clear of more specific samples and rows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseName } from '../../src/dns/name.js';
import { bestEstimate, decide, type DecisionEnv } from '../../src/steer/decide.js';
import { LatencySamples } from '../../src/steer/latency-samples.js';
import { compilePolicyText } from '../../src/steer/policy-file.js';
import type { ClientInfo, LatencyEstimate } from '../../src/steer/types.js';
import { client } from './context.js';

const est = (matched: string, specificity: number | undefined, measuredAt?: number): LatencyEstimate => ({
  ms: 1,
  scopePrefix: 0,
  matched,
  ...(specificity !== undefined && { specificity }),
  ...(measuredAt !== undefined && { measuredAt }),
});

describe('bestEstimate', () => {
  const cases: Array<[string, LatencyEstimate | null, LatencyEstimate | null, string | null]> = [
    ['a /24 sample beats a continent row', est('continent NA', 1), est('sample /24', 124, 5), 'sample /24'],
    ['a /24 table row beats a /16 sample', est('cidr /24', 124), est('sample /16', 116, 5), 'cidr /24'],
    ['same network: the measured sample beats the static row', est('cidr /24', 124), est('sample /24', 124, 5), 'sample /24'],
    ['a continent row beats a probe RTT (measured from here, not from the client)', est('continent EU', 1), est('probe', undefined), 'continent EU'],
    ['only one', null, est('probe', 0), 'probe'],
    ['none', null, null, null],
  ];
  for (const [name, table, measured, expected] of cases) {
    it(name, () => assert.equal(bestEstimate(table, measured)?.matched ?? null, expected));
  }
});

const POLICY = `targets:
  eu: { region: eu, ipv4: [192.0.2.1] }
  us: { region: us, ipv4: [192.0.2.2] }
latency:
  - continent: NA
    rtt: { eu: 90, us: 15 }
  - cidr: 8.8.4.0/24
    rtt: { eu: 1, us: 50 }
names:
  fast: { policy: [{ latency: {} }] }
  wide: { policy: [{ latency: { toleranceMs: 1000 } }] }
`;
const [fast, wide] = compilePolicyText(POLICY, 'p.yaml', parseName('example.com.', null)).steered as [
  ReturnType<typeof compilePolicyText>['steered'][number],
  ReturnType<typeof compilePolicyText>['steered'][number],
];
const na: ClientInfo = client({ address: '8.8.8.0', sourcePrefix: 24, fromEcs: true, geo: { continent: 'NA', country: 'US', geoPrefix: 15 } });

function envWith(samples: LatencySamples): DecisionEnv {
  return {
    isUp: () => true,
    rand: () => 0.5,
    now: 0,
    latency: (c, region) => samples.lookup(c, region),
    latencyScope: (c, region, scope) => samples.exclusionScope(c, region, scope),
  };
}

describe('decide with pushed samples', () => {
  it('a /24 sample beats the continent row; explain names each source; it ages out at its TTL', () => {
    let now = 1_000_000;
    const samples = new LatencySamples(() => now);
    assert.deepEqual(
      decide(fast, 4, na, envWith(samples)).targets.map((t) => t.id),
      ['us'],
      'continent NA row: us 15 ms',
    );
    samples.add('8.8.8.0/24', 'us', 300, 60);
    const d = decide(fast, 4, na, envWith(samples), true);
    assert.deepEqual([d.targets.map((t) => t.id), d.scope], [['eu'], 24]);
    now += 59_000;
    const why = decide(wide, 4, na, envWith(samples), true).trace!.find((t) => t.filter === 'latency')!.why;
    assert.match(why, /eu 90 ms \(continent NA\), us 300 ms \(sample 8\.8\.8\.0\/24, 59 s old\)/, 'explain names the source of each RTT');
    now += 1_000; // past its TTL: the sample never counts again
    assert.deepEqual(
      decide(fast, 4, na, envWith(samples)).targets.map((t) => t.id),
      ['us'],
    );
  });

  it('a continent answer keeps clear of a nested /24 sample (ECS scope) and of the nested table row', () => {
    const samples = new LatencySamples(() => 0);
    samples.add('8.8.9.0/24', 'us', 300, 60);
    // 8.8.8.0 and 8.8.9.0/24 share 23 bits; 8.8.8.0 and the table's 8.8.4.0/24 share 20.
    const d = decide(fast, 4, na, envWith(samples));
    assert.deepEqual([d.targets.map((t) => t.id), d.scope], [['us'], 24]);
    const none = decide(fast, 4, na, envWith(new LatencySamples(() => 0)));
    assert.equal(none.scope, 21, 'without the sample: clear of the 8.8.4.0/24 row only');
  });
});
