/**
 * Entry point of a DNS worker process, forked by WorkerPool's Supervisor through node:cluster. Not a
 * command of its own: it only takes orders from the primary over IPC.
 */
import process from 'node:process';
import { createLogger } from '../log/logger.js';
import type { FromWorker, ToWorker } from './messages.js';
import { runWorker } from './worker.js';
import { workerId } from '../supervisor/supervisor.js';

const send = (m: FromWorker): void => {
  if (process.connected) process.send!(m);
};
const worker = runWorker(send, (config) => createLogger(config.log.level).child({ worker: workerId() }));
const exit = (): void => {
  void worker.stop().then(() => process.exit(0));
};
process.on('message', (m: ToWorker) => {
  worker.handle(m);
  if (m.kind === 'stop') exit();
});
send({ kind: 'started' });
// The primary going away (crash, SIGKILL) must not leave an orphan answering queries.
process.on('disconnect', exit);
// Signals sent to the whole process group (Ctrl-C) are the primary's to act on: it stops the
// workers in order. SIGHUP (reload) would otherwise terminate a worker.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('SIGHUP', () => {});
