/** health/quorum.ts: the cluster's verdict from this node's view and the others' recent reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quorumVerdicts, type NodeReport } from '../../src/health/quorum.js';
import type { HealthStatus } from '../../src/health/state-machine.js';

const own = (entries: Record<string, HealthStatus>): Map<string, HealthStatus> => new Map(Object.entries(entries));
const report = (node: string, at: number, targets: Record<string, HealthStatus>): NodeReport => ({ node, at, targets });

test('a majority of the nodes that reported decides; this node counts', () => {
  const v = quorumVerdicts(own({ t: 'down' }), [report('b', 1000, { t: 'up' }), report('c', 1000, { t: 'up' })], 1000, 4000, null);
  assert.deepEqual(v.get('t'), { status: 'up', down: 1, reporting: 3, needed: 2 });
  const w = quorumVerdicts(own({ t: 'up' }), [report('b', 1000, { t: 'down' }), report('c', 1000, { t: 'down' })], 1000, 4000, null);
  assert.deepEqual(w.get('t'), { status: 'down', down: 2, reporting: 3, needed: 2 });
});

test('a report older than the age limit, or silent on the target, does not count; unknown is not down', () => {
  const v = quorumVerdicts(own({ t: 'down' }), [report('b', 0, { t: 'up' }), report('c', 5000, { other: 'up' }), report('d', 5000, { t: 'unknown' })], 5000, 4000, null);
  // b is stale, c does not report t: this node and d report it, 1 of 2 down, 2 needed.
  assert.deepEqual(v.get('t'), { status: 'up', down: 1, reporting: 2, needed: 2 });
  // Alone, a node decides by itself.
  assert.equal(quorumVerdicts(own({ t: 'down' }), [], 0, 4000, null).get('t')!.status, 'down');
});

test('a fixed quorum: down only when that many see it down, however many report', () => {
  const reports = [report('b', 0, { t: 'down' }), report('c', 0, { t: 'up' })];
  assert.equal(quorumVerdicts(own({ t: 'down' }), reports, 0, 1000, 2).get('t')!.status, 'down');
  assert.equal(quorumVerdicts(own({ t: 'down' }), reports, 0, 1000, 3).get('t')!.status, 'up');
  // A target named like an Object.prototype member is just a key.
  assert.equal(quorumVerdicts(new Map<string, HealthStatus>([['constructor', 'up']]), [report('b', 0, {})], 0, 1000, null).get('constructor')!.reporting, 1);
});
