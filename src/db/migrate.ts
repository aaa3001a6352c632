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
  const [baseline] = readMigrationFiles({ migrationsFolder: folder });
  if (!baseline) throw new Error(`no migrations in ${folder}`);
  upgradeLegacy(db.$client, baseline, JOURNAL);
  applyMigrations(db, { migrationsFolder: folder, migrationsTable: JOURNAL });
}
