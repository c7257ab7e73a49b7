/** first n and all: plain slicing, no scope. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstFilter } from '../../../src/steer/filters/first.js';
import { context, frozen, ids, target } from '../context.js';

const ts = frozen([target('c'), target('a'), target('b')]);

describe('first filter', () => {
  const cases: Array<[number, string[]]> = [
    [1, ['c']],
    [2, ['c', 'a']],
    [5, ['c', 'a', 'b']],
  ];
  for (const [n, expected] of cases) {
    it(`first ${n}`, () => {
      const h = context();
      assert.deepEqual(ids(firstFilter(ts, n, h.ctx)), expected);
      assert.equal(h.traces.length, 1);
      assert.equal(h.traces[0]!.filter, 'first');
      assert.deepEqual(h.scopes, []);
    });
  }
});
