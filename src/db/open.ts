/**
 * The state database `pcloud serve` runs on: a SQLite file in the data dir (the embedded default), or PostgreSQL when
 * given its URL (`--database postgres://…`, PCLOUD_DATABASE_URL), which several servers and hosts share. Either way the
 * domain gets one guarded database (store.ts) and the tables of its dialect (tables.ts).
 */
import { join } from 'node:path';
import { openDb, type Db } from './index.js';
import { openPg, pgEngine, type PgDb } from './pg/open.js';
import { guarded } from './store.js';
import { dialect, useDialect } from './tables.js';

/** Whether `where` names a PostgreSQL database (postgres:// or postgresql://). */
export function isPostgresUrl(where: string): boolean {
  return /^postgres(ql)?:\/\//.test(where);
}

/** The database at `url` (PostgreSQL), or else the SQLite file of the data dir. */
export async function openDatabase(dataDir: string, url?: string): Promise<Db> {
  // One process runs on one database at a time (a bench opens one after another): the last opened names the tables.
  if (url === undefined) {
    useDialect('sqlite');
    return openDb(join(dataDir, 'pcloud.db'));
  }
  if (!isPostgresUrl(url)) throw new Error('the database must be a PostgreSQL URL (postgres://… or postgresql://…); without one, pcloud keeps its state in the data dir');
  useDialect('pg');
  const pg: PgDb = await openPg(url);
  return guarded(pg as unknown as Db, pgEngine(pg));
}

/** Close what openDatabase() opened (once every transaction under way has ended: store.ts' settled()). */
export async function closeDatabase(db: Db): Promise<void> {
  if (dialect === 'pg') await (db.$client as unknown as PgDb['$client']).end();
  else db.$client.close();
}
