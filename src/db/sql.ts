/**
 * The few SQL expressions the two databases write differently, each in the words of the one this process runs on
 * (tables.ts' `dialect`). Everything else the domain asks is drizzle's, the same on both.
 */
import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { dialect } from './tables.js';

/**
 * `*` any run, `?` one character: EC2's filter wildcards as a LIKE pattern, `!` escaping LIKE's own `%`, `_` and itself
 * (not a backslash: its meaning in a string literal depends on standard_conforming_strings).
 */
export function likePattern(wildcards: string): string {
  return wildcards.replace(/[!%_]/g, (c) => `!${c}`).replace(/\*/g, '%').replace(/\?/g, '_');
}

/**
 * The column matches any of `values`, EC2 filter wildcards and all. SQLite: pcloud_match (src/wildcard.ts: linear, and
 * charged to the request's budget); PostgreSQL: LIKE (escaped), the request's time bounded by its statement timeout.
 */
export function matchesAny(column: SQL, values: readonly string[]): SQL {
  if (dialect === 'sqlite') return sql`pcloud_match(${column}, ${JSON.stringify(values)})`;
  if (!values.length) return sql`false`;
  return sql.join(values.map((v) => sql`(${column} LIKE ${likePattern(v)} ESCAPE '!')`), sql` OR `);
}

/** The first element of a JSON array column, as text (NULL when it is empty). */
export function firstOfJsonArray(column: SQLWrapper): SQL {
  return dialect === 'sqlite' ? sql`(SELECT value FROM json_each(${column}) LIMIT 1)` : sql`(${column}->>0)`;
}

/** A member of a JSON object column, as text. `key` is the code's, never a request's. */
export function jsonMember(column: SQLWrapper, key: 'revision' | 'codeSize' | 'codeSha256'): SQL {
  return dialect === 'sqlite' ? sql`json_extract(${column}, ${`$.${key}`})` : sql`(${column}->>${key})`;
}

/**
 * Whether a JSON array of layers (the column itself, or its object's `layers` member) has one whose `digest` is the
 * one given: by that member of each element, never by the text anywhere (a tenant's environment or description may
 * hold any text).
 */
export function layersHold(column: SQLWrapper, at: 'column' | 'layers', digest: string): SQL {
  if (dialect === 'sqlite') {
    const each = at === 'column' ? sql`json_each(${column})` : sql`json_each(${column}, '$.layers')`;
    return sql`EXISTS (SELECT 1 FROM ${each} WHERE json_extract(value, '$.digest') = ${digest})`;
  }
  const array = at === 'column' ? sql`${column}` : sql`(${column}->'layers')`;
  return sql`EXISTS (SELECT 1 FROM json_array_elements(${array}) AS e WHERE e->>'digest' = ${digest})`;
}

/**
 * A JSON array of `[key, value]` pairs, one per row of `from` (a correlated FROM … WHERE …), ordered by key; `[]` when
 * there are none. Keys sort bytewise on both (SQLite's BINARY; "C" whatever the PostgreSQL database's locale). Read back with parsedJson (PostgreSQL's driver parses json; SQLite gives its text).
 */
export function jsonPairs(key: SQLWrapper, value: SQLWrapper, from: SQL): SQL {
  return subquery(dialect === 'sqlite'
    ? sql`SELECT json_group_array(json_array(${key}, ${value}) ORDER BY ${key}) FROM ${from}`
    : sql`SELECT coalesce(json_agg(json_build_array(${key}, ${value}) ORDER BY ${key} COLLATE "C"), '[]'::json) FROM ${from}`);
}

/**
 * A subquery, in parentheses, as a column of a select: its body a fragment of its own, so drizzle names every column in
 * it with its table (in a select of one table it names that select's own columns bare, and a bare name in a correlated
 * subquery binds to the nearest table that has one).
 */
export function subquery<T = unknown>(body: SQL): SQL<T> {
  return sql<T>`(${body})`;
}

/** A JSON value as the driver gave it: parsed already (PostgreSQL's json) or text (SQLite's). */
export function parsedJson(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

/** LIMIT for "all of them" (SQLite's -1 is an error on PostgreSQL): more rows than either will ever hold. */
export const ALL_ROWS = Number.MAX_SAFE_INTEGER;
