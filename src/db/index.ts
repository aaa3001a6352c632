import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import * as schema from './schema.js';
import { migrate } from './migrate.js';
import { sqlMatch } from '../wildcard.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
export { schema };

/**
 * Every transaction BEGIN IMMEDIATE unless it says otherwise: it takes the write lock before its first read, so what it
 * reads stays true until it commits. Several servers share one file (issue 17): a deferred transaction that read, then
 * found another connection had committed meanwhile, failed its first write with SQLITE_BUSY_SNAPSHOT ("database is
 * locked", no busy wait helps) or, worse, would decide on stale rows (a counter, a token, a free address). Immediate
 * ones queue on busy_timeout instead. A read-only transaction may pass `{ behavior: 'deferred' }`.
 */
function immediateByDefault(db: Db): Db {
  const begin = db.transaction.bind(db);
  db.transaction = (fn, config) => begin(fn, { behavior: 'immediate', ...config });
  return db;
}

/** Open (creating if needed) the state database, in WAL mode, with every migration applied (src/db/migrate.ts). */
export function openDb(file: string): Db {
  const sqlite = new Database(file);
  // Every account's secret keys are in it: root's only (its -wal and -shm files take the same mode from it).
  if (file !== ':memory:') chmodSync(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db: Db = immediateByDefault(drizzle(sqlite, { schema }));
  try {
    migrate(db);
  } catch (e) {
    sqlite.close();
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`could not bring the state database ${file} to this pcloud's schema (left as it was): ${why}`, { cause: e });
  }
  // EC2 filter wildcards, linear and within the request's budget (GLOB's cost grows with value x pattern).
  sqlite.function('pcloud_match', { varargs: false }, sqlMatch);
  return db;
}
