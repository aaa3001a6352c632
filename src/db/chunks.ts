/**
 * Reading rows for many ids at once: one `IN (…)` list per slice of ids, so that a page of a thousand instances costs a
 * query or two per table rather than one per instance, and no statement carries more parameters than either engine takes.
 */

/** How many ids one `IN (…)` list carries: well within SQLite's and PostgreSQL's limits on a statement's parameters. */
export const IDS_PER_QUERY = 500;

/** `fn` over `ids` a slice of IDS_PER_QUERY at a time, one after another; their rows together, in order. */
export async function byChunks<R>(ids: readonly string[], fn: (chunk: string[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) out.push(...(await fn(ids.slice(i, i + IDS_PER_QUERY))));
  return out;
}
