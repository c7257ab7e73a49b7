/**
 * Pages of a list route (zones, health, latency samples) as records page: `limit` and an
 * opaque `cursor` naming the last key sent, so a page boundary stays put while entries come
 * and go (none is sent twice; one added before the cursor is seen on the next full read).
 */
import { Type } from '@sinclair/typebox';
import { badRequest } from './errors.js';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../control/zone-editor.js';

export const PageQuery = Type.Object(
  {
    // a string: query values are not coerced here; checked in pageLimit, naming the field
    limit: Type.Optional(Type.String({ minLength: 1, maxLength: 12 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  },
  { additionalProperties: false },
);

export function pageLimit(limit: string | undefined): number {
  const n = limit === undefined ? DEFAULT_PAGE_LIMIT : Number(limit);
  if (!/^[0-9]+$/.test(limit ?? '1') || n < 1 || n > MAX_PAGE_LIMIT) throw badRequest('limit', `must be a whole number from 1 to ${MAX_PAGE_LIMIT}`);
  return n;
}

/** One page of `items` in key order after `cursor`, and the cursor of the next (null: none). */
export function pageOf<T>(items: readonly T[], key: (t: T) => string, query: { limit?: string; cursor?: string }): { items: T[]; next: string | null } {
  const limit = pageLimit(query.limit);
  let after: string | null = null;
  if (query.cursor !== undefined) {
    const decoded = Buffer.from(query.cursor, 'base64url').toString('utf8');
    if (!decoded.startsWith('k:')) throw badRequest('cursor', 'is not a cursor this list gave');
    after = decoded.slice(2);
  }
  const sorted = items.map((t) => [key(t), t] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const rest = after === null ? sorted : sorted.filter(([k]) => k > after);
  const page = rest.slice(0, limit);
  const next = rest.length > limit ? Buffer.from(`k:${page[page.length - 1]![0]}`, 'utf8').toString('base64url') : null;
  return { items: page.map(([, t]) => t), next };
}
