/** API errors: an HTTP status, a stable code and the field at fault, as the JSON body says. */
export class AdminError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | null;
  readonly details: readonly string[];
  constructor(status: number, code: string, message: string, field: string | null = null, details: readonly string[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.details = details;
  }
}

export const badRequest = (field: string, message: string, details: readonly string[] = []): AdminError =>
  new AdminError(400, 'GSLB_ERR_API_INVALID', `${field}: ${message}`, field, details);
export const notFound = (what: string): AdminError => new AdminError(404, 'GSLB_ERR_API_NOT_FOUND', `${what} not found`);
export const conflict = (message: string): AdminError => new AdminError(409, 'GSLB_ERR_API_CONFLICT', message);
/** 500: the zone's journal has a corrupt entry; writes wait until an operator moves it away. */
export const journalCorrupt = (message: string, file: string): AdminError => new AdminError(500, 'GSLB_ERR_API_JOURNAL_CORRUPT', message, null, [file]);
/** 503: the server is stopping (its journals are being compacted). */
export const stopping = (): AdminError => new AdminError(503, 'GSLB_ERR_API_STOPPING', 'the server is stopping');
export const stale = (expected: string, actual: string): AdminError =>
  new AdminError(412, 'GSLB_ERR_API_STALE', `If-Match ${expected} does not match the current version ${actual}; read it again and retry`);

/** Codes of the CSRF and DNS-rebinding guard (browser-guard.ts), the same on the admin API and the balancer's admin listener. */
export const GuardCode = {
  /** 403: the Host header is not this listener. */
  HOST: 'GSLB_ERR_API_HOST_NOT_ALLOWED',
  /** 403: the Origin header is another site. */
  ORIGIN: 'GSLB_ERR_API_CROSS_ORIGIN',
  /** 415: a write without a token whose body is not application/json. */
  CONTENT_TYPE: 'GSLB_ERR_API_CONTENT_TYPE',
} as const;
