/** failover: first group with a live target, nested chains, nothing live → []. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failoverFilter } from '../../../src/steer/filters/failover.js';
import type { FailoverConfig } from '../../../src/steer/types.js';
import { client, context, frozen, ids, target } from '../context.js';

const TARGETS = frozen([target('p1'), target('p2'), target('s1'), target('s2'), target('last')]);
const CONFIG: FailoverConfig = frozen({ groups: [{ targets: ['p1', 'p2'] }, { targets: ['s2', 's1'] }, { targets: ['last'] }] });

describe('failover filter', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['the primary group when it is up', [], ['p1', 'p2']],
    ['only the live members of the group', ['p1'], ['p2']],
    ["the next group when the first is down, in the group's order", ['p1', 'p2'], ['s2', 's1']],
    ['the last resort', ['p1', 'p2', 's1', 's2'], ['last']],
    ['none live gives []', ['p1', 'p2', 's1', 's2', 'last'], []],
  ];
  for (const [name, down, expected] of cases) {
    it(name, () => {
      const h = context({ isUp: (t) => !down.includes(t.id) });
      assert.deepEqual(ids(failoverFilter(TARGETS, CONFIG, h.ctx)), expected);
      assert.equal(h.traces.length, 1);
      assert.deepEqual(h.traces[0]!.kept, expected);
      assert.deepEqual(h.scopes, []);
    });
  }

  it('skips a group none of whose targets are candidates', () => {
    const h = context();
    assert.deepEqual(ids(failoverFilter([target('s1')], CONFIG, h.ctx)), ['s1']);
    assert.match(h.traces[0]!.why, /groups\[0\] has no candidate/);
  });

  it('runs the group chain on its live members, and scopes through it', () => {
    const config: FailoverConfig = {
      groups: [{ targets: ['p1', 'p2'], chain: [{ geo: { rules: [{ countries: ['GB'], targets: ['p2'] }] } }] }, { targets: ['s1'] }],
    };
    const h = context({ client: client({ geo: { country: 'GB', geoPrefix: 20 } }) });
    assert.deepEqual(ids(failoverFilter(TARGETS, config, h.ctx)), ['p2']);
    assert.deepEqual(
      h.traces.map((t) => [t.filter, t.kept]),
      [
        ['failover', ['p1', 'p2']],
        ['geo', ['p2']],
      ],
    );
    assert.equal(h.scope(), 20);
  });

  it('moves on when a group chain leaves nothing', () => {
    const config: FailoverConfig = {
      groups: [{ targets: ['p1', 'p2'], chain: [{ geo: { rules: [{ countries: ['GB'], targets: ['p2'] }], default: { targets: ['nope'] } } }] }, { targets: ['s1'] }],
    };
    const h = context({ client: client({ geo: { country: 'FR', geoPrefix: 20 } }) });
    assert.deepEqual(ids(failoverFilter(TARGETS, config, h.ctx)), ['s1']);
    assert.match(h.traces.at(-1)!.why, /groups\[0\]'s chain left nothing; groups\[1\] has 1 live/);
  });

  it('nested failover inside a group chain', () => {
    const config: FailoverConfig = {
      groups: [{ targets: ['p1', 'p2', 's1'], chain: [{ failover: { groups: [{ targets: ['p2'] }, { targets: ['s1'] }] } }] }],
    };
    const h = context({ isUp: (t) => t.id !== 'p2' });
    assert.deepEqual(ids(failoverFilter(TARGETS, config, h.ctx)), ['s1']);
  });
});
