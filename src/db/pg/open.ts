/**
 * The state database on PostgreSQL (issue 17's control plane): the same tables as SQLite's, from the one definition
 * (src/db/schema.ts → src/db/pg/schema.ts by `npm run db:pg`), brought to this pcloud's schema by the PostgreSQL
 * migrations `npm run db:generate` writes in src/db/pg/migrations, with drizzle's migrator and the same journal table
 * as SQLite's. What `pcloud serve --database postgres://…` runs the
 * domain on (src/db/open.ts), its transactions each holding the database's write lock (pgEngine).
 */
import { join } from 'node:path';
import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as applyMigrations } from 'drizzle-orm/node-postgres/migrator';
import { readMigrationFiles, type MigrationMeta } from 'drizzle-orm/migrator';
import { sql } from 'drizzle-orm';
import * as schema from './schema.js';
import type { Db, Engine } from '../store.js';
import { JOURNAL } from '../migrate.js';
import { projectRoot } from '../../paths.js';

export type PgDb = NodePgDatabase<typeof schema> & { $client: pg.Pool };
export { schema };

/** The journal's schema: public, so the journal is found as on SQLite, by its name alone. */
const JOURNAL_SCHEMA = 'public';

/**
 * The advisory lock the migration holds: several pcloud processes starting on one database migrate one at a time
 * (the next one finds every migration applied). Any fixed number: "pcloud" in ASCII.
 */
const MIGRATION_LOCK = 0x70636c6f7564;

/** How long one statement may take on PostgreSQL, waiting for the write lock included. */
const STATEMENT_TIMEOUT_MS = 30_000;

/** The write lock every pcloud's transactions take on the database, as SQLite's BEGIN IMMEDIATE takes the file's. */
const WRITE_LOCK = 0x70636c6f7577;

/**
 * PostgreSQL's engine for write(): a transaction that first takes the write lock (held until it commits or rolls back), so
 * what it reads stays true until it ends, as on SQLite. Its handle runs every statement on the transaction's connection.
 */
export function pgEngine(db: PgDb): Engine {
  return (fn) => db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`);
    // Typed as the domain's SQLite database: the two query the same (test/unit/pg-parity.test.ts).
    return await fn(tx as unknown as Db);
  });
}

/** The generated PostgreSQL migrations (dist/ reads them here too, as SQLite's). */
export function pgMigrationsFolder(): string {
  return join(projectRoot(), 'src', 'db', 'pg', 'migrations');
}

/**
 * Open the PostgreSQL database at `url` (postgresql://…; a unix socket dir as `?host=/dir`) with every migration
 * applied. Refuses, leaving it as it was, a database with a migration this pcloud does not know. Close it with
 * `db.$client.end()`.
 */
export async function openPg(url: string, folder = pgMigrationsFolder()): Promise<PgDb> {
  // A statement (a write lock waited for included) that takes longer is refused, as SQLite's busy timeout does: one
  // request never holds the others up for good; nor does a server gone quiet inside a transaction (its lock is freed).
  // TCP keepalive: a connection whose other end is gone without a word (the database's host down, a partition) ends
  // rather than look alive for good; the wake-ups' listening one above all (db/wakeups.ts: it hears no more).
  const pool = new pg.Pool({
    connectionString: url, statement_timeout: STATEMENT_TIMEOUT_MS, idle_in_transaction_session_timeout: STATEMENT_TIMEOUT_MS,
    keepAlive: true, keepAliveInitialDelayMillis: 10_000,
  });
  // A pooled connection the server ends while idle (a restart): the pool drops it and the next query connects anew.
  pool.on('error', (e) => console.warn(`pcloud: a PostgreSQL connection ended: ${e.message}`));
  try {
    await migratePg(pool, folder);
  } catch (e) {
    await pool.end().catch(() => undefined);
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`could not bring the state database ${describe(url)} to this pcloud's schema (left as it was): ${why}`, { cause: e });
  }
  return drizzle(pool, { schema });
}

/** Apply every migration the database lacks (each in one transaction with its record in the journal), one pcloud at a time. */
export async function migratePg(pool: pg.Pool, folder = pgMigrationsFolder()): Promise<void> {
  const known = readMigrationFiles({ migrationsFolder: folder });
  if (!known.length) throw new Error(`no migrations in ${folder}`);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await refuseForeign(client, known.map((m) => m.hash));
      await applyMigrations(drizzle(client), { migrationsFolder: folder, migrationsTable: JOURNAL, migrationsSchema: JOURNAL_SCHEMA });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/**
 * A database another pcloud migrated (a newer one, or a build whose migration was since rewritten) has a recorded
 * migration this one does not know: applying ours over it would fail half-way or worse, so refuse it, saying so.
 */
async function refuseForeign(client: pg.PoolClient, known: MigrationMeta['hash'][]): Promise<void> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${JOURNAL_SCHEMA}.${JOURNAL}`]);
  if (!exists.rows[0]?.t) return;
  const ours = new Set(known);
  const rows = await client.query<{ hash: string; created_at: string }>(`SELECT hash, created_at FROM "${JOURNAL_SCHEMA}"."${JOURNAL}" ORDER BY created_at`);
  const foreign = rows.rows.find((r) => !ours.has(r.hash));
  if (foreign) {
    throw new Error(`it has a migration this pcloud does not know (recorded ${new Date(Number(foreign.created_at)).toISOString()}): `
      + 'it was written by another pcloud; run that one, or start this one on a new database');
  }
}

/** The database a URL names, without its credentials: for messages. */
function describe(url: string): string {
  try {
    const c = new pg.Client({ connectionString: url });
    return `${c.database ?? '(default)'} on ${c.host}${c.host.startsWith('/') ? '' : `:${c.port}`}`;
  } catch {
    return '(a PostgreSQL URL that could not be read)';
  }
}
