import { ErrorCode, type ErrorCodeValue } from '../errors.js';

/**
 * A change (or a read) the control plane refuses or cannot make, as a domain result: a stable
 * code from the one table (../errors.ts), the field at fault and details. No HTTP status: the
 * admin API answers it with the status the table gives its code (src/admin/server.ts).
 */
export class ControlError extends Error {
  readonly code: ErrorCodeValue;
  readonly field: string | null;
  readonly details: readonly string[];
  constructor(code: ErrorCodeValue, message: string, field: string | null = null, details: readonly string[] = []) {
    super(message);
    this.code = code;
    this.field = field;
    this.details = details;
  }
}

export const controlError = (code: ErrorCodeValue, message: string, field: string | null = null, details: readonly string[] = []): ControlError => new ControlError(code, message, field, details);

export const badRequest = (field: string, message: string, details: readonly string[] = []): ControlError => controlError(ErrorCode.GSLB_ERR_API_INVALID, `${field}: ${message}`, field, details);
export const notFound = (what: string): ControlError => controlError(ErrorCode.GSLB_ERR_API_NOT_FOUND, `${what} not found`);
export const conflict = (message: string): ControlError => controlError(ErrorCode.GSLB_ERR_API_CONFLICT, message);
/** The zone's journal has a corrupt entry; writes wait until an operator moves it away. */
export const journalCorrupt = (message: string, file: string): ControlError => controlError(ErrorCode.GSLB_ERR_API_JOURNAL_CORRUPT, message, null, [file]);
/** The server is stopping (its journals are being compacted). */
export const stopping = (): ControlError => controlError(ErrorCode.GSLB_ERR_API_STOPPING, 'the server is stopping');
export const stale = (expected: string, actual: string): ControlError =>
  controlError(ErrorCode.GSLB_ERR_API_STALE, `If-Match ${expected} does not match the current version ${actual}; read it again and retry`);
