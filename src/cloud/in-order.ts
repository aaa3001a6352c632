/**
 * `items.map(fn)` for an async `fn`, one item after another: the same order, the same first failure (nothing after it
 * runs), as the synchronous map it stands for. Steps that read or write the database run in turn, never interleaved
 * (inside a transaction they share its one connection).
 */
export async function inOrder<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R> | R): Promise<R[]> {
  const out: R[] = [];
  for (const [i, item] of items.entries()) out.push(await fn(item, i));
  return out;
}
