import { ERRORS, type ErrorCodeValue } from '../errors.js';

export { ControlError, controlError, badRequest, notFound, conflict, journalCorrupt, stopping, stale } from '../control/errors.js';

/** RFC 9457's media type; every error of the admin API (and the balancer's admin listener's access check) is one. */
export const PROBLEM_JSON = 'application/problem+json';

/**
 * An error body: RFC 9457's members (`type` a URN per code, `title` the code's summary from
 * the table) plus the stable `code` and the `field` at fault; `error` and `message` repeat
 * `code` and `detail` for clients of the earlier `{"error","message","field","details"}` shape.
 */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance: string;
  readonly code: ErrorCodeValue;
  readonly field: string | null;
  readonly details: readonly string[];
  readonly error: ErrorCodeValue;
  readonly message: string;
}

export function problem(code: ErrorCodeValue, status: number, detail: string, instance: string, field: string | null = null, details: readonly string[] = []): Problem {
  return { type: `urn:meridian:error:${code}`, title: ERRORS[code].summary, status, detail, instance, code, field, details, error: code, message: detail };
}
