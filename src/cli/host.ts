/**
 * `pcloud host list`: the hosts instances run on, read from the state database without writing to it (a read-only
 * connection: safe beside a server running on it, SQLite WAL), with the ratios and timeout of this environment.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { configFromEnv } from '../cloud/config.js';
import { hostViews, type HostView } from '../cloud/hosts/view.js';
import { schema, type Db } from '../db/index.js';
import { databaseOf, DEFAULT_DATA } from './config.js';
import { closeDatabase, openDatabase } from '../db/open.js';

/**
 * The state database, to read: PostgreSQL's when PCLOUD_DATABASE_URL names one (migrated, so it has hosts), else the
 * data dir's SQLite file, read-only; what to do when there is none, or it predates hosts.
 */
async function withReadOnlyDb<T>(dataDir: string, fn: (db: Db) => Promise<T>): Promise<T> {
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

/** A table cell: control characters (a tab, a newline) would break the table's lines. */
function cell(v: string | number): string {
  return String(v).replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** One line per host (tab-separated, with a header): what `pcloud host list` prints. */
export function hostsTable(rows: HostView[]): string {
  return [
    ['ID', 'NAME', 'ZONE', 'STATE', 'RUNTIMES', 'ACCEL', 'VCPUS', 'MEMORY_MIB', 'INSTANCES', 'HEARTBEAT'].join('\t'),
    ...rows.map((h) => [
      h.id, h.name, h.availabilityZone, h.lost ? `${h.state},lost` : h.state, h.runtimes.join(',') || '-', h.accel,
      `${h.vcpus.used}/${h.vcpus.total}`, `${h.memoryMiB.used}/${h.memoryMiB.total}`, h.instances, `${h.heartbeatAgeSec}s ago`,
    ].map(cell).join('\t')),
  ].join('\n');
}

export function hostCommand(program: Command): void {
  const host = program.command('host').description('the hosts instances run on');
  host.command('list')
    .description('every host: id, name, zone, state (lost: not heard from), runtimes, accel, vCPUs and memory (MiB) its instances hold / it has, instances, last heartbeat')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--json', 'as JSON, with the over-commit limits placement keeps to')
    .action(async (opts: { data: string; json?: boolean }) => {
      const rows = await withReadOnlyDb(opts.data, (db) => hostViews(db, configFromEnv().hosts));
      process.stdout.write((opts.json ? JSON.stringify(rows, null, 2) : hostsTable(rows)) + '\n');
    });
}
