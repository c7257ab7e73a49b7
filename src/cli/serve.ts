import { closeOnSignal } from './shutdown.js';
import { loadConfig } from '../config/load-config.js';
import { GslbError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { startServer } from '../main.js';
import { missingNodeFlags } from './node-flags.js';

export interface ServeFlags {
  config?: string;
  zones?: string;
  listen?: string[];
  admin?: string;
  logLevel?: string;
  workers?: number;
  cluster?: string;
}

/** Runs until SIGTERM/SIGINT; returns the exit code for start-up failures. */
export async function runServe(flags: ServeFlags): Promise<number> {
  let config;
  try {
    const admin = flags.admin === undefined ? undefined : flags.admin === 'off' ? null : flags.admin;
    config = loadConfig(flags.config ?? null, { listen: flags.listen, zonesDir: flags.zones, logLevel: flags.logLevel, admin, workers: flags.workers, cluster: flags.cluster });
  } catch (err) {
    process.stderr.write(`meridian: invalid configuration:\n${(err as Error).message}\n`);
    return 2;
  }
  const log = createLogger(config.log.level);
  const missing = missingNodeFlags();
  if (missing.length > 0) log.info({ missing }, 'node was started without these flags: expect longer GC pauses under load (README, "Benchmarks")');
  let server;
  try {
    server = await startServer(config, log, { handleSignals: true });
  } catch (err) {
    const message = err instanceof GslbError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`meridian: cannot start:\n${message}\n`);
    log.flush?.();
    return 1;
  }
  await closeOnSignal(log, 'queries', () => server.close());
  return 0;
}
