/**
 * Every error the server raises on purpose, with a stable code (as fastify's lib/errors.js).
 * Expected outcomes (NXDOMAIN, no healthy target) are values, never throws.
 */
export const ErrorCode = {
  CONFIG_INVALID: 'GSLB_ERR_CONFIG_INVALID',
  ZONE_INVALID: 'GSLB_ERR_ZONE_INVALID',
  ZONE_NOT_FOUND: 'GSLB_ERR_ZONE_NOT_FOUND',
  LISTEN_ADDRESS_INVALID: 'GSLB_ERR_LISTEN_ADDRESS_INVALID',
  LISTEN_FAILED: 'GSLB_ERR_LISTEN_FAILED',
  GEOIP_INVALID: 'GSLB_ERR_GEOIP_INVALID',
  POLICY_INVALID: 'GSLB_ERR_POLICY_INVALID',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export class GslbError extends Error {
  readonly code: ErrorCodeValue;
  readonly details: readonly string[];
  constructor(code: ErrorCodeValue, message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'GslbError';
    this.code = code;
    this.details = details;
  }
}
