/**
 * Policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'default'}`, and the escapes `${*}`, `${?}`, `${$}`)
 * in Resource and condition values, for documents of Version 2012-10-17 (older ones keep `${…}` as text, as AWS does).
 * A variable's value is always literal: a tag holding `*` never widens a grant. A variable the request lacks, with no
 * default, makes the value match nothing.
 */
import { glob, joinGlob, type Glob } from './glob.js';

/** Looks a condition key up (lower-cased key), as the evaluation has them for this request and resource. */
export type Lookup = (lowerKey: string) => string | readonly string[] | undefined;

type Piece = { text: string; literal: boolean } | { key: string; fallback?: string };

/** A value from a policy: ready when it names no variable, else resolved per request. */
export interface Template {
  readonly fixed?: Glob;
  readonly pieces?: readonly Piece[];
  /** The text as written (for messages and the set of keys a policy reads). */
  readonly source: string;
}

/** Cut `source` at its `${…}`; with `variables` false (Version 2008-10-17 or none) it is plain text. */
export function template(source: string, variables: boolean): Template {
  if (!variables || !source.includes('${')) return { fixed: glob(source), source };
  const pieces: Piece[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('${', i);
    const close = open < 0 ? -1 : source.indexOf('}', open + 2);
    if (open < 0 || close < 0) { text += source.slice(i); break; }
    text += source.slice(i, open);
    const inner = source.slice(open + 2, close).trim();
    i = close + 1;
    if (inner === '*' || inner === '?' || inner === '$') {
      if (text) pieces.push({ text, literal: false });
      text = '';
      pieces.push({ text: inner, literal: true });
      continue;
    }
    const comma = inner.indexOf(',');
    const key = (comma < 0 ? inner : inner.slice(0, comma)).trim().toLowerCase();
    let fallback: string | undefined;
    if (comma >= 0) {
      const d = inner.slice(comma + 1).trim();
      fallback = d.length >= 2 && d.startsWith("'") && d.endsWith("'") ? d.slice(1, -1) : d;
    }
    if (text) pieces.push({ text, literal: false });
    text = '';
    pieces.push(fallback === undefined ? { key } : { key, fallback });
  }
  if (text) pieces.push({ text, literal: false });
  if (pieces.every((p) => 'text' in p)) return { fixed: joinGlob(pieces), source };
  return { pieces, source };
}

/** The pattern for this request, or undefined when a variable it names has no value (and no default). */
export function resolve(t: Template, lookup: Lookup): Glob | undefined {
  if (t.fixed) return t.fixed;
  const parts: { text: string; literal: boolean }[] = [];
  for (const p of t.pieces!) {
    if ('text' in p) { parts.push(p); continue; }
    const v = lookup(p.key);
    const one = typeof v === 'string' ? v : v?.length === 1 ? v[0] : undefined;
    const text = one ?? p.fallback;
    if (text === undefined) return undefined;
    parts.push({ text, literal: true });
  }
  return joinGlob(parts);
}
