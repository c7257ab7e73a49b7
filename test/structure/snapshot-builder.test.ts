/**
 * Issue #18 item 3: snapshots are built in one place, src/control/snapshot-builder.ts. No other
 * module of src/ or tools/ calls createSnapshot; and the builder keeps what a process fixes
 * (CHAOS answers, client locator) and takes what changes, with the caller's version.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SnapshotBuilder } from '../../src/control/snapshot-builder.js';
import { initialHealth } from '../../src/health/state-machine.js';
import type { ClientLocator } from '../../src/snapshot/snapshot.js';
import { projectRoot } from '../support/test-server.js';

const BUILDER = path.join('src', 'control', 'snapshot-builder.ts');

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(projectRoot, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    return e.isDirectory() ? sources(rel) : e.name.endsWith('.ts') ? [rel] : [];
  });
}

const locate: ClientLocator = (address, family, sourcePrefix, fromEcs) => ({ address, family, sourcePrefix, fromEcs }) as never;

describe('snapshots are built in one place', () => {
  it('only the builder calls createSnapshot (src/ and tools/)', () => {
    // A call, not the definition (`function createSnapshot(`) in src/snapshot/snapshot.ts.
    const call = /(?<!function )\bcreateSnapshot\s*\(/;
    const callers = [...sources('src'), ...sources('tools')].filter((f) => f !== BUILDER && call.test(fs.readFileSync(path.join(projectRoot, f), 'utf8')));
    assert.deepEqual(callers, []);
  });

  it("keeps the fixed parts and takes the changing ones with the caller's version", () => {
    const builder = new SnapshotBuilder({ version: 'v', identity: 'id' }, locate);
    const health = new Map([['a@x', { ...initialHealth(0), forced: 'down' as const }]]);
    const s = builder.build(7, { zones: new Map(), health, regionRtt: (r) => (r === 'eu' ? 12 : null) });
    assert.equal(s.version, 7);
    assert.deepEqual(s.chaos, { version: 'v', identity: 'id' });
    assert.equal(s.locate, locate);
    assert.equal(s.health, health);
    assert.equal(s.regionRtt('eu'), 12);
    assert.equal(s.samples, null);
    const bare = builder.build(8, { zones: new Map() });
    assert.equal(bare.health.size, 0);
    assert.equal(bare.regionRtt('eu'), null);
    const store = builder.store(1, { zones: new Map() });
    assert.equal(store.current.version, 1);
    assert.deepEqual(SnapshotBuilder.offline(locate).build(1, { zones: new Map() }).chaos, { version: null, identity: null }, 'offline: no CHAOS answers');
  });
});
