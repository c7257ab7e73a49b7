/** proximity: nearest by great-circle distance, with bias, ties by id, scope from the location record. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haversineKm, proximityFilter } from '../../../src/steer/filters/proximity.js';
import type { GeoPoint, Target } from '../../../src/steer/types.js';
import { client, context, frozen, ids, target } from '../context.js';

const LONDON = { lat: 51.5, lon: -0.13 };
const NEW_YORK = { lat: 40.7, lon: -74 };
const SINGAPORE = { lat: 1.35, lon: 103.8 };
const PARIS = { lat: 48.86, lon: 2.35 };
const DUBAI = { lat: 25.2, lon: 55.27 }; // London 5473 km, Singapore 5835 km: a near call
const SYDNEY = { lat: -33.87, lon: 151.21 };

const lon = target('lon', { location: LONDON });
const nyc = target('nyc', { location: NEW_YORK });
const sgp = target('sgp', { location: SINGAPORE });
const nowhere = target('aaa-nowhere');
const ALL = frozen([nowhere, nyc, sgp, lon]);

function at(location: GeoPoint | null, geoPrefix: number | null = 20) {
  return context({ client: client({ geo: { location, geoPrefix } }) });
}

describe('haversineKm', () => {
  it('London to New York is about 5570 km', () => {
    assert.ok(Math.abs(haversineKm(LONDON, NEW_YORK) - 5570) < 10);
    assert.equal(haversineKm(LONDON, LONDON), 0);
    assert.ok(Math.abs(haversineKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 }) - Math.PI * 6371.0088) < 1e-6);
  });
});

describe('proximity filter', () => {
  const cases: Array<[string, GeoPoint, number | undefined, readonly Target[], string[]]> = [
    ['Paris → London', PARIS, undefined, ALL, ['lon']],
    ['Paris, count 2, nearest first', PARIS, 2, ALL, ['lon', 'nyc']],
    ['Sydney → Singapore', SYDNEY, 1, ALL, ['sgp']],
    ['Dubai → London, just', DUBAI, 1, ALL, ['lon']],
    ['targets without a location go last', PARIS, 4, ALL, ['lon', 'nyc', 'sgp', 'aaa-nowhere']],
    ['Dubai, a positive bias on Singapore flips it', DUBAI, 1, [lon, target('sgp', { location: SINGAPORE, bias: 10 })], ['sgp']],
    ['Dubai, a negative bias on London flips it', DUBAI, 1, [target('lon', { location: LONDON, bias: -10 }), sgp], ['sgp']],
    ['Paris, a bias too small does not', PARIS, 1, [lon, target('nyc', { location: NEW_YORK, bias: 90 })], ['lon']],
    ['equal distances break ties by id', PARIS, 2, [target('z', { location: LONDON }), target('b', { location: LONDON }), nyc], ['b', 'z']],
  ];
  for (const [name, where, count, candidates, expected] of cases) {
    it(name, () => {
      const h = at(where);
      const config = count === undefined ? {} : { count };
      assert.deepEqual(ids(proximityFilter(frozen(candidates), config, h.ctx)), expected);
      assert.equal(h.scope(), 20);
      assert.equal(h.traces.length, 1);
      assert.deepEqual(h.traces[0]!.kept, expected);
    });
  }

  it('no client location: unchanged, scope of the client network, and says why', () => {
    const h = at(null, null);
    assert.deepEqual(proximityFilter(ALL, { count: 1 }, h.ctx), ALL);
    assert.deepEqual(h.scopes, [24]);
    assert.match(h.traces[0]!.why, /location unknown/);
  });

  it('a location without a record prefix claims the client /24', () => {
    const h = at(PARIS, null);
    proximityFilter(ALL, {}, h.ctx);
    assert.equal(h.scope(), 24);
  });

  it('one candidate: nothing depends on the client', () => {
    const h = at(PARIS);
    assert.deepEqual(ids(proximityFilter([nyc], {}, h.ctx)), ['nyc']);
    assert.deepEqual(h.scopes, []);
  });
});
