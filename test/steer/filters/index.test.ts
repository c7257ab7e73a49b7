/** The registry and a whole chain through the real runChain. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChain } from '../../../src/steer/chain.js';
import { FILTERS } from '../../../src/steer/filters/index.js';
import type { FilterStep } from '../../../src/steer/types.js';
import { client, context, ids, target } from '../context.js';

describe('filter registry', () => {
  it('names every filter, and nothing inherited', () => {
    assert.deepEqual(Object.keys(FILTERS).sort(), ['all', 'failover', 'first', 'geo', 'health', 'latency', 'proximity', 'weighted']);
    assert.equal(FILTERS['toString'], undefined);
    assert.throws(() => runChain([{ constructor: {} } as unknown as FilterStep], [], context().ctx), /unknown filter "constructor"/);
  });

  it('runs an NS1-style chain: health → geo → proximity → first', () => {
    const ts = [
      target('lon', { location: { lat: 51.5, lon: -0.13 } }),
      target('fra', { location: { lat: 50.1, lon: 8.68 }, enabled: false }),
      target('ams', { location: { lat: 52.37, lon: 4.9 } }),
      target('nyc', { location: { lat: 40.7, lon: -74 } }),
    ];
    const chain: FilterStep[] = [
      { health: {} },
      { geo: { rules: [{ continents: ['EU'], targets: ['lon', 'fra', 'ams'] }], default: { targets: ['nyc'] } } },
      { proximity: { count: 2 } },
      { first: 1 },
    ];
    // From Paris: London 342 km, Amsterdam 430 km; Frankfurt is drained, New York is outside the EU rule.
    const h = context({ client: client({ geo: { continent: 'EU', location: { lat: 48.86, lon: 2.35 }, geoPrefix: 20 } }) });
    assert.deepEqual(ids(runChain(chain, ts, h.ctx)), ['lon']);
    assert.deepEqual(
      h.traces.map((t) => t.filter),
      ['health', 'geo', 'proximity', 'first'],
    );
    assert.equal(h.scope(), 20);
  });
});
