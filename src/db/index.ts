import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import * as schema from './schema.js';
import { migrate } from './migrate.js';
import { guarded, sqliteEngine, type Db } from './store.js';
import { sqlMatch } from '../wildcard.js';

export type { Db } from './store.js';
export { schema };

/** How many prepared statements a connection keeps (the most recently used). */
const KEPT_STATEMENTS = 512;

/**
 * Statements kept by their text and used again: drizzle asks better-sqlite3 to prepare every query anew, which costs
 * more than running most of pcloud's. A statement is only ever run to its end at once (drizzle takes all rows, never
 * iterates), so one kept statement serves every caller in turn; drizzle's values() turns a statement raw, so a kept
 * one is given back in its default mode.
 */
export function keepStatements(sqlite: Database.Database, size = KEPT_STATEMENTS): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const kept = new Map<string, Database.Statement>();
  sqlite.prepare = ((source: string) => {
    let stmt = kept.get(source);
    if (stmt) {
      kept.delete(source);
      if (stmt.reader) stmt.raw(false);
    } else {
      stmt = prepare(source);
      if (kept.size >= size) kept.delete(kept.keys().next().value!);
    }
    kept.set(source, stmt);
    return stmt;
  }) as typeof sqlite.prepare;
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
  keepStatements(sqlite);
  // Transactions are write()'s (store.ts): BEGIN IMMEDIATE, one at a time per connection.
  const db: Db = drizzle(sqlite, { schema });
  try {
    migrate(db);
  } catch (e) {
    sqlite.close();
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`could not bring the state database ${file} to this pcloud's schema (left as it was): ${why}`, { cause: e });
  }
  // EC2 filter wildcards, linear and within the request's budget (GLOB's cost grows with value x pattern).
  sqlite.function('pcloud_match', { varargs: false }, sqlMatch);
  // Lone changes wait for the connection's open transaction (store.ts).
  return guarded(db, sqliteEngine(db));
}
