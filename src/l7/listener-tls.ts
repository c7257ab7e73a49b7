/**
 * The client-facing TLS listener's certificate and key (`tls`), read at start and again on
 * every reload (SIGHUP, POST /reload): the new pair goes in with server.setSecureContext, so
 * open connections keep theirs and new handshakes get the new one. Errors name the file,
 * never its content.
 */
import fs from 'node:fs';
import type tls from 'node:tls';
import { createSecureContext } from 'node:tls';
import { ErrorCode, GslbError } from '../errors.js';

export interface ListenerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads and checks the pair (the key must match the certificate); throws GslbError CONFIG_INVALID naming the field and file. */
export function loadListenerTls(config: { readonly cert: string; readonly key: string }): ListenerTls {
  const read = (field: 'cert' | 'key'): Buffer => {
    try {
      return fs.readFileSync(config[field]);
    } catch (err) {
      throw invalid(`tls.${field}: cannot read ${config[field]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const pair = { cert: read('cert'), key: read('key') };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw invalid(`tls: ${config.cert} and ${config.key} do not load as a certificate and its key: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return pair;
}

/** Installs `pair` for new handshakes on `server` (an https.Server). */
export function useListenerTls(server: tls.Server, pair: ListenerTls): void {
  server.setSecureContext(pair);
}

function invalid(message: string): GslbError {
  return new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, message, [message]);
}
