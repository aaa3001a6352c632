/**
 * Terminal tables (`pcloud ps`, `pcloud top`): fixed columns, each as wide as its widest cell, two spaces apart. Every
 * cell is text for a terminal: what the user controls (Name tags, function names) may hold escape sequences, newlines,
 * bidirectional overrides or very long or wide text, so each cell is made safe here, whatever it holds: anything a
 * terminal would act on or that would break the table's lines becomes `?`, and a cell longer than its column's bound
 * is cut (by what it shows: a wide character takes two columns, a combining mark none) and ends in `…`.
 */

export interface Column {
  header: string;
  /** The most terminal columns a cell takes (longer ones are cut); none: as wide as it is. */
  max?: number;
  /** Numbers are right-aligned. */
  align?: 'left' | 'right';
}

/**
 * What a terminal would act on or that breaks a line: C0 and C1 controls (ESC, CR, LF, tab...), DEL, format
 * characters (bidirectional overrides, zero-width ones), line and paragraph separators, lone surrogates, private-use
 * and unassigned code points.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/gu;

/** Text safe to print in one table cell: one line, nothing a terminal acts on. */
export function safeText(text: string): string {
  return text.replace(UNSAFE, '?');
}

/** Code points a terminal shows two columns wide: East Asian wide and full-width ones, and emoji. */
const WIDE = /[\u1100-\u115f\u231a\u231b\u2329\u232a\u23e9-\u23ec\u23f0\u23f3\u25fd\u25fe\u2614\u2615\u2648-\u2653\u267f\u2693\u26a1\u26aa\u26ab\u26bd\u26be\u26c4\u26c5\u26ce\u26d4\u26ea\u26f2\u26f3\u26f5\u26fa\u26fd\u2705\u270a\u270b\u2728\u274c\u274e\u2753-\u2755\u2757\u2795-\u2797\u27b0\u27bf\u2b1b\u2b1c\u2b50\u2b55\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\u{16fe0}-\u{18d08}\u{1b000}-\u{1b2ff}\u{1f004}\u{1f0cf}\u{1f18e}\u{1f191}-\u{1f19a}\u{1f200}-\u{1f2ff}\u{1f300}-\u{1f64f}\u{1f680}-\u{1f6ff}\u{1f7e0}-\u{1f7eb}\u{1f90c}-\u{1f9ff}\u{1fa70}-\u{1faff}\u{20000}-\u{3fffd}]/u;
/** Code points that take no column of their own: combining marks (variation selectors among them). */
const ZERO = /[\p{Mn}\p{Me}]/u;

/** How many terminal columns one code point takes. */
function charWidth(c: string): number {
  if (ZERO.test(c)) return 0;
  return WIDE.test(c) ? 2 : 1;
}

/** How many terminal columns safe text takes (by code point: a wide one is two, a combining mark none). */
export function displayWidth(text: string): number {
  let w = 0;
  for (const c of text) w += charWidth(c);
  return w;
}

/**
 * Safe text cut to at most `max` columns, ending in `…` when cut (whole code points only; a wide one only where both
 * its columns fit). Only as much of the text is looked at as could be shown.
 */
export function fit(text: string, max: number): string {
  // Past this many UTF-16 units nothing more could be shown (combining marks aside): the rest is never looked at.
  const bound = Number.isFinite(max) ? max * 8 + 64 : text.length;
  const chars = [...safeText(text.slice(0, bound))];
  const widths = chars.map(charWidth);
  let w = 0;
  let n = 0;
  while (n < chars.length && w + widths[n]! <= max) w += widths[n++]!;
  if (n === chars.length && text.length <= bound) return chars.join('');
  // Cut: room for the ellipsis.
  while (n > 0 && w + 1 > max) w -= widths[--n]!;
  return `${chars.slice(0, n).join('')}…`;
}

/** The table: a header line and a line per row, columns as wide as their widest cell, no trailing spaces. */
export function renderTable(columns: Column[], rows: (string | number)[][]): string {
  const cells = [columns.map((c) => fit(c.header, c.max ?? Infinity)), ...rows.map((r) => columns.map((c, i) => fit(String(r[i] ?? ''), c.max ?? Infinity)))];
  const widths = columns.map((_, i) => cells.reduce((most, line) => Math.max(most, displayWidth(line[i]!)), 0));
  return cells.map((line) => line.map((cell, i) => {
    const pad = ' '.repeat(widths[i]! - displayWidth(cell));
    if (columns[i]!.align === 'right') return pad + cell;
    return i === line.length - 1 ? cell : cell + pad;
  }).join('  ').trimEnd()).join('\n');
}

/** Bytes as a short size: 512B, 1.5K, 230M, 2.0G (binary units). */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v}B` : `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[u]}`;
}

/** How long ago `since` was, in its largest unit: 45s, 12m, 3h, 5d. */
export function formatAge(since: number, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - since) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
