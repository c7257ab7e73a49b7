import { ERRORS, ErrorCode, httpStatus, type ErrorCodeValue } from '../errors.js';

/** API errors: an HTTP status, a stable code (../errors.ts) and the field at fault, as the JSON body says. */
export class AdminError extends Error {
  readonly status: number;
  readonly code: ErrorCodeValue;
  readonly field: string | null;
  readonly details: readonly string[];
  constructor(status: number, code: ErrorCodeValue, message: string, field: string | null = null, details: readonly string[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.details = details;
  }
}

/** An AdminError with the status the table gives its code. */
export const apiError = (code: ErrorCodeValue, message: string, field: string | null = null, details: readonly string[] = []): AdminError =>
  new AdminError(httpStatus(code), code, message, field, details);

export const badRequest = (field: string, message: string, details: readonly string[] = []): AdminError =>
  apiError(ErrorCode.GSLB_ERR_API_INVALID, `${field}: ${message}`, field, details);
export const notFound = (what: string): AdminError => apiError(ErrorCode.GSLB_ERR_API_NOT_FOUND, `${what} not found`);
export const conflict = (message: string): AdminError => apiError(ErrorCode.GSLB_ERR_API_CONFLICT, message);
/** 500: the zone's journal has a corrupt entry; writes wait until an operator moves it away. */
export const journalCorrupt = (message: string, file: string): AdminError => apiError(ErrorCode.GSLB_ERR_API_JOURNAL_CORRUPT, message, null, [file]);
/** 503: the server is stopping (its journals are being compacted). */
export const stopping = (): AdminError => apiError(ErrorCode.GSLB_ERR_API_STOPPING, 'the server is stopping');
export const stale = (expected: string, actual: string): AdminError =>
  apiError(ErrorCode.GSLB_ERR_API_STALE, `If-Match ${expected} does not match the current version ${actual}; read it again and retry`);

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
