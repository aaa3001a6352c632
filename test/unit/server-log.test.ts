/** The server log (src/log.ts): one JSON object a line, with its level by name, its time, its message and fields. */
import { describe, expect, it } from 'vitest';
import { levelOf, logOver, serverLogger, type Level } from '../../src/log.js';

function capture(level: Level) {
  const lines: string[] = [];
  const log = logOver(serverLogger({ write: (s: string) => void lines.push(s) }, level));
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('server log', () => {
  it('writes one JSON line per call: level by name, ISO time, pid, message, fields as members', () => {
    const { log, lines, parsed } = capture('info');
    log.info('reconciled', { orphans: 0, units: 3 });
    log.warn('nginx (function URLs) not running: "x"\nsecond line');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.endsWith('\n') && !l.slice(0, -1).includes('\n')).toBe(true);
    const [a, b] = parsed();
    expect(a).toMatchObject({ level: 'info', pid: process.pid, msg: 'reconciled', orphans: 0, units: 3 });
    expect(new Date(a!.time as string).toISOString()).toBe(a!.time);
    expect(b).toMatchObject({ level: 'warn', msg: 'nginx (function URLs) not running: "x"\nsecond line' });
  });

  it('leaves out what is below its level; debug shows everything', () => {
    const info = capture('info');
    info.log.debug('run ip link');
    info.log.error('boom');
    expect(info.parsed().map((l) => l.level)).toEqual(['error']);
    const debug = capture('debug');
    for (const level of ['debug', 'info', 'warn', 'error'] as const) debug.log[level](level);
    expect(debug.parsed().map((l) => l.msg)).toEqual(['debug', 'info', 'warn', 'error']);
    const error = capture('error');
    error.log.warn('w');
    expect(error.lines).toEqual([]);
  });

  it('reads its level from PCLOUD_LOG\'s names, anything else as info', () => {
    expect(levelOf('debug')).toBe('debug');
    expect(levelOf('error')).toBe('error');
    expect(levelOf(undefined)).toBe('info');
    expect(levelOf('trace')).toBe('info');
    expect(levelOf('__proto__')).toBe('info');
  });
});
