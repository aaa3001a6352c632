/**
 * Both dialects migrate to the same schema: a fresh SQLite (openDb) and a fresh PostgreSQL (openPg, on a throwaway
 * cluster: test/support/postgres.ts) read back from their own catalogues have the same tables, columns (nullability,
 * class of type, default), primary keys, unique and plain indexes (names and columns) and foreign keys; and a row with
 * every type of column, written and read through drizzle, reads back the same on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { eq, getTableColumns, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import { openDb, type Db } from '../../src/db/index.js';
import { JOURNAL } from '../../src/db/migrate.js';
import * as lite from '../../src/db/schema.js';
import { sqliteTables, typeClassOf, type TypeClass } from '../../src/db/pg/generate.js';
import { openPg, type PgDb } from '../../src/db/pg/open.js';
import * as pgs from '../../src/db/pg/schema.js';
import { FAST_TIER } from '../support/tier.js';
import { postgresMissing, startPostgres, type Postgres } from '../support/postgres.js';

const missing = FAST_TIER ? 'the fast tier starts no PostgreSQL (npm test does)' : postgresMissing();

/** How each class of value is stored: SQLite's declared type, PostgreSQL's data_type. */
const STORED: Record<TypeClass, { sqlite: string; pg: string }> = {
  text: { sqlite: 'text', pg: 'text' },
  json: { sqlite: 'text', pg: 'json' },
  integer: { sqlite: 'integer', pg: 'bigint' },
  boolean: { sqlite: 'integer', pg: 'boolean' },
  real: { sqlite: 'real', pg: 'double precision' },
  timestamp: { sqlite: 'integer', pg: 'timestamp with time zone' },
  bytes: { sqlite: 'blob', pg: 'bytea' },
};

/** Every column's class as schema.ts declares it, by table and column name. */
const declared = new Map(sqliteTables().map(([, t]) => {
  const c = getTableConfig(t);
  return [c.name, new Map(c.columns.map((col) => [col.name, typeClassOf(col)]))];
}));
const classOf = (dialect: 'sqlite' | 'pg', table: string, column: string, stored: string): string => {
  const cls = declared.get(table)?.get(column);
  return cls && STORED[cls][dialect] === stored ? cls : `${stored} (undeclared or not as ${cls ?? 'nothing'} is stored)`;
};

/** A default's value, the same for both once its class is known (SQLite keeps booleans as 1/0 and json as text). */
function defaultValue(cls: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (cls === 'integer' || cls === 'real') return Number(value);
  if (cls === 'boolean') return typeof value === 'boolean' ? value : Number(value) !== 0;
  if (cls === 'json') return typeof value === 'string' ? JSON.parse(value) as unknown : value;
  return value;
}

interface Catalogue {
  tables: string[];
  /**
   * By table: [name, class, not null, default], by name: the order differs (SQLite's migrations added columns at the
   * end; PostgreSQL's were made as schema.ts lists them), and nothing reads columns by position.
   */
  columns: Record<string, [string, string, boolean, unknown][]>;
  primaryKeys: Record<string, string[]>;
  /** [table, name, unique, columns], sorted. */
  indexes: [string, string, boolean, string[]][];
  /** [table, columns, foreign table, foreign columns, on update, on delete], sorted. */
  foreignKeys: [string, string[], string, string[], string, string][];
}

const byName = <T extends unknown[]>(rows: T[]): T[] => rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

