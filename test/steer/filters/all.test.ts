/** all: keeps everything, no scope. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allFilter } from '../../../src/steer/filters/all.js';
import { context, frozen, ids, target } from '../context.js';

describe('all filter', () => {
  it('keeps every candidate in order', () => {
    const h = context();
    const ts = frozen([target('b'), target('a')]);
    assert.deepEqual(ids(allFilter(ts, {}, h.ctx)), ['b', 'a']);
    assert.deepEqual(h.traces, [{ filter: 'all', kept: ['b', 'a'], why: 'all 2 candidates' }]);
    assert.deepEqual(h.scopes, []);
  });

  it('keeps nothing when given nothing', () => {
    const h = context();
    assert.deepEqual(allFilter([], {}, h.ctx), []);
  });
});
