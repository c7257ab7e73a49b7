/**
 * Entry point of a balancer worker process (`meridian balance --workers N`), forked by the
 * primary's Supervisor (cluster.ts). Not a command of its own: its arguments are the config
 * file and the log level, and it takes orders from the primary over IPC.
 */
import process from 'node:process';
import type { LevelWithSilent } from 'pino';
import { createLogger } from '../log/logger.js';
import { workerId } from '../supervisor/supervisor.js';
import { runBalancerWorker } from './cluster.js';
import { loadBalancerConfig } from './config.js';

const [configFile, logLevel] = process.argv.slice(2) as [string, string];
const log = createLogger(logLevel as LevelWithSilent).child({ worker: workerId() });
// Signals sent to the whole process group (Ctrl-C, a reload) are the primary's to act on: it
// stops or reloads the workers over IPC. A worker ends when asked or when the primary is gone.
process.on('SIGTERM', () => undefined);
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
try {
  // The primary read the same file a moment ago; a replacement reads it as it is now.
  await runBalancerWorker(loadBalancerConfig(configFile), configFile, log);
} catch (err) {
  log.error({ err }, 'balancer worker could not start');
  process.exit(1);
}
