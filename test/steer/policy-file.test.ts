/** Policy files: schema and reference errors name file, line and field; good files compile. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseName } from '../../src/dns/name.js';
import { compilePolicyText } from '../../src/steer/policy-file.js';

const origin = parseName('example.com.', null);
const compile = (text: string) => compilePolicyText(text, 'example.com.policy.yaml', origin);

const TARGETS = `targets:
  a:
    region: r1
    ipv4: [192.0.2.1]
  b:
    region: r2
    ipv4: [192.0.2.2]
    ipv6: ["2001:db8::2"]
`;

describe('policy files', () => {
  it('compiles names with defaults', () => {
    const r = compile(TARGETS + 'names:\n  www:\n    policy:\n      - health: {}\n');
    assert.deepEqual(r.problems, []);
    const www = r.steered[0]!;
    assert.equal(www.key, 'www.example.com');
    assert.equal(www.ttl, 30);
    assert.deepEqual(
      www.targets.map((t) => t.id),
      ['a', 'b'],
    );
    assert.deepEqual(www.whenAllDown, { action: 'fail-open' });
    assert.equal(www.rdata.get('b')!.aaaa[0]!.length, 16);
  });

  const cases: Array<[string, string, number, RegExp]> = [
    ['an unknown filter', 'names:\n  www:\n    policy:\n      - nearest: {}\n', 12, /policy\.0\.nearest: unknown field/],
    ['two filters in one step', 'names:\n  www:\n    policy:\n      - health: {}\n        all: {}\n', 12, /must NOT have more than 1/],
    ['an unknown target', 'names:\n  www:\n    targets: [a, zz]\n    policy:\n      - health: {}\n', 11, /unknown target "zz"/],
    [
      'an unknown target deep in a chain',
      'names:\n  www:\n    policy:\n      - geo:\n          rules:\n            - continents: [EU]\n              targets: [a]\n              chain:\n                - failover:\n                    groups:\n                      - targets: [nope]\n',
      19,
      /unknown target "nope"/,
    ],
    ['a bad CIDR', 'names:\n  www:\n    policy:\n      - geo:\n          rules:\n            - cidrs: [300.1.2.0/24]\n              targets: [a]\n', 14, /cidrs/],
    ['a bad continent', 'names:\n  www:\n    policy:\n      - geo:\n          rules:\n            - continents: [XX]\n              targets: [a]\n', 14, /continents\.0/],
    ['a negative TTL', 'names:\n  www:\n    ttl: -1\n    policy:\n      - health: {}\n', 11, /names\.www\.ttl/],
    ['a name outside the zone', 'names:\n  www.example.org.:\n    policy:\n      - health: {}\n', 10, /outside the zone/],
    [
      'a fallthrough that is not a boolean',
      'names:\n  www:\n    policy:\n      - geo:\n          rules:\n            - continents: [EU]\n              targets: [a]\n              fallthrough: "no"\n',
      16,
      /rules\.0\.fallthrough/,
    ],
    ['a bad whenAllDown', 'names:\n  www:\n    policy:\n      - health: {}\n    whenAllDown: maybe\n', 13, /whenAllDown/],
  ];
  for (const [title, names, line, pattern] of cases) {
    it(`reports ${title} with its line`, () => {
      const r = compile(TARGETS + names);
      assert.equal(r.steered.length, 0);
      assert.ok(r.problems.length > 0);
      const p = r.problems.find((x) => pattern.test(x.message));
      assert.ok(p, `no problem matching ${pattern}: ${JSON.stringify(r.problems)}`);
      assert.equal(p.file, 'example.com.policy.yaml');
      assert.equal(p.line, line, JSON.stringify(p));
    });
  }

  it('reports a bad address in a target', () => {
    const r = compile('targets:\n  a:\n    region: r1\n    ipv4: [192.0.2.300]\nnames:\n  www:\n    policy:\n      - all: {}\n');
    assert.match(r.problems[0]!.message, /targets\.a\.ipv4\.0: "192.0.2.300" is not an IPv4 address/);
    assert.equal(r.problems[0]!.line, 4);
  });

  it('reports an IPv6 address with a zone index, which no answer can carry', () => {
    // node:net's isIPv6 takes "fe80::1%eth0"; compiling it used to throw (the zone then failed with "internal error")
    const r = compile('targets:\n  a:\n    region: r1\n    ipv6: ["2001:db8::1", "fe80::1%eth0"]\nnames:\n  www:\n    policy:\n      - all: {}\n');
    assert.equal(r.steered.length, 0);
    assert.match(r.problems[0]!.message, /targets\.a\.ipv6\.1: "fe80::1%eth0" is not an IPv6 address an answer can carry/);
    assert.equal(r.problems[0]!.line, 4);
  });

  it('reports YAML syntax errors with their line', () => {
    const r = compile('targets:\n  a: [unclosed\n');
    assert.ok(r.problems[0]!.line >= 2);
  });
});
