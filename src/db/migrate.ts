/**
 * The schema's one definition is src/db/schema.ts; `npm run db:generate` (drizzle-kit) turns each change of it into
 * a migration in src/db/migrations, and this applies the ones a database lacks, with drizzle's migrator. A database
 * from before drizzle-kit is first brought onto the baseline migration (legacy.ts).
 */
import { join } from 'node:path';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate as applyMigrations } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type Database from 'better-sqlite3';
import type { MigrationMeta } from 'drizzle-orm/migrator';
import { projectRoot } from '../paths.js';
import { upgradeLegacy } from './legacy.js';

/** Where drizzle's migrator records the migrations a database has had (its default name). */
export const JOURNAL = '__drizzle_migrations';

/** The generated migrations. dist/ reads them here too (tsc copies no SQL, and the project runs from its tree). */
export function migrationsFolder(): string {
  return join(projectRoot(), 'src', 'db', 'migrations');
}

/** Apply every migration the database lacks, each in one transaction with its record in the journal. */
export function migrate<T extends Record<string, unknown>>(
  db: BetterSQLite3Database<T> & { $client: Database.Database },
  folder = migrationsFolder(),
): void {
  const known = readMigrationFiles({ migrationsFolder: folder });
  const [baseline] = known;
  if (!baseline) throw new Error(`no migrations in ${folder}`);
  upgradeLegacy(db.$client, baseline, JOURNAL);
  refuseForeign(db.$client, known.map((m) => m.hash));
  applyMigrations(db, { migrationsFolder: folder, migrationsTable: JOURNAL });
}

/**
 * A database another pcloud migrated (a newer one, or a build whose migration was since rewritten) has a recorded
 * migration this one does not know: applying ours over it would fail half-way or worse, so refuse it, saying so.
 */
function refuseForeign(sqlite: Database.Database, known: MigrationMeta['hash'][]): void {
  const exists = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(JOURNAL);
  if (!exists) return;
  const ours = new Set(known);
  const rows = sqlite.prepare(`SELECT hash, created_at FROM ${JOURNAL} ORDER BY created_at`).all() as { hash: string; created_at: number }[];
  const foreign = rows.find((r) => !ours.has(r.hash));
  if (foreign) {
    throw new Error(`it has a migration this pcloud does not know (recorded ${new Date(Number(foreign.created_at)).toISOString()}): `
      + 'it was written by another pcloud; run that one, or start this one on a new data dir');
  }
}
