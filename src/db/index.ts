import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import * as schema from './schema.js';
import { migrations } from './migrations.js';
import { sqlMatch } from '../wildcard.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
export { schema };

/** Open (creating if needed) the state database, in WAL mode, with every migration applied. */
export function openDb(file: string): Db {
  const sqlite = new Database(file);
  // Every account's secret keys are in it: root's only (its -wal and -shm files take the same mode from it).
  if (file !== ':memory:') chmodSync(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  migrate(sqlite);
  // EC2 filter wildcards, linear and within the request's budget (GLOB's cost grows with value x pattern).
  sqlite.function('pcloud_match', { varargs: false }, sqlMatch);
  return drizzle(sqlite, { schema }) as Db;
}

export function migrate(sqlite: Database.Database): void {
  const version = sqlite.pragma('user_version', { simple: true }) as number;
  for (let i = version; i < migrations.length; i++) {
    sqlite.transaction(() => {
      sqlite.exec(migrations[i]!);
      sqlite.pragma(`user_version = ${i + 1}`);
    })();
  }
}
