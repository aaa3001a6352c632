/**
 * EC2 Describe* filters: the one rule for what a filter names and how its values match, whether the filter is applied
 * in memory (filterRows, over a field table the resource's domain file declares) or in SQL (DescribeInstances,
 * DescribeTags: tagFilter and invalidFilter give them the same names and errors; Tags.matchSql the same wildcards).
 *
 * A filter names a field of the resource (its table's own key, never an Object.prototype member such as `constructor`),
 * or a tag: `tag:KEY` (the tag KEY's value), `tag-key` (any tag's key), `tag-value` (any tag's value). Its values are
 * ORed, each an EC2 wildcard (`*`, `?`: src/wildcard.ts); a field with several values (a list) matches if any does.
 * A name nothing knows is InvalidParameterValue, as on AWS.
 */
import { compile } from '../wildcard.js';
import { CloudError, ec2Errors, invalidParam, specOf, type ErrorCode } from './errors.js';

export interface Filter { name: string; values: string[] }

/** A tag as filters see it (tags.ts's Tag; declared here so that this bottom file imports nothing of tags.ts). */
interface TagLike { key: string; value: string }

/** A resource's filterable fields by filter name: a value, several (any may match), or none (nothing matches). */
export type Fields<T> = Record<string, (r: T) => string | readonly string[] | undefined | null>;

/** A tag filter by its name: `tag:KEY` (its value), `tag-key`, `tag-value`; undefined for any other name. */
export type TagFilter = { kind: 'tag'; key: string } | { kind: 'tag-key' } | { kind: 'tag-value' };

export function tagFilter(name: string): TagFilter | undefined {
  if (name.startsWith('tag:')) return { kind: 'tag', key: name.slice(4) };
  if (name === 'tag-key' || name === 'tag-value') return { kind: name };
  return undefined;
}

/** The error for a filter name the resource does not have. */
export function invalidFilter(name: string): CloudError {
  return invalidParam(`The filter '${name}' is invalid`);
}

/** The entry a name picks from a table keyed by names, if the table has one of its own (never an Object.prototype member). */
export function fieldOf<F>(fields: Record<string, F>, name: string): F | undefined {
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

/** Whether the value matches any of the patterns (EC2's wildcards, linear and within the request's budget: src/wildcard.ts). */
export function matches(value: string | undefined | null, patterns: string[]): boolean {
  if (typeof value !== 'string') return false;
  return compile(patterns)(value);
}

function matchesField(v: string | readonly string[] | undefined | null, patterns: string[]): boolean {
  return typeof v === 'string' || v == null ? matches(v, patterns) : v.some((x) => matches(x, patterns));
}

/**
 * Apply filters in memory: each one a field of the table, or (if the resource has tags: `tags`, by resource id) a tag
 * filter. A resource without tags given refuses tag filters as any unknown name.
 */
export function filterRows<T extends { id: string }>(rows: T[], filters: Filter[], fields: Fields<T>, tags: ReadonlyMap<string, readonly TagLike[]>): T[];
export function filterRows<T>(rows: T[], filters: Filter[], fields: Fields<T>): T[];
export function filterRows<T>(rows: T[], filters: Filter[], fields: Fields<T>, tags?: ReadonlyMap<string, readonly TagLike[]>): T[] {
  let out = rows;
  for (const f of filters) {
    const tag = tags ? tagFilter(f.name) : undefined;
    if (tags && tag) {
      const of = (r: T) => tags.get((r as { id: string }).id) ?? [];
      if (tag.kind === 'tag') out = out.filter((r) => matches(of(r).find((t) => t.key === tag.key)?.value, f.values));
      else if (tag.kind === 'tag-key') out = out.filter((r) => of(r).some((t) => matches(t.key, f.values)));
      else out = out.filter((r) => of(r).some((t) => matches(t.value, f.values)));
      continue;
    }
    const get = fieldOf(fields, f.name);
    if (!get) throw invalidFilter(f.name);
    out = out.filter((r) => matchesField(get(r), f.values));
  }
  return out;
}

/** The resources a Describe names by id (all when it names none), or `code` naming those that do not exist (in AWS's words where the catalogue has them). */
export function byIds<T extends { id: string }>(rows: T[], ids: string[], code: ErrorCode, what: string): T[] {
  if (!ids.length) return rows;
  const have = new Set(rows.map((r) => r.id));
  const missing = ids.filter((id) => !have.has(id));
  if (missing.length) throw new CloudError(code, specOf(ec2Errors, code)?.message?.(missing.join(', ')) ?? `The ${what} '${missing.join(', ')}' does not exist`);
  const wanted = new Set(ids);
  return rows.filter((r) => wanted.has(r.id));
}
