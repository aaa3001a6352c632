/**
 * The state database, to read from a command beside a running server (`pcloud host list`, `pcloud ps`, `pcloud top`):
 * PostgreSQL's when PCLOUD_DATABASE_URL names one (migrated, so it has every table), else the data dir's SQLite file,
 * read-only (safe beside a server writing it, SQLite WAL); what to do when there is none, or it predates hosts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { schema, type Db } from '../db/index.js';
import { closeDatabase, openDatabase } from '../db/open.js';
import { databaseOf } from './config.js';

export async function withReadOnlyDb<T>(dataDir: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const url = databaseOf({});
  if (url) {
    const db = await openDatabase(dataDir, url);
    try {
      return await fn(db);
    } finally {
      await closeDatabase(db);
    }
  }
  const file = join(dataDir, 'pcloud.db');
  if (!existsSync(file)) throw new Error(`no state database in ${dataDir}: start \`pcloud serve --data ${dataDir}\` first`);
  const sqlite = new Database(file, { readonly: true, fileMustExist: true });
  try {
    sqlite.pragma('busy_timeout = 5000');
    const known = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hosts'").get();
    if (!known) throw new Error(`the state database in ${dataDir} has no hosts yet: start this pcloud's \`pcloud serve --data ${dataDir}\` once`);
    return await fn(drizzle(sqlite, { schema }));
  } finally {
    sqlite.close();
  }
}
