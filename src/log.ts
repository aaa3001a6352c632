/**
 * The server log: pino's JSON lines on stderr (under systemd, the journal), one object a line with its time, level,
 * pid, msg and the fields given. PCLOUD_LOG sets the level (error, warn, info, debug; default info): debug shows every
 * host command. Written synchronously: a line logged just before the process exits is not lost, and it keeps its
 * place among what else goes to stderr (the image build's progress).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type Level = 'error' | 'warn' | 'info' | 'debug';
const LEVELS: ReadonlySet<string> = new Set<Level>(['error', 'warn', 'info', 'debug']);

/** The level a PCLOUD_LOG value names; anything else is info. */
export function levelOf(value: string | undefined): Level {
  return value !== undefined && LEVELS.has(value) ? value as Level : 'info';
}

/** A server logger writing to `dest` (the log below writes to stderr; tests hand a stream of their own). */
export function serverLogger(dest: DestinationStream, level: Level): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, dest);
}

type Fields = Record<string, unknown>;
export type Log = Record<Level, (msg: string, fields?: Fields) => void>;

/** The `log.*` calls of pcloud's modules over a logger: a message, and fields that become members of its line. */
export function logOver(logger: Logger): Log {
  const at = (level: Level) => (msg: string, fields?: Fields) => (fields ? logger[level](fields, msg) : logger[level](msg));
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export const log: Log = logOver(serverLogger(pino.destination({ fd: 2, sync: true }), levelOf(process.env.PCLOUD_LOG)));
