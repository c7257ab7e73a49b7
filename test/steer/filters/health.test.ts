/** health: keeps what is up, may return nothing, never sets a scope. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthFilter } from '../../../src/steer/filters/health.js';
import { context, frozen, ids, target } from '../context.js';

describe('health filter', () => {
  const a = target('a');
  const b = target('b', { enabled: false });
  const c = target('c');
  const cases: Array<[string, ReturnType<typeof target>[], string[], RegExp]> = [
    ['keeps the live ones in order', [a, b, c], ['a', 'c'], /down: b/],
    ['all up', [a, c], ['a', 'c'], /all 2 up/],
    ['all down gives []', [b], [], /down: b/],
    ['no candidates', [], [], /all 0 up/],
  ];
  for (const [name, candidates, expected, why] of cases) {
    it(name, () => {
      const h = context();
      const out = healthFilter(frozen(candidates), {}, h.ctx);
      assert.deepEqual(ids(out), expected);
      assert.equal(h.traces.length, 1);
      assert.deepEqual(h.traces[0]!.kept, expected);
      assert.match(h.traces[0]!.why, why);
      assert.deepEqual(h.scopes, []);
    });
  }

  it('asks ctx.isUp, not the enabled flag', () => {
    const h = context({ isUp: (t) => t.id === 'b' });
    assert.deepEqual(ids(healthFilter([a, b, c], {}, h.ctx)), ['b']);
  });
});
