/**
 * Renderers escape or refuse: hostile values (newline, `;`, `{`, `}`, `$`, `%`, quotes, NUL, 100 KB) rendered into each
 * format and read back by the real parser.
 *
 * systemd: `systemd --test --system` (as an unprivileged user: it refuses root) loads our unit file with systemd's own
 * parser and dumps what it understood: each Environment= assignment must come back as exactly one variable with the
 * exact bytes, and ExecStart's argv exactly (after systemd's `$$` -> `$` at exec time).
 */
import { describe, expect, it } from 'vitest';
import { environmentWord, execLine, execWord, renderUnitFile, settingKey, unitValue, UnitValueError } from '../../src/host/units/render.js';
import { fill, type Escaped, type Template } from '../../src/host/template.js';
import { nginxToken } from '../../src/host/nginx-syntax.js';
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
  const t: Template<'nginx'> = { path: 'nginx/t.conf', format: 'nginx', text: 'location /{{name}} {\n  limit_conn c {{n}};\n}\n' };

  it('fills from the escaper and numbers', () => {
    expect(fill(t, { name: nginxToken('fn-1'), n: 5 })).toBe('location /fn-1 {\n  limit_conn c 5;\n}\n');
  });

  it('a unit setting name is a word: a newline or an assignment in it is refused', () => {
    expect(settingKey('DynamicUser')).toBe('DynamicUser');
    expect(() => settingKey('User=root\nX')).toThrow(UnitValueError);
    expect(() => unitValue('a\0b')).toThrow(/NUL/);
  });

  it('refuses a raw string, another format\'s value, a missing or non-finite value', () => {
    const good = { name: nginxToken('fn'), n: 1 };
    // @ts-expect-error a raw string does not type-check
    expect(() => fill(t, { ...good, name: 'x; } location / { return 200' })).toThrow(/not escaped for nginx/);
    // A value that claims another format (no escaper here makes one) is refused at run time as well.
    expect(() => fill(t, { ...good, name: { format: 'systemd', text: 'x' } as unknown as Escaped<'nginx'> })).toThrow(/not escaped for nginx/);
    expect(() => fill(t, { ...good, n: Infinity })).toThrow(/finite/);
    const { n: _, ...missing } = good;
    expect(() => fill(t, missing)).toThrow(/n has no value/);
    expect(() => fill({ ...t, text: '{{constructor}}' }, good)).toThrow(/no value/);
  });
});
