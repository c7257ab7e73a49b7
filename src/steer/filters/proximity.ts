/**
 * proximity: keeps the `count` targets nearest the client by great-circle distance, nearest
 * first. Each target's bias scales its distance by (1 − bias/100), as Route 53
 * geoproximity's bias grows (positive) or shrinks (negative) a region's catchment.
 * Targets without a location sort last; equal distances sort by id so answers are stable.
 *
 * With no client location there is nothing to measure: the candidates pass unchanged and
 * the answer does not depend on the client (no scope). Otherwise the order came from the
 * location record, so the scope is that record's network; for a country-only record the
 * location is the country's centroid (geoip/), and the scope the country network's prefix.
 */
import { clientNetworkPrefix } from '../cidr.js';
import type { Filter, GeoPoint, ProximityConfig, Target } from '../types.js';

/** Mean Earth radius (IUGG), km. */
const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

/** Great-circle distance in km (haversine formula: well conditioned for short distances too). */
export function haversineKm(a: GeoPoint, b: GeoPoint): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export const proximityFilter: Filter<ProximityConfig> = (candidates, config, ctx) => {
  const count = config.count ?? 1;
  const here = ctx.client.geo.location;
  if (here === null || candidates.length <= 1) {
    let why = 'one candidate: nothing to compare';
    if (here === null) {
      // Located clients get one target, this one gets all: that holds only for its own network.
      const prefix = clientNetworkPrefix(ctx.client.family, ctx.client.sourcePrefix);
      ctx.useScope(prefix);
      why = `client location unknown: all candidates kept (scope /${prefix})`;
    }
    ctx.trace(() => ({ filter: 'proximity', kept: candidates.map((t) => t.id), why }));
    return candidates;
  }
  const ranked = candidates.map((t) => ({ t, km: effectiveKm(here, t) })).sort((a, b) => (a.km === b.km ? compareIds(a.t, b.t) : a.km - b.km));
  const kept = ranked.slice(0, count);
  const geo = ctx.client.geo;
  const scope = geo.geoPrefix ?? clientNetworkPrefix(ctx.client.family, ctx.client.sourcePrefix);
  ctx.useScope(scope);
  // A country centroid is a guess for the whole country: say so wherever the decision is shown.
  const approx = geo.locationApprox === 'country-centroid' ? ` (approximate: country centroid of ${geo.country})` : '';
  const km = kept.map(({ t, km }) => (Number.isFinite(km) ? `${t.id} ${Math.round(km)} km` : `${t.id} (no location)`));
  ctx.trace(() => ({
    filter: 'proximity',
    kept: kept.map(({ t }) => t.id),
    why: `nearest ${count} to ${here.lat.toFixed(2)},${here.lon.toFixed(2)}${approx}: ${km.join(', ')} (scope /${scope})`,
  }));
  return kept.map(({ t }) => t);
};

/** Biased distance; Infinity for a target without a location (sorts last). */
function effectiveKm(here: GeoPoint, t: Target): number {
  if (t.location === null) return Infinity;
  const bias = Math.max(-99, Math.min(99, t.bias));
  return haversineKm(here, t.location) * (1 - bias / 100);
}

function compareIds(a: Target, b: Target): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