function sqliteCatalogue(sqlite: Database.Database): Catalogue {
  const all = <T>(q: string, ...args: unknown[]) => sqlite.prepare(q).all(...args) as T[];
  const tables = all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?", JOURNAL)
    .map((r) => r.name).sort();
  const cat: Catalogue = { tables, columns: {}, primaryKeys: {}, indexes: [], foreignKeys: [] };
  for (const t of tables) {
    const cols = all<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number }>('SELECT * FROM pragma_table_info(?) ORDER BY cid', t);
    cat.columns[t] = cols.map((c): [string, string, boolean, unknown] => {
      const cls = classOf('sqlite', t, c.name, c.type.toLowerCase());
      const dflt = c.dflt_value === null ? null : (sqlite.prepare(`SELECT ${c.dflt_value} AS v`).get() as { v: unknown }).v;
      // A primary key's column is NOT NULL on PostgreSQL whatever it says; SQLite's pragma says what was declared.
      return [c.name, cls, c.notnull === 1 || c.pk > 0, defaultValue(cls, dflt)];
    }).sort();
    cat.primaryKeys[t] = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    for (const idx of all<{ name: string; unique: number; origin: string }>('SELECT * FROM pragma_index_list(?)', t)) {
      if (idx.origin === 'pk') continue;
      const on = all<{ name: string }>('SELECT name FROM pragma_index_info(?) ORDER BY seqno', idx.name).map((c) => c.name);
      cat.indexes.push([t, idx.name, idx.unique === 1, on]);
    }
    const fks = all<{ id: number; table: string; from: string; to: string; on_update: string; on_delete: string }>('SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq', t);
    for (const id of new Set(fks.map((f) => f.id))) {
      const parts = fks.filter((f) => f.id === id);
      cat.foreignKeys.push([t, parts.map((p) => p.from), parts[0]!.table, parts.map((p) => p.to), parts[0]!.on_update.toLowerCase(), parts[0]!.on_delete.toLowerCase()]);
    }
  }
  byName(cat.indexes);
  byName(cat.foreignKeys);
  return cat;
}

const PG_ACTIONS: Record<string, string> = { a: 'no action', r: 'restrict', c: 'cascade', n: 'set null', d: 'set default' };

