import { pino, type Logger, type LevelWithSilent } from 'pino';

/** JSON lines, or pino-pretty when stdout is a terminal. One logger, passed down; no singleton. */
export function createLogger(level: LevelWithSilent, pretty = process.stdout.isTTY): Logger {
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level });
}
