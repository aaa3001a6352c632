/**
 * EC2 filter wildcards (`*` any run, `?` one character), matched without backtracking and within a budget: the one
 * matcher for filters applied in memory and in SQL (registered as the SQLite function `pcloud_match`).
 *
 * A pattern is cut at its stars into segments: the first must match at the start, the last at the end, each one
 * between at its leftmost place after the one before (the leftmost place is always as good as a later one, so nothing
 * is retried). A segment without `?` is found with indexOf; one with `?` by bit-parallel matching (Shift-And), whose
 * cost is the value's length times the segment's length in 32-bit words, however the characters fall.
 *
 * Every match is charged to the budget of the request it runs for (AsyncLocalStorage, so SQLite's callbacks see it
 * too): a request whose filters would take longer than its budget is refused, never left to hold up every tenant.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A request's matching went past its budget (the domain answers it as EC2 answers a bad filter: src/cloud/filter-budget.ts). */
export class MatchBudgetExceeded extends Error {
  override name = 'MatchBudgetExceeded';
}

export type Matcher = (value: string) => boolean;

interface Budget { left: number }

const budgets = new AsyncLocalStorage<Budget>();

/**
 * Work units one request may spend on matching (a unit is about a character compared; a call from SQL costs a few):
 * a few tens of milliseconds; an ordinary filter over thousands of tags takes a small part of it.
 */
export const MATCH_BUDGET = 8_000_000;
const CALL_COST = 32;

/** Run fn (and everything it awaits) with a matching budget of its own. */
export function withMatchBudget<T>(fn: () => T, units = MATCH_BUDGET): T {
  return budgets.run({ left: units }, fn);
}

function charge(units: number): void {
  const b = budgets.getStore();
  if (!b) return;
  b.left -= units;
  if (b.left < 0) {
    b.left = 0;
    throw new MatchBudgetExceeded('The filter values of this request would take too long to apply: use fewer or more specific filter values.');
  }
}

/** A compiled pattern's segment. */
interface Segment { text: string; wild: boolean; masks?: Map<number, Uint32Array>; any?: Uint32Array; words: number }

function segment(text: string): Segment {
  const words = Math.max(1, Math.ceil(text.length / 32));
  if (!text.includes('?')) return { text, wild: false, words };
  const any = new Uint32Array(words);
  for (let j = 0; j < text.length; j++) if (text.charCodeAt(j) === 63) any[j >>> 5]! |= 1 << (j & 31);
  const masks = new Map<number, Uint32Array>();
  for (let j = 0; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 63 || masks.has(c)) continue;
    const m = Uint32Array.from(any);
    for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) === c) m[k >>> 5]! |= 1 << (k & 31);
    masks.set(c, m);
  }
  return { text, wild: true, masks, any, words };
}

/** Whether the segment matches exactly at `at`. */
function at(seg: Segment, value: string, pos: number): boolean {
  const t = seg.text;
  if (pos < 0 || pos + t.length > value.length) return false;
  charge(t.length);
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c !== 63 && c !== value.charCodeAt(pos + i)) return false;
  }
  return true;
}

/** The leftmost place at or after `from` where the segment matches, ending by `end`; -1 if none. */
function find(seg: Segment, value: string, from: number, end: number): number {
  const len = seg.text.length;
  if (!seg.wild) {
    charge(end - from);
    const i = value.indexOf(seg.text, from);
    return i >= 0 && i + len <= end ? i : -1;
  }
  charge((end - from) * seg.words);
  const d = new Uint32Array(seg.words);
  const lastWord = (len - 1) >>> 5;
  const lastBit = 1 << ((len - 1) & 31);
  for (let i = from; i < end; i++) {
    const m = seg.masks!.get(value.charCodeAt(i)) ?? seg.any!;
    // D = ((D << 1) | 1) & mask, across words.
    let carry = 1;
    for (let w = 0; w < seg.words; w++) {
      const next = d[w]! >>> 31;
      d[w] = ((d[w]! << 1) | carry) & m[w]!;
      carry = next;
    }
    if (d[lastWord]! & lastBit) return i - len + 1;
  }
  return -1;
}

function compileOne(pattern: string): Matcher {
  const parts = pattern.split('*');
  if (parts.length === 1) {
    const seg = segment(pattern);
    return (v) => v.length === pattern.length && at(seg, v, 0);
  }
  const first = segment(parts[0]!);
  const last = segment(parts[parts.length - 1]!);
  const middle = parts.slice(1, -1).filter(Boolean).map(segment);
  const fixed = first.text.length + last.text.length + middle.reduce((n, s) => n + s.text.length, 0);
  return (v) => {
    if (fixed > v.length) return false;
    if (!at(first, v, 0) || !at(last, v, v.length - last.text.length)) return false;
    let pos = first.text.length;
    const end = v.length - last.text.length;
    for (const seg of middle) {
      const found = find(seg, v, pos, end);
      if (found < 0) return false;
      pos = found + seg.text.length;
    }
    return true;
  };
}

/** Compiled pattern lists: by the list itself (a filter's values, row after row) and by their JSON (as SQL passes them). */
const byList = new WeakMap<readonly string[], Matcher>();
const byJson = new Map<string, Matcher>();
const JSON_CACHE_MAX = 512;

function anyOf(patterns: readonly string[]): Matcher {
  const each = [...new Set(patterns)].map(compileOne);
  return (v) => {
    charge(CALL_COST);
    return each.some((one) => one(v));
  };
}

/** One matcher for "any of these patterns" (EC2 ORs a filter's values), compiled once per list. */
export function compile(patterns: readonly string[]): Matcher {
  let m = byList.get(patterns);
  if (!m) byList.set(patterns, m = anyOf(patterns));
  return m;
}

/** For SQLite: `pcloud_match(value, json_array_of_patterns)`, 1 or 0. */
export function sqlMatch(value: unknown, patternsJson: unknown): number {
  if (typeof value !== 'string' || typeof patternsJson !== 'string') return 0;
  let m = byJson.get(patternsJson);
  if (!m) {
    let patterns: unknown;
    try {
      patterns = JSON.parse(patternsJson);
    } catch {
      return 0;
    }
    if (!Array.isArray(patterns) || !patterns.every((p) => typeof p === 'string')) return 0;
    if (byJson.size >= JSON_CACHE_MAX) byJson.clear();
    byJson.set(patternsJson, m = anyOf(patterns));
  }
  return m(value) ? 1 : 0;
}
