import type { Logger } from 'pino';

/** Resolves once SIGTERM or SIGINT has arrived and `close` (stop accepting, finish what is in flight) has settled. */
export function closeOnSignal(log: Logger, inFlight: string, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, `shutting down: finishing ${inFlight} in flight`);
      close().then(resolve, resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
