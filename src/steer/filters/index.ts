/**
 * The filter registry: the name a policy step uses → the filter. Adding a filter is one file
 * in this folder, its test, and one line here (the policy schema names the same keys).
 */
import type { Filter } from '../types.js';
import { allFilter } from './all.js';
import { failoverFilter } from './failover.js';
import { firstFilter } from './first.js';
import { geoFilter } from './geo.js';
import { healthFilter } from './health.js';
import { latencyFilter } from './latency.js';
import { proximityFilter } from './proximity.js';
import { weightedFilter } from './weighted.js';

// `any`: each entry takes its own config type; the policy schema checked it matches the name.
// No prototype, so a step named "toString" or "constructor" is unknown rather than a function.
export const FILTERS: Record<string, Filter<any>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, Filter<any>>, {
    health: healthFilter,
    geo: geoFilter,
    proximity: proximityFilter,
    latency: latencyFilter,
    weighted: weightedFilter,
    failover: failoverFilter,
    first: firstFilter,
    all: allFilter,
  }),
);
