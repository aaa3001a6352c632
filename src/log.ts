/** Minimal leveled logger on stderr. PCLOUD_LOG=debug shows every host command. */
const levels = { error: 0, warn: 1, info: 2, debug: 3 } as const;
export type Level = keyof typeof levels;

function current(): number {
  const env = (process.env.PCLOUD_LOG ?? 'info') as Level;
  return levels[env] ?? levels.info;
}

function emit(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (levels[level] > current()) return;
  const extra = fields ? ' ' + JSON.stringify(fields) : '';
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${msg}${extra}\n`);
}

export const log = {
  error: (m: string, f?: Record<string, unknown>) => emit('error', m, f),
  warn: (m: string, f?: Record<string, unknown>) => emit('warn', m, f),
  info: (m: string, f?: Record<string, unknown>) => emit('info', m, f),
  debug: (m: string, f?: Record<string, unknown>) => emit('debug', m, f),
};
