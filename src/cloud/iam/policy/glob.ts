/**
 * Wildcards as IAM matches them (`*` any run, `?` one character) without a RegExp and without backtracking: a pattern
 * is text plus a mask saying which of its characters are wildcards (so a policy variable's value, or `${*}`, is only
 * ever literal text). Matching walks the value once per star retried, keeping only the last star: the cost is bounded
 * by the value's length times the pattern's, never exponential, whatever the pattern (`*a*a*a*…b`).
 */

/** A compiled pattern: `wild[i]` is STAR or ONE where text[i] is a wildcard; null when it has none (plain equality). */
export interface Glob {
  readonly text: string;
  readonly wild: Uint8Array | null;
}

const LITERAL = 0;
const STAR = 1;
const ONE = 2;

/** A pattern from policy text: every `*` and `?` in it is a wildcard. */
export function glob(text: string): Glob {
  let wild: Uint8Array | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 42 || c === 63) {
      wild ??= new Uint8Array(text.length);
      wild[i] = c === 42 ? STAR : ONE;
    }
  }
  return { text, wild };
}

/** A pattern from parts: wildcard text (policy) and literal text (a variable's value), in order. */
export function joinGlob(parts: readonly { text: string; literal: boolean }[]): Glob {
  const text = parts.map((p) => p.text).join('');
  const wild = new Uint8Array(text.length);
  let any = false;
  let at = 0;
  for (const p of parts) {
    if (!p.literal) {
      for (let i = 0; i < p.text.length; i++) {
        const c = p.text.charCodeAt(i);
        if (c === 42 || c === 63) { wild[at + i] = c === 42 ? STAR : ONE; any = true; }
      }
    }
    at += p.text.length;
  }
  return { text, wild: any ? wild : null };
}

/** Whether the whole of `value` matches the pattern (case as given: callers lower-case both sides for actions). */
export function globMatch(g: Glob, value: string): boolean {
  const { text: p, wild } = g;
  if (!wild) return p === value;
  const n = p.length;
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < value.length) {
    if (i < n && (wild[i] === ONE || (wild[i] === LITERAL && p.charCodeAt(i) === value.charCodeAt(j)))) {
      i++;
      j++;
    } else if (i < n && wild[i] === STAR) {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (i < n && wild[i] === STAR) i++;
  return i === n;
}

/** Whether the pattern is just `*` (matches everything). */
export const isStar = (g: Glob) => g.text === '*' && g.wild !== null;
