/**
 * The terminal tables of `pcloud ps` and `pcloud top` (src/cli/table.ts, ps.ts, top.ts), fed hostile values: escape
 * sequences, newlines, C1 controls, bidirectional overrides, lone surrogates, very long and wide text. Whatever a cell
 * holds, the table is its header and one line per row, nothing a terminal would act on, columns aligned by what they
 * show.
 */
import { describe, expect, it } from 'vitest';
import { displayWidth, fit, formatAge, formatBytes, renderTable, safeText } from '../../src/cli/table.js';
import { functionsTable, instancesTable, statusText, unitsText } from '../../src/cli/ps.js';
import { intervalOf, topFrame, topRows } from '../../src/cli/top.js';
import type { FunctionOverview, InstanceOverview } from '../../src/cloud/overview.js';
import { instanceHealth } from '../../src/cloud/instances/health.js';
import { HOSTILE, NUL } from '../support/hostile.js';

/** Terminal-hostile text beyond the shared set. */
const TERMINAL: Record<string, string> = {
  ansiColour: '\x1b[31mred\x1b[0m',
  clearScreen: '\x1b[2J\x1b[H',
  osc: '\x1b]0;owned title\x07',
  oscLink: '\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\',
  c1Csi: '\u009b31mred',
  bidi: 'abc\u202edcba\u202c',
  isolate: '\u2066x\u2069',
  zeroWidth: 'a\u200bb\ufeffc',
  lineSeparator: 'a\u2028b\u2029c',
  backspace: 'secret\b\b\b\b\b\bpublic',
  carriageReturn: 'fake\rreal',
  loneSurrogate: 'a\ud800b\udc00c',
  privateUse: '\ue000\u{f0000}',
  wide: '漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字',
  emoji: '😀'.repeat(40),
  combining: 'e\u0301'.repeat(50),
  zwj: '👩‍👩‍👧‍👦'.repeat(20),
  veryLong: 'n'.repeat(10_000),
  nul: NUL,
};
const ALL = { ...HOSTILE, ...TERMINAL };

/** Anything a terminal acts on, or that breaks a line, in rendered output (but the lines' own newlines). */
const ACTS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}]/u;

function assertSafe(table: string, rows: number, maxLineWidth: number): string[] {
  const lines = table.split('\n');
  expect(lines).toHaveLength(rows + 1);
  for (const line of lines) {
    expect(line).not.toMatch(ACTS);
    expect(displayWidth(line)).toBeLessThanOrEqual(maxLineWidth);
  }
  return lines;
}

describe('a table cell', () => {
  it('shows every hostile value on one line, with nothing a terminal acts on', () => {
    for (const [what, v] of Object.entries(ALL)) {
      const safe = safeText(v);
      expect(safe, what).not.toMatch(ACTS);
      expect(safe.split('\n'), what).toHaveLength(1);
      // Made visible, not dropped: a hidden escape or override is a `?`.
      if (ACTS.test(v)) expect(safe, what).toContain('?');
    }
    expect(safeText('\x1b[31mred')).toBe('?[31mred');
    expect(safeText('a\u202eb')).toBe('a?b');
  });

  it('is cut to its column by what it shows: wide characters take two columns and are never split', () => {
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('abcd', 4)).toBe('abcd');
    expect(fit('漢字漢字', 5)).toBe('漢字…');
    expect(displayWidth(fit('漢字漢字', 6))).toBeLessThanOrEqual(6);
    expect(fit('😀😀😀', 4)).toBe('😀…');
    expect(displayWidth('e\u0301e\u0301')).toBe(2);
    expect(fit('e\u0301'.repeat(10), 4)).toBe(`${'e\u0301'.repeat(3)}…`);
    for (const [what, v] of Object.entries(ALL)) {
      const cut = fit(v, 20);
      expect(displayWidth(cut), what).toBeLessThanOrEqual(20);
      expect(cut, what).not.toMatch(/[\ud800-\udfff](?![\udc00-\udfff])/u);
    }
  });
});

describe('a table', () => {
  it('is its header and a line per row, columns aligned by what they show, whatever the cells hold', () => {
    const values = Object.values(ALL);
    const table = renderTable([{ header: 'ID' }, { header: 'NAME', max: 32 }, { header: 'N', align: 'right' }],
      values.map((v, i) => [`i-${i}`, v, i]));
    const lines = assertSafe(table, values.length, 4 + 2 + 32 + 2 + 2);
    // Every line's last column ends at the same column (right-aligned numbers), however wide the names before it.
    expect(new Set(lines.map((l) => displayWidth(l))).size).toBe(1);
    expect(lines[0]).toMatch(/^ID +NAME +N$/);
  });

  it('has no trailing spaces and widens a column to its widest cell', () => {
    expect(renderTable([{ header: 'A' }, { header: 'B' }], [['long value', 'x'], ['y', '']])).toBe('A           B\nlong value  x\ny');
  });
});

const inst = (over: Partial<InstanceOverview> = {}): InstanceOverview => ({
  id: 'i-0123456789abcdef0', accountId: '000000000000', name: '', instanceType: 't3.micro', runtime: 'container', state: 'running',
  privateIp: '172.31.0.10', publicIp: null, host: 'host1', launchTime: Date.now() - 90_000, ...over,
});

