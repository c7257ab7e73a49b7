import { GslbError } from '../errors.js';
import { Balancer } from '../l7/balancer.js';
import { loadBalancerConfig } from '../l7/config.js';
import { createLogger } from '../log/logger.js';
import type { LevelWithSilent } from 'pino';

export interface BalanceFlags {
  config: string;
  logLevel?: string;
}

/** `meridian balance`: runs the regional L7 balancer until SIGTERM/SIGINT; SIGHUP reloads the config. */
export async function runBalance(flags: BalanceFlags): Promise<number> {
  let config;
  try {
    config = loadBalancerConfig(flags.config);
  } catch (err) {
    process.stderr.write(`meridian balance: invalid configuration:\n${(err as Error).message}\n`);
    return 2;
  }
  const log = createLogger((flags.logLevel ?? process.env.MERIDIAN_LOG_LEVEL ?? 'info') as LevelWithSilent);
  let balancer: Balancer;
  try {
    balancer = await Balancer.start(config, { log, configFile: flags.config });
  } catch (err) {
    const message = err instanceof GslbError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`meridian balance: cannot start:\n${message}\n`);
    return 1;
  }
  process.on('SIGHUP', () => balancer.reload());
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down: finishing requests in flight');
      balancer.close().then(resolve, resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
