/** Per-snapshot caches forgetting only the names a write changed (issue #14 item 3), in process. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedSnapshotMap, MAX_CHANGES_KEPT, namesSince, parentKey, type AnswerTags, type NamesChange } from '../../src/snapshot/per-snapshot-cache.js';

class Tagged extends BoundedSnapshotMap<string, AnswerTags> {
  constructor(max: number) {
    super(max, (v) => v);
  }
  set(key: string, tags: AnswerTags): void {
    this.remember(key, tags);
  }
  /** Found, as a lookup would (an outdated entry is not). */
  has(key: string): boolean {
    const v = this.entries.get(key);
    return v !== undefined && this.fresh(key, v);
  }
}

const own = (name: string): AnswerTags => ({ name, own: true, negative: false });
const broad = (name: string): AnswerTags => ({ name, own: false, negative: false });
const negative = (name: string): AnswerTags => ({ name, own: false, negative: true });
const change = (version: number, ...names: string[]): NamesChange => ({ version, names });

describe('namesSince', () => {
  it('unites the changes from one version to another when the list covers every step', () => {
    const list = [change(5, 'a'), change(6, 'b'), change(7, 'c', 'a')];
    assert.deepEqual([...namesSince(6, 7, list)!], ['c', 'a']);
    assert.deepEqual([...namesSince(4, 7, list)!].sort(), ['a', 'b', 'c']);
  });

  it('is null when a step is missing, the list ends elsewhere, or the cache is new', () => {
    const list = [change(5, 'a'), change(6, 'b')];
    assert.equal(namesSince(3, 6, list), null, 'version 4 is not covered');
    assert.equal(namesSince(5, 7, list), null, 'the list ends at 6');
    assert.equal(namesSince(-1, 6, list), null);
    assert.equal(namesSince(5, 6, []), null, 'no list: anything may have changed');
    assert.ok(MAX_CHANGES_KEPT >= 2);
  });
});

describe('BoundedSnapshotMap with tags', () => {
  it('drops the entries of the changed names and every broad entry, and keeps the rest', () => {
    const c = new Tagged(10);
    c.useVersion(1);
    c.set('www|1', own('www'));
    c.set('www|28', own('www'));
    c.set('old|1', own('old'));
    c.set('nx|1', broad('nx'));
    c.useVersion(2, [change(2, 'www')]);
    assert.deepEqual([c.has('www|1'), c.has('www|28'), c.has('old|1'), c.has('nx|1')], [false, false, true, false]);
    // A version it was not told about empties it.
    c.useVersion(4, [change(4, 'zzz')]);
    assert.equal(c.size, 0);
  });

  it('keeps its name index in step with eviction and replacement', () => {
    const c = new Tagged(2);
    c.useVersion(1);
    c.set('a|1', own('a'));
    c.set('b|1', own('b'));
    c.set('c|1', own('c')); // evicts a|1
    c.set('b|1', broad('b')); // replaced: now broad
    c.useVersion(2, [change(2, 'a')]);
    assert.equal(c.has('c|1'), true, 'forgetting the evicted name touches nothing else');
    assert.equal(c.has('b|1'), false, 'the replacement is broad');
    c.set('a|1', own('a'));
    c.useVersion(3, [change(3, 'c')]);
    assert.deepEqual([c.has('a|1'), c.has('c|1')], [true, false]);
  });

  it('keeps a negative entry through changes elsewhere and above it; drops it for its name, a name below it, a wildcard, or a change too large to walk', () => {
    const c = new Tagged(2000);
    c.useVersion(1);
    const fill = (): void => {
      c.set('a.example|1', negative('a.example'));
      c.set('b.example|1', negative('b.example'));
    };
    fill();
    c.useVersion(2, [change(2, 'example', 'c.example', 'x.b.example\\.z')]);
    assert.deepEqual([c.has('a.example|1'), c.has('b.example|1')], [true, true], 'the apex, a sibling, and a name whose label has an escaped dot');
    c.useVersion(3, [change(3, 'a.example')]);
    assert.deepEqual([c.has('a.example|1'), c.has('b.example|1')], [false, true]);
    c.useVersion(4, [change(4, 'y.x.b.example')]);
    assert.equal(c.has('b.example|1'), false, 'a name two labels below');
    fill();
    c.useVersion(5, [change(5, '*.other')]);
    assert.deepEqual([c.has('a.example|1'), c.has('b.example|1')], [false, false], 'any wildcard');
    fill();
    c.useVersion(6, [change(6, ...Array.from({ length: 1001 }, (_, i) => `n${i}.elsewhere`))]);
    assert.deepEqual([c.has('a.example|1'), c.has('b.example|1')], [false, false]);
    c.set('a.example|1', negative('a.example'));
    c.set('a.example|1', own('a.example'));
    c.useVersion(7, [change(7, 'z.a.example')]);
    assert.equal(c.has('a.example|1'), true, 'replaced by a positive answer, it is no longer negative');
  });

  it('walks name keys up a label at a time, escaped dots kept inside their label', () => {
    assert.equal(parentKey('www.example.com'), 'example.com');
    assert.equal(parentKey('a\\.b.example'), 'example');
    assert.equal(parentKey('a\\\\.b'), 'b');
    assert.equal(parentKey('com'), '');
    assert.equal(parentKey(''), null);
  });

  it('without tags, forgets everything', () => {
    const c = new (class extends BoundedSnapshotMap<string, number> {
      put(k: string): void {
        this.remember(k, 1);
      }
    })(5);
    c.useVersion(1);
    c.put('x');
    c.useVersion(2, [change(2, 'y')]);
    assert.equal(c.size, 0);
  });
});