describe('pcloud ps', () => {
  it('renders hostile Name tags and host names safely, one line each', () => {
    const rows = Object.values(ALL).map((name, i) => inst({ id: `i-${String(i).padStart(17, '0')}`, name, host: name }));
    const table = instancesTable(rows);
    assertSafe(table, rows.length, 400);
    expect(table.split('\n')[0]).toMatch(/^ID +NAME +TYPE +RUNTIME +STATE +STATUS +IP +HOST +AGE$/);
    expect(table).toContain('?[31mred?[0m');
  });

  it('shows the status as DescribeInstanceStatus has it, the public IP beside the private one, and the age', () => {
    const now = Date.now();
    const running = inst({ health: instanceHealth({ state: 'running', runtime: 'container' }, { unit: { state: 'active', statusText: 'ok' } }) });
    const lost = inst({ health: instanceHealth({ state: 'running', runtime: 'container' }, { hostLost: true }) });
    const stopped = inst({ state: 'stopped', health: instanceHealth({ state: 'stopped', runtime: 'container' }) });
    expect(statusText(running)).toBe('ok');
    expect(statusText(lost)).toBe('insufficient-data (system impaired)');
    expect(statusText(stopped)).toBe('-');
    expect(statusText(inst())).toBe('-');
    const line = instancesTable([inst({ name: 'web', publicIp: '203.0.113.7', launchTime: now - 3 * 3600_000 })], now).split('\n')[1]!;
    expect(line).toMatch(/^i-0123456789abcdef0 +web +t3\.micro +container +running +- +172\.31\.0\.10 \(203\.0\.113\.7\) +host1 +3h$/);
  });

  it('lists functions with their mode, units and URL; hostile names safely', () => {
    expect(unitsText([])).toBe('not started');
    expect(unitsText([{ name: 'a', state: 'active' }, { name: 'b', state: 'failed' }, { name: 'c', state: 'active' }])).toBe('2 active, 1 failed');
    const rows: FunctionOverview[] = Object.values(ALL).map((name) => ({ accountId: '000000000000', name, runtime: 'python3.12', mode: 'warm', urlId: null, units: [] }));
    rows.push({ accountId: '000000000000', name: 'fn', runtime: 'nodejs20.x', mode: 'per-request', urlId: 'abc123', units: [] });
    const table = functionsTable(rows, 'http://127.0.0.1:8774');
    assertSafe(table, rows.length, 300);
    expect(table.split('\n').at(-1)).toMatch(/^000000000000 +fn +nodejs20\.x +per-request +not started +http:\/\/127\.0\.0\.1:8774\/url\/abc123\/$/);
  });
});

describe('pcloud top', () => {
  it('shows CPU% over the interval, memory and its limit, busiest first; hostile names safely', () => {
    const a = inst({ id: 'i-0000000000000000a', name: '\x1b[2Jwipe' });
    const b = inst({ id: 'i-0000000000000000b', name: '漢字'.repeat(30) });
    const c = inst({ id: 'i-0000000000000000c', state: 'pending' });
    const before = new Map([[a.id, { at: 0, cpuUsec: 0 }], [b.id, { at: 0, cpuUsec: 0 }]]);
    const rows = topRows([
      { instance: a, usage: { at: 2000, cpuUsec: 200_000, memoryBytes: 64 * 2 ** 20, memoryMaxBytes: 512 * 2 ** 20 } },
      { instance: b, usage: { at: 2000, cpuUsec: 3_000_000, memoryBytes: 300 * 2 ** 20 } },
      { instance: c },
    ], before);
    expect(rows.map((r) => r.instance.id)).toEqual([b.id, a.id, c.id]);
    expect(rows.map((r) => r.cpu)).toEqual([150, 10, undefined]);
    const frame = topFrame(rows, 2);
    const [head, blank, ...table] = frame.split('\n');
    expect(head).toMatch(/^pcloud top - \d\d:\d\d:\d\d {2}3 instances, CPU 160\.0%, memory 364M {2}\(every 2s\)$/);
    expect(blank).toBe('');
    assertSafe(table.join('\n'), 3, 200);
    expect(table[1]).toMatch(/^i-0000000000000000b +漢字.*… +container +running +150\.0 +300M +- +-$/);
    expect(table[2]).toMatch(/^i-0000000000000000a +\?\[2Jwipe +container +running +10\.0 +64M +512M +12\.5$/);
    expect(table[3]).toMatch(/^i-0000000000000000c +- +container +pending +- +- +- +-$/);
  });

  it('takes an interval from 0.2 to 3600 seconds', () => {
    expect(intervalOf('2')).toBe(2);
    expect(intervalOf('0.5')).toBe(0.5);
    for (const bad of ['0', '0.1', '-1', 'abc', '1e3', '3601', '', ' ', 'Infinity', 'NaN']) expect(() => intervalOf(bad), bad).toThrow(/--interval/);
  });

  it('says sizes and ages short', () => {
    expect(formatBytes(undefined)).toBe('-');
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(1536)).toBe('1.5K');
    expect(formatBytes(230 * 2 ** 20)).toBe('230M');
    expect(formatBytes(2 * 2 ** 30)).toBe('2.0G');
    expect(formatAge(0, 45_000)).toBe('45s');
    expect(formatAge(0, 12 * 60_000)).toBe('12m');
    expect(formatAge(0, 5 * 86_400_000)).toBe('5d');
    expect(formatAge(10_000, 0)).toBe('0s');
  });
});