async function pgCatalogue(db: PgDb): Promise<Catalogue> {
  const q = async <T>(text: string, values: unknown[] = []) => (await db.$client.query(text, values)).rows as T[];
  const tables = (await q<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> $1", [JOURNAL]))
    .map((r) => r.name).sort();
  const cat: Catalogue = { tables, columns: {}, primaryKeys: {}, indexes: [], foreignKeys: [] };
  for (const t of tables) {
    const cols = await q<{ name: string; type: string; nullable: string; dflt: string | null }>(
      "SELECT column_name AS name, data_type AS type, is_nullable AS nullable, column_default AS dflt FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position", [t]);
    cat.columns[t] = [];
    for (const c of cols) {
      const cls = classOf('pg', t, c.name, c.type);
      const dflt = c.dflt === null ? null : (await q<{ v: unknown }>(`SELECT ${c.dflt} AS v`))[0]!.v;
      cat.columns[t].push([c.name, cls, c.nullable === 'NO', defaultValue(cls, dflt)]);
    }
    cat.columns[t].sort();
  }
  const keys = await q<{ table: string; name: string; unique: boolean; primary: boolean; columns: string[] }>(`
    SELECT t.relname AS table, i.relname AS name, ix.indisunique AS unique, ix.indisprimary AS primary,
      array(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, n)
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns
    FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_namespace ns ON ns.oid = t.relnamespace WHERE ns.nspname = 'public' AND t.relname <> $1`, [JOURNAL]);
  for (const t of tables) cat.primaryKeys[t] = keys.find((k) => k.table === t && k.primary)?.columns ?? [];
  cat.indexes = byName(keys.filter((k) => !k.primary).map((k) => [k.table, k.name, k.unique, k.columns]));
  const fks = await q<{ table: string; columns: string[]; ftable: string; fcolumns: string[]; upd: string; del: string }>(`
    SELECT c.conrelid::regclass::text AS table, c.confrelid::regclass::text AS ftable, c.confupdtype AS upd, c.confdeltype AS del,
      array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
      array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n) AS fcolumns
    FROM pg_constraint c JOIN pg_namespace ns ON ns.oid = c.connamespace WHERE c.contype = 'f' AND ns.nspname = 'public'`);
  cat.foreignKeys = byName(fks.map((f) => [f.table, f.columns, f.ftable, f.fcolumns, PG_ACTIONS[f.upd] ?? f.upd, PG_ACTIONS[f.del] ?? f.del]));
  return cat;
}

describe.skipIf(missing)(`both dialects' migrations${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let cluster: Postgres;
  let pg: PgDb;
  let sqlite: Db;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcloud-parity-'));
    sqlite = openDb(join(dir, 'state.db'));
    cluster = await startPostgres();
    pg = await openPg(cluster.url);
  }, 60_000);

  afterAll(async () => {
    await pg?.$client.end();
    await cluster?.stop();
    sqlite?.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('make the same tables, columns, keys, indexes and foreign keys', async () => {
    const [a, b] = [sqliteCatalogue(sqlite.$client), await pgCatalogue(pg)];
    expect(a.tables).toEqual([...declared.keys()].sort());
    expect(b.tables).toEqual(a.tables);
    for (const t of a.tables) expect({ t, columns: b.columns[t] }).toEqual({ t, columns: a.columns[t] });
    expect(b.primaryKeys).toEqual(a.primaryKeys);
    expect(b.indexes).toEqual(a.indexes);
    expect(b.foreignKeys).toEqual(a.foreignKeys);
    // The comparison sees what matters: composite keys, unique and plain indexes, a foreign key, json and boolean columns.
    expect(a.primaryKeys.function_versions).toEqual(['account_id', 'name', 'version']);
    expect(a.indexes).toContainEqual(['images', 'images_owner_name', true, ['owner_id', 'name']]);
    expect(a.indexes).toContainEqual(['instances', 'instances_host_state', false, ['host_id', 'state']]);
    expect(a.foreignKeys).toEqual([['access_keys', ['account_id'], 'accounts', ['id'], 'no action', 'no action']]);
    expect(a.columns.hosts).toContainEqual(['runtimes', 'json', true, null]);
    expect(a.columns.vpcs).toContainEqual(['dns_support', 'boolean', true, true]);
    expect(a.columns.functions).toContainEqual(['layers', 'json', true, []]);
  });

  it('are applied once: opening the database again applies nothing and keeps the journal', async () => {
    const journal = async () => (await pg.$client.query<{ hash: string; created_at: string }>(`SELECT hash, created_at FROM "${JOURNAL}" ORDER BY id`)).rows;
    const before = await journal();
    expect(before.length).toBeGreaterThan(0);
    const again = await openPg(cluster.url);
    await again.$client.end();
    expect(await journal()).toEqual(before);
  });

  it('are applied once when several pcloud processes open a new database at the same time (an advisory lock)', async () => {
    const url = await cluster.createDatabase('concurrent');
    const dbs = await Promise.all([openPg(url), openPg(url), openPg(url)]);
    const rows = await dbs[0].$client.query<{ hash: string }>(`SELECT hash FROM "${JOURNAL}"`);
    const known = await pg.$client.query<{ hash: string }>(`SELECT hash FROM "${JOURNAL}"`);
    expect(rows.rows).toEqual(known.rows);
    await Promise.all(dbs.map((db) => db.$client.end()));
  });

  it('refuse a database another pcloud migrated (a migration since rewritten), leaving it as it was', async () => {
    const url = await cluster.createDatabase('foreign');
    const db = await openPg(url);
    // The latest migration rewritten since (its recorded hash is not one this pcloud knows).
    await db.$client.query(`UPDATE "${JOURNAL}" SET hash = $1 WHERE created_at = (SELECT max(created_at) FROM "${JOURNAL}")`, ['0'.repeat(64)]);
    const recorded = async () => (await db.$client.query<{ hash: string }>(`SELECT hash FROM "${JOURNAL}" ORDER BY created_at`)).rows;
    const journalBefore = await recorded();
    const tables = async () => (await db.$client.query<{ n: number }>("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")).rows;
    const before = await tables();
    await expect(openPg(url)).rejects.toThrow(/could not bring the state database foreign on .* to this pcloud's schema \(left as it was\): it has a migration this pcloud does not know .*another pcloud/);
    expect(await tables()).toEqual(before);
    expect(await recorded()).toEqual(journalBefore);
    expect(journalBefore.at(-1)).toEqual({ hash: '0'.repeat(64) });
    await db.$client.end();
  });

  it('read back, through drizzle, what was written: every type of column, the same on both', async () => {
    const now = 1_796_000_000_123;
    // Keys out of order, unicode, quotes and wildcards of LIKE: json keeps the text as written on both.
    const attributes: lite.InstanceAttributes = {
      sourceDestCheck: true, disableApiTermination: false, disableApiStop: false, instanceInitiatedShutdownBehavior: 'terminate',
      ebsOptimized: false, monitoring: true, hibernation: false, cpuCredits: 'unlimited',
      metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'enabled', httpProtocolIpv6: 'disabled', instanceMetadataTags: 'enabled' },
    };
    const account = { id: '123456789012', createdAt: now };
    const host = {
      id: 'h-0123456789abcdef0', name: "host-1 'é' %_\\", availabilityZone: 'local-1a', address: null, runtimes: ['q35', 'container', 'microvm'],
      accel: 'kvm', vcpus: 2, memoryMiB: 24_576, state: 'available', bootId: null, heartbeatAt: Number.MAX_SAFE_INTEGER, createdAt: now,
    };
    const instance = {
      id: 'i-0123456789abcdef0', accountId: account.id, reservationId: 'r-0123456789abcdef0', launchIndex: 0, imageId: 'ami-0123456789abcdef0',
      instanceType: 't3.micro', runtime: 'container', keyName: null, state: 'running', launchTime: now, subnetId: 'subnet-1', vpcId: 'vpc-1',
      availabilityZone: 'local-1a', privateIp: '10.0.0.5', publicIp: null, macAddress: '02:00:00:00:00:01', networkInterfaceId: 'eni-1',
      securityGroupIds: ['sg-b', 'sg-a'], clientToken: null, userData: 'IyEvYmluL3NoCmVjaG8gIuKckyIK', rootVolumeId: 'vol-1', rootVolumeSizeGiB: 8,
      attributes, terminatedAt: null, updatedAt: now, hostId: host.id,
    };
    const fn = {
      accountId: account.id, name: 'f', runtime: 'python3.12', handler: 'app.handler', role: 'arn:aws:iam::123456789012:role/r', memoryMiB: 128,
      timeoutSec: 3, environment: { Z: '1', A: '"quoted"', ü: 'ß' }, mode: 'warm' as const, codeSha256: 'x', codeSize: 3_000_000_000, revision: 'rev',
      createdAt: now, updatedAt: now,
    };
    const alias = { accountId: account.id, functionName: 'f', name: 'live', version: '1', extraVersion: '2', extraWeight: 0.1, revision: 'r', createdAt: now };
    const vpc = { id: 'vpc-1', accountId: account.id, cidr: '10.0.0.0/16', isDefault: true, createdAt: now, dnsHostnames: true };

    await sqlite.insert(lite.accounts).values(account);
    await sqlite.insert(lite.hosts).values(host);
    await sqlite.insert(lite.instances).values(instance);
    await sqlite.insert(lite.functions).values(fn);
    await sqlite.insert(lite.functionAliases).values(alias);
    await sqlite.insert(lite.vpcs).values(vpc);
    await pg.insert(pgs.accounts).values(account);
    await pg.insert(pgs.hosts).values(host);
    await pg.insert(pgs.instances).values(instance);
    await pg.insert(pgs.functions).values(fn);
    await pg.insert(pgs.functionAliases).values(alias);
    await pg.insert(pgs.vpcs).values(vpc);

    const fromSqlite = {
      accounts: await sqlite.select().from(lite.accounts),
      hosts: await sqlite.select().from(lite.hosts),
      instances: await sqlite.select().from(lite.instances).where(eq(lite.instances.id, instance.id)),
      functions: await sqlite.select().from(lite.functions),
      functionAliases: await sqlite.select().from(lite.functionAliases),
      vpcs: await sqlite.select().from(lite.vpcs),
    };
    const fromPg = {
      accounts: await pg.select().from(pgs.accounts),
      hosts: await pg.select().from(pgs.hosts),
      instances: await pg.select().from(pgs.instances).where(eq(pgs.instances.id, instance.id)),
      functions: await pg.select().from(pgs.functions),
      functionAliases: await pg.select().from(pgs.functionAliases),
      vpcs: await pg.select().from(pgs.vpcs),
    };
    // Defaults filled in the same (status '', layers [], booleans), and each value what was written.
    expect(fromSqlite.instances).toEqual([{ ...instance, stateTransitionReason: '', stateReasonCode: null, stateReasonMessage: null }]);
    expect(fromSqlite.hosts).toEqual([host]);
    expect(fromSqlite.functions[0]).toMatchObject({ ...fn, layers: [], lastVersion: 0, description: '', reservedConcurrency: null });
    expect(fromSqlite.functionAliases[0]).toMatchObject({ ...alias, description: '', urlId: null });
    expect(fromSqlite.vpcs).toEqual([{ ...vpc, dnsSupport: true, addressUsageMetrics: false, vni: null }]);
    expect(fromPg).toEqual(fromSqlite);
    // json keeps an object's keys in the order written (jsonb would not): what the API serializes reads the same.
    expect(Object.keys(fromPg.functions[0]!.environment)).toEqual(['Z', 'A', 'ü']);
    expect(Object.keys(fromPg.instances[0]!.attributes)).toEqual(Object.keys(attributes));
    expect(typeof fromPg.hosts[0]!.heartbeatAt).toBe('number');
  });

  it('read back every column of every table as written, the same on both (hostile text, the largest safe integer, json)', async () => {
    // One value per class, the same in every row: the one foreign key (access_keys.account_id → accounts.id) holds.
    const text = "'; DROP TABLE x; -- %_\\ \"é\" 😀\n\t";
    const valueOf: Record<TypeClass, unknown> = {
      text, integer: Number.MAX_SAFE_INTEGER, boolean: true, real: 1 / 3, timestamp: new Date(1_796_000_000_123),
      json: { z: [1, 'two', null, { y: false }], a: text }, bytes: Buffer.from([0, 1, 0x27, 0x5c, 0xff, 0]),
    };
    const pgTables = new Map((Object.entries(pgs) as [string, unknown][]).filter((e): e is [string, PgTable] => is(e[1], PgTable)));
    // accounts first: the row of access_keys refers to it.
    const tables = sqliteTables().sort(([a], [b]) => Number(b === 'accounts') - Number(a === 'accounts'));
    for (const [name, table] of tables) {
      const row = Object.fromEntries(Object.entries(getTableColumns(table)).map(([key, col]) => [key, valueOf[typeClassOf(col)]]));
      const pgTable = pgTables.get(name)!;
      await sqlite.insert(table).values(row);
      await pg.insert(pgTable).values(row);
      // The rows that read back exactly as written (JSON text: an object's keys in their order too).
      const same = (rows: Record<string, unknown>[]) => rows.filter((r) => Object.keys(row).every((k) => JSON.stringify(r[k]) === JSON.stringify(row[k])));
      const fromSqlite = same(await sqlite.select().from(table));
      const fromPg = same(await pg.select().from(pgTable));
      expect({ name, rows: fromSqlite }).toEqual({ name, rows: [row] });
      expect({ name, rows: fromPg }).toEqual({ name, rows: [row] });
    }
  });
});

describe.skipIf(missing)(`a throwaway PostgreSQL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('listens on its own unix socket only, and leaves no process and no dir once stopped', async () => {
    const cluster = await startPostgres();
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      expect(alive(cluster.pid)).toBe(true);
      expect(existsSync(join(cluster.dir, '.s.PGSQL.5432'))).toBe(true);
      const db = await openPg(cluster.url);
      const settings = await db.$client.query<{ name: string; setting: string }>(
        "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'unix_socket_directories', 'fsync') ORDER BY name");
      await db.$client.end();
      expect(settings.rows).toEqual([
        { name: 'fsync', setting: 'off' }, { name: 'listen_addresses', setting: '' }, { name: 'unix_socket_directories', setting: cluster.dir },
      ]);
    } finally {
      await cluster.stop();
    }
    expect(alive(cluster.pid)).toBe(false);
    expect(existsSync(cluster.dir)).toBe(false);
  });
});
