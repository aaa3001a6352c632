/**
 * Transactions of the async domain: `write(db, async (tx) => …)` runs its function as one transaction, reads and writes
 * through `tx`, and resolves with its result once committed (rolled back if it throws).
 *
 * On SQLite a transaction now spans awaits, so one connection must not run two at once: they queue per connection, in
 * the order asked. Each takes SQLite's write lock before its first read (BEGIN IMMEDIATE, as every transaction here
 * does: several servers share one file, and a decision must not rest on rows another connection changes meanwhile).
 * A write() called inside another one on the same database (a helper that writes, called from a transaction) joins
 * it: its writes commit or roll back with the outer ones.
 *
 * A transaction holds the database's write lock for every server on it until it ends: only database work belongs inside
 * one, never a host command or anything else that waits on the world.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { sql } from 'drizzle-orm';
import type { Db } from './index.js';

/** The transaction this async context runs in, by database. */
const open = new AsyncLocalStorage<ReadonlyMap<Db, Db>>();
/** Per database, the end of the last transaction asked for: the next one starts after it. */
const tails = new WeakMap<Db, Promise<void>>();

export async function write<T>(db: Db, fn: (tx: Db) => Promise<T> | T): Promise<T> {
  const outer = open.getStore();
  const joined = outer?.get(db);
  if (joined) return fn(joined);
  const before = tails.get(db) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => { done = resolve; });
  tails.set(db, mine);
  await before;
  try {
    db.run(sql`BEGIN IMMEDIATE`);
    try {
      const inside = new Map(outer ?? []);
      inside.set(db, db);
      const result = await open.run(inside, () => fn(db));
      db.run(sql`COMMIT`);
      return result;
    } catch (e) {
      if (db.$client.inTransaction) db.run(sql`ROLLBACK`);
      throw e;
    }
  } finally {
    if (tails.get(db) === mine) tails.delete(db);
    done();
  }
}
