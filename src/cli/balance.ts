import { closeOnSignal } from './shutdown.js';
import type { LevelWithSilent } from 'pino';
import { parseWorkers } from '../config/load-config.js';
import { GslbError } from '../errors.js';
import { Balancer } from '../l7/balancer.js';
import { startBalancerCluster } from '../l7/cluster.js';
import { loadBalancerConfig } from '../l7/config.js';
import { createLogger } from '../log/logger.js';

export interface BalanceFlags {
  config: string;
  workers?: string;
  logLevel?: string;
}

/** `meridian balance`: runs the regional L7 balancer until SIGTERM/SIGINT; SIGHUP reloads the config. */
export async function runBalance(flags: BalanceFlags): Promise<number> {
  let workers: number;
  try {
    workers = flags.workers === undefined ? 1 : parseWorkers(flags.workers, '--workers');
  } catch (err) {
    process.stderr.write(`meridian balance: ${(err as Error).message}\n`);
    return 2;
  }
  let config;
  try {
    config = loadBalancerConfig(flags.config);
  } catch (err) {
    process.stderr.write(`meridian balance: invalid configuration:\n${(err as Error).message}\n`);
    return 2;
  }
  const logLevel = flags.logLevel ?? process.env.MERIDIAN_LOG_LEVEL ?? 'info';
  const log = createLogger(logLevel as LevelWithSilent);
  let running: { reload(): unknown; close(): Promise<void> };
  try {
    if (workers > 1) {
      const c = await startBalancerCluster(config, workers, log, { configFile: flags.config, logLevel });
      running = { reload: () => c.control.reload(), close: () => c.close() };
    } else {
      const b = await Balancer.start(config, { log, configFile: flags.config });
      running = { reload: () => b.reload(), close: () => b.close() };
    }
  } catch (err) {
    const message = err instanceof GslbError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`meridian balance: cannot start:\n${message}\n`);
    return 1;
  }
  process.on('SIGHUP', () => void running.reload());
  await closeOnSignal(log, 'requests', () => running.close());
  return 0;
}
