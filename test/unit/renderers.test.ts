/**
 * Renderers escape or refuse: hostile values (newline, `;`, `{`, `}`, `$`, `%`, quotes, NUL, 100 KB) rendered into each
 * format and read back by the real parser.
 *
 * systemd: `systemd --test --system` (as an unprivileged user: it refuses root) loads our unit file with systemd's own
 * parser and dumps what it understood: each Environment= assignment must come back as exactly one variable with the
 * exact bytes, and ExecStart's argv exactly (after systemd's `$$` -> `$` at exec time).
 */
import { describe, expect, it } from 'vitest';
import { environmentWord, execLine, execWord, renderUnitFile, systemd, unitValue, UnitValueError } from '../../src/host/units/render.js';
import { escapedAs, fill, type Template } from '../../src/host/template.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { between, decodeCommandLine, systemdDump } from '../support/systemd-dump.js';
import { FAST_TIER } from '../support/tier.js';

const spec = { name: 'x', description: 'pcloud test', exec: ['/bin/true'], type: 'simple' as const, startTimeoutSec: 5, stopTimeoutSec: 5 };

describe('systemd unit files', () => {
  const env = Object.fromEntries(Object.entries(HOSTILE).map(([k, v]) => [`V_${k}`, v]));
  const argv = ['/bin/true', ...Object.values(HOSTILE)];
  const desc = 'pcloud %n %% ; { } $X "q" \'s\' \\ é';

  it('keep every hostile value inside its setting: no value makes a line of its own, the file is exactly its settings', () => {
    const text = renderUnitFile({ ...spec, exec: argv, env });
    expect(text.split('\n').filter(Boolean).map((l) => l.replace(/=.*/s, ''))).toEqual([
      '[Unit]', 'Description', '[Service]', 'ExecStart', 'Type', 'TimeoutStartSec', 'TimeoutStopSec', 'KillSignal', ...Object.keys(env).map(() => 'Environment'),
    ]);
  });

  it.skipIf(FAST_TIER)('carry every hostile value as one Environment assignment with its exact bytes, and argv exactly (systemd\'s parser)', () => {
    const dump = systemdDump('pcloud-hostile.service', renderUnitFile({ ...spec, exec: argv, env }));
    expect(between(dump, '\t\tProcSubset: all\n', '\t\tRuntimeDirectoryPreserve:')).toBe(
      Object.entries(env).map(([k, v]) => `\t\tEnvironment: ${k}=${v}\n`).join(''));
    expect(decodeCommandLine(between(dump, '\t\t\tCommand Line: ', '\n\t\t')).map((w) => w.replaceAll('$$', '$'))).toEqual(argv);
    expect(dump).not.toContain('\t\t-> ExecStartPre:');
    expect(dump).not.toMatch(/\n\t\tUser: /);
  });

  it('refuses a newline in the description', () => {
    expect(() => renderUnitFile({ ...spec, description: HOSTILE.newline! })).toThrow(UnitValueError);
  });

  it.skipIf(FAST_TIER)('carries a hostile description exactly (`%` is not a specifier; systemd\'s parser)', () => {
    expect(between(systemdDump('pcloud-desc.service', renderUnitFile({ ...spec, description: desc })), '\t\tDescription: ', '\n')).toBe(desc);
  });

  it('refuses what a unit file cannot carry: a NUL, invalid UTF-8, a bad name, a command prefix, a 2 MB line', () => {
    expect(() => environmentWord('A', NUL)).toThrow(UnitValueError);
    expect(() => execWord(NUL)).toThrow(UnitValueError);
    expect(() => environmentWord('A', '\ud800')).toThrow(/UTF-8/);
    expect(() => environmentWord('A=B', 'x')).toThrow(/name/);
    expect(() => environmentWord('A\nUser', 'x')).toThrow(/name/);
    expect(() => execLine(['+/bin/sh'])).toThrow(UnitValueError);
    expect(() => execLine([])).toThrow(UnitValueError);
    expect(() => renderUnitFile({ ...spec, env: { A: 'x'.repeat(2 * 2 ** 20) } })).toThrow(/too long/);
    expect(() => unitValue('a\\')).toThrow(UnitValueError);
    expect(() => unitValue(' a')).toThrow(UnitValueError);
  });

  it('quotes only what needs it', () => {
    expect(execWord('/usr/bin/node')).toBe('/usr/bin/node');
    expect(execWord('--idle=60')).toBe('--idle=60');
    expect(execWord('')).toBe('""');
    expect(execWord('a b')).toBe('"a b"');
    expect(execWord('50%')).toBe('"50%%"');
    expect(execWord('$x')).toBe('"$$x"');
    expect(environmentWord('A', '$x')).toBe('"A=$x"');
    expect(environmentWord('A', 'x\ny')).toBe('"A=x\\ny"');
  });
});

describe('templates take escaped values only', () => {
  const t: Template<'systemd'> = { path: 'systemd/t.service', format: 'systemd', text: '[Service]\nExecStart={{exec}}\n{{env}}\nMemoryMax={{mem}}\n' };

  it('fills from escapers and numbers', () => {
    expect(fill(t, { exec: systemd.exec(['/bin/echo', 'a b']), env: systemd.environment({ A: 'x\ny' }), mem: 5 }))
      .toBe('[Service]\nExecStart=/bin/echo "a b"\nEnvironment="A=x\\ny"\nMemoryMax=5\n');
  });

  it('settings: plain values one per line, a newline or a made-up key refused', () => {
    expect(systemd.settings([['DynamicUser', 'yes'], ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6'], ['SystemCallFilter', '@system-service'], ['InaccessiblePaths', '-/var/lib/pcloud 100%']]).text)
      .toBe('DynamicUser=yes\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\nSystemCallFilter=@system-service\nInaccessiblePaths=-/var/lib/pcloud 100%%');
    expect(() => systemd.settings([['InaccessiblePaths', '/x\nUser=root']])).toThrow(UnitValueError);
    expect(() => systemd.settings([['User=root\nX', 'y']])).toThrow(UnitValueError);
    expect(() => systemd.value('a\0b')).toThrow(/NUL/);
  });

  it('refuses a raw string, another format\'s value, a missing or non-finite value', () => {
    const good = { exec: systemd.exec(['/bin/true']), env: systemd.environment({}), mem: 1 };
    // @ts-expect-error a raw string does not type-check
    expect(() => fill(t, { ...good, exec: '/bin/true\nUser=root' })).toThrow(/not escaped for systemd/);
    // @ts-expect-error nor does another format's value
    expect(() => fill(t, { ...good, exec: escapedAs('nginx', 'x') })).toThrow(/not escaped for systemd/);
    expect(() => fill(t, { ...good, mem: Infinity })).toThrow(/finite/);
    const { mem: _, ...missing } = good;
    expect(() => fill(t, missing)).toThrow(/mem has no value/);
    expect(() => fill({ ...t, text: '{{constructor}}' }, good)).toThrow(/no value/);
  });
});
