/**
 * Transactions of the async domain: `write(db, async (tx) => …)` runs its function as one transaction, reads and writes
 * through `tx`, and resolves with its result once committed (rolled back if it throws).
 *
 * Each holds the database's write lock from its start (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-level
 * advisory lock every pcloud takes the same): several servers share one database, and a decision must not rest on rows
 * another one changes meanwhile. In one process they queue per database, in the order asked. A write() called inside
 * another one on the same database (a helper that writes, called from a transaction) joins it while it is open: its
 * writes commit or roll back with the outer ones.
 *
 * The database the domain holds is guarded (guarded()): inside a write() every statement made through it runs in that
 * transaction (on PostgreSQL, on the transaction's connection rather than another of the pool); outside, a statement
 * that changes rows (a lone insert, update or delete) is a write() of its own, so it never lands inside another
 * caller's open transaction, and is never rolled back with it. Reads outside a write() run at once.
 *
 * A transaction holds the database's write lock for every server on it until it ends: only database work belongs inside
 * one, never a host command or anything else that waits on the world.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type * as schema from './schema.js';

/** The state database as the domain holds it (openDb()'s, guarded). Typed as SQLite's on either database. */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** How one database runs a transaction that holds its write lock: `fn` gets the transaction's handle. */
export type Engine = <T>(fn: (tx: Db) => Promise<T>) => Promise<T>;

/** A transaction this async context runs in: open until it commits or rolls back; `after` runs once it committed. */
interface Open { live: boolean; tx: Db; after: (() => void)[] }

/** The transactions this async context runs in, by database. */
const open = new AsyncLocalStorage<ReadonlyMap<Db, Open>>();
/** Per database, the end of the last transaction asked for: the next one starts after it. */
const tails = new WeakMap<Db, Promise<void>>();
/** Each guarded database's engine and the database it guards. */
const engines = new WeakMap<Db, { engine: Engine; root: Db }>();

/** The open transaction of `db` this async context runs in, if any. */
function current(db: Db): Open | undefined {
  const o = open.getStore()?.get(db);
  return o?.live ? o : undefined;
}

/** The database `db` guards, when this async context is in none of its transactions; else undefined (use `db`). */
export function outsideWrites(db: Db): Db | undefined {
  return current(db) ? undefined : engines.get(db)?.root;
}

export async function write<T>(db: Db, fn: (tx: Db) => Promise<T> | T): Promise<T> {
  if (current(db)) return await fn(db);
  const guard = engines.get(db);
  if (!guard) throw new Error('write() of a database openDb() did not give');
  const before = tails.get(db) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => { done = resolve; });
  tails.set(db, mine);
  await before;
  let state: Open | undefined;
  let committed = false;
  try {
    const result = await guard.engine(async (tx) => {
      state = { live: true, tx, after: [] };
      const within = new Map(open.getStore() ?? []);
      within.set(db, state);
      return await open.run(within, () => fn(db));
    });
    committed = true;
    return result;
  } finally {
    if (state) state.live = false;
    if (tails.get(db) === mine) tails.delete(db);
    done();
    if (committed) for (const f of state?.after ?? []) f();
  }
}

/**
 * Run `fn` once what this async context wrote to `db` is committed: after the write() it runs in (never, if that one
 * rolls back), or at once outside any. For telling others of a change (listeners), never for database work.
 */
export function afterCommit(db: Db, fn: () => void): void {
  const o = current(db);
  if (o) o.after.push(fn);
  else fn();
}

/** Once every transaction asked of `db` so far has ended (before closing it). */
export async function settled(db: Db): Promise<void> {
  for (let tail = tails.get(db); tail; tail = tails.get(db)) await tail;
}

/** SQLite's engine: BEGIN IMMEDIATE on the one connection, COMMIT, or ROLLBACK on a throw. */
export function sqliteEngine(db: Db): Engine {
  return async (fn) => {
    db.$client.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(db);
      db.$client.exec('COMMIT');
      return result;
    } catch (e) {
      // A failed ROLLBACK (the connection gone) must not hide why the transaction failed.
      if (db.$client.inTransaction) {
        try { db.$client.exec('ROLLBACK'); } catch { /* the original error says more */ }
      }
      throw e;
    }
  };
}

/** Builders whose statements change rows (drizzle's insert/update/delete). */
const CHANGES = new Set<PropertyKey>(['insert', 'update', 'delete']);
/** What starts a statement: inside a write(), on its transaction. */
const STATEMENTS = new Set<PropertyKey>(['select', 'selectDistinct', 'insert', 'update', 'delete', 'execute']);

/** `root` as the domain holds it: statements inside a write() on its transaction, lone changes each a write() of their own. */
export function guarded(root: Db, engine: Engine): Db {
  const self: Db = new Proxy(root, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (!STATEMENTS.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const open = current(self);
        if (open) return (Reflect.get(open.tx, prop, open.tx) as (...a: unknown[]) => unknown).apply(open.tx, args);
        if (!CHANGES.has(prop)) return (value as (...a: unknown[]) => unknown).apply(target, args);
        return recorded(self, [[prop, args]]);
      };
    },
  });
  engines.set(self, { engine, root });
  return self;
}

type Step = [method: PropertyKey, args: unknown[]];

/**
 * A lone change's builder, written down call by call: awaited, it is built again on the transaction of a write() of its
 * own and run there (its first call made on the pool would run on another connection than the lock's).
 */
function recorded(db: Db, steps: Step[]): unknown {
  const build = (on: Db): PromiseLike<unknown> => {
    let b: unknown = on;
    for (const [method, args] of steps) b = (Reflect.get(b as object, method) as (...a: unknown[]) => unknown).apply(b, args);
    return b as PromiseLike<unknown>;
  };
  const run = () => write(db, async (tx) => await build(tx));
  return new Proxy(Object.create(null) as object, {
    get(_target, prop) {
      if (prop === 'then') return (resolve?: (v: unknown) => unknown, reject?: (e: unknown) => unknown) => run().then(resolve, reject);
      if (prop === 'catch') return (reject?: (e: unknown) => unknown) => run().then(undefined, reject);
      if (prop === 'finally') return (f?: () => void) => run().finally(f);
      // toSQL() and the like: of the builder as it stands, on the database itself.
      if (prop === 'toSQL' || prop === 'getSQL') return () => (Reflect.get(build(engines.get(db)!.root), prop) as () => unknown)();
      return (...args: unknown[]) => recorded(db, [...steps, [prop, args]]);
    },
  });
}
