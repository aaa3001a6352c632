/**
 * The schema has one definition (src/db/schema.ts) and the migrations come from it: the committed ones must be what
 * drizzle-kit makes of it today, a fresh database gets them all, and a database made by the migrations pcloud had
 * before (the frozen SQL of src/db/legacy.ts, checked unchanged below) opens with every row kept and ends in exactly a fresh one's schema.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { openDb } from '../../src/db/index.js';
import { JOURNAL, migrationsFolder } from '../../src/db/migrate.js';
import { is } from 'drizzle-orm';
import { SQLiteTable, getTableConfig } from 'drizzle-orm/sqlite-core';
import * as schema from '../../src/db/schema.js';
import { accessKeys } from '../../src/db/schema.js';
import config from '../../src/db/drizzle.config.js';
import { projectRoot } from '../../src/paths.js';
import { LEGACY as legacyMigrations } from '../../src/db/legacy.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-db-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(base, `${++files}.db`);

interface MasterRow { type: string; name: string; tbl_name: string; sql: string | null }
type Row = Record<string, unknown>;

/** The schema as SQLite keeps it: every table, index and its SQL (whitespace aside). */
function schemaOf(sqlite: Database.Database): MasterRow[] {
  const rows = sqlite.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all() as MasterRow[];
  return rows.map((r) => ({ ...r, sql: r.sql === null ? null : r.sql.replace(/\s+/g, ' ').replace(/\( | \)/g, (m) => m.trim()) }));
}

/** A table's columns with the value SQLite gives an old row for each: its DEFAULT (a literal here), or NULL. */
function defaultsOf(sqlite: Database.Database, table: string): [string, unknown][] {
  const cols = sqlite.prepare('SELECT name, dflt_value FROM pragma_table_info(?)').all(table) as { name: string; dflt_value: string | null }[];
  return cols.map((c) => [c.name, c.dflt_value === null ? null : (sqlite.prepare(`SELECT ${c.dflt_value} AS v`).get() as { v: unknown }).v]);
}

/** The migrations a database has had, as drizzle's migrator recorded them. */
function journalOf(sqlite: Database.Database): unknown[] {
  return sqlite.prepare(`SELECT hash, created_at FROM "${JOURNAL}" ORDER BY created_at`).all();
}
/** Every table src/db/schema.ts declares, by name, sorted. */
const declared = Object.values(schema).filter((t) => is(t, SQLiteTable)).map((t) => getTableConfig(t).name).sort();
const migrationCount = readdirSync(migrationsFolder()).filter((f) => f.endsWith('.sql')).length;

function tablesOf(sqlite: Database.Database): string[] {
  return schemaOf(sqlite).filter((r) => r.type === 'table' && r.name !== JOURNAL).map((r) => r.name);
}

/** Every row of every table, each table's rows in a stable order. */
function contentOf(sqlite: Database.Database): Map<string, Row[]> {
  const content = new Map<string, Row[]>();
  for (const table of tablesOf(sqlite)) {
    const rows = sqlite.prepare(`SELECT * FROM "${table}"`).all() as Row[];
    content.set(table, rows.map((r) => JSON.stringify(r, Object.keys(r).sort())).sort().map((j) => JSON.parse(j) as Row));
  }
  return content;
}

/** A database as the pcloud before drizzle-kit left it after applying its first `version` migrations. */
function legacyDb(file: string, version: number): Database.Database {
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  for (const sql of legacyMigrations.slice(0, version)) {
    sqlite.transaction(() => {
      sqlite.exec(sql);
      sqlite.pragma(`user_version = ${(sqlite.pragma('user_version', { simple: true }) as number) + 1}`);
    })();
  }
  return sqlite;
}

/** Rows in every table, every column set, with values that survive only if copied exactly. */
function fillEveryColumn(sqlite: Database.Database): void {
  const tables = tablesOf(sqlite).sort((a, b) => Number(b === 'accounts') - Number(a === 'accounts')); // keys need their account
  for (const table of tables) {
    const columns = sqlite.pragma(`table_info("${table}")`) as { name: string; type: string }[];
    for (let n = 0; n < 3; n++) {
      const values = columns.map((c, i) => {
        if (c.name === 'account_id' || (table === 'accounts' && c.name === 'id')) return `123456789${n}`;
        if (c.type === 'INTEGER') return n * 1000 + i;
        return `${table}.${c.name} ${n} 'quoted' "double" ;{}$%\n\u00e9\u{1F600}`;
      });
      const names = columns.map((c) => `"${c.name}"`).join(', ');
      sqlite.prepare(`INSERT INTO "${table}" (${names}) VALUES (${columns.map(() => '?').join(', ')})`).run(...values);
    }
  }
}

const fresh = (() => {
  const db = openDb(newFile());
  const schema = schemaOf(db.$client);
  db.$client.close();
  return schema;
})();

describe('the migrations', () => {
  it('are what drizzle-kit makes of src/db/schema.ts today (else: npm run db:generate)', async () => {
    const out = join(base, 'generated');
    cpSync(migrationsFolder(), out, { recursive: true });
    const before = readdirSync(out, { recursive: true }).sort();
    const kit = join(projectRoot(), 'node_modules', '.bin', 'drizzle-kit');
    // drizzle-kit takes paths from where it runs only (an absolute one becomes .//tmp/...).
    const args = ['generate', `--dialect=${config.dialect}`, `--schema=${config.schema}`, `--out=${relative(projectRoot(), out)}`];
    const run = await execa(kit, args, {
      cwd: projectRoot(),
      reject: false,
      all: true,
    });
    expect(run.exitCode, run.all).toBe(0);
    expect(readdirSync(out, { recursive: true }).sort(), run.all).toEqual(before);
    expect(run.all).toContain('No schema changes');
  }, 60_000);

  it('make every table schema.ts declares, recorded in the journal, and opening again changes nothing', () => {
    const file = newFile();
    const db = openDb(file);
    expect(tablesOf(db.$client)).toEqual(declared);
    const applied = journalOf(db.$client);
    expect(applied).toHaveLength(migrationCount);
    db.$client.close();
    const again = openDb(file);
    expect(schemaOf(again.$client)).toEqual(fresh);
    expect(journalOf(again.$client)).toEqual(applied);
    again.$client.close();
  });

  it('refuse a database another pcloud migrated (a migration since rewritten), leaving it as it was', () => {
    const file = newFile();
    const db = openDb(file);
    // As a build whose last migration was later regenerated left it: that migration recorded under another hash.
    const last = db.$client.prepare(`SELECT max(created_at) AS at FROM ${JOURNAL}`).get() as { at: number };
    db.$client.prepare(`UPDATE ${JOURNAL} SET hash = ?, created_at = ? WHERE created_at = ?`).run('0'.repeat(64), last.at - 1000, last.at);
    const before = journalOf(db.$client);
    db.$client.close();
    expect(() => openDb(file)).toThrow(/a migration this pcloud does not know .*another pcloud.*new data dir/);
    const raw = new Database(file);
    expect(journalOf(raw)).toEqual(before);
    raw.close();
  });

  it('keep the foreign key from access keys to accounts', () => {
    const db = openDb(newFile());
    expect(() => db.$client.prepare('INSERT INTO access_keys (access_key_id, secret_access_key, account_id, created_at) VALUES (?, ?, ?, ?)').run('AKIA1', 's', '999', 1))
      .toThrow(/FOREIGN KEY/);
    db.$client.close();
  });
});

describe('a database made before drizzle-kit', () => {
  // The SQL those databases were made by (src/db/migrations.ts up to 24b4fa9) may never change: the tests below build
  // old databases from it, and the upgrade finishes them with it.
  it('is made by SQL that is frozen', () => {
    expect(createHash('sha256').update(JSON.stringify(legacyMigrations)).digest('hex'))
      .toBe('732be35230b92aad2fbf501254df7a1d75f6b175fb10984852fec5d8582f1ebe');
  });

  it('opens with every row of every table kept, in exactly a fresh database\'s schema', async () => {
    const file = newFile();
    const legacy = legacyDb(file, legacyMigrations.length);
    fillEveryColumn(legacy);
    const rows = contentOf(legacy);
    expect(rows.size).toBe(16);
    legacy.close();

    const db = openDb(file);
    expect(schemaOf(db.$client)).toEqual(fresh);
    // What later migrations add: new tables (empty), and new columns on the old rows at their defaults.
    const upgraded = new Map<string, Row[]>();
    for (const table of tablesOf(db.$client)) {
      const old = rows.get(table);
      if (!old) { upgraded.set(table, []); continue; }
      const added = defaultsOf(db.$client, table).filter(([name]) => !old.some((r) => Object.hasOwn(r, name)));
      upgraded.set(table, old.map((r) => { const all: Row = { ...r, ...Object.fromEntries(added) }; return JSON.parse(JSON.stringify(all, Object.keys(all).sort())) as Row; }));
    }
    const kept = new Map([...upgraded].sort(([a], [b]) => a.localeCompare(b)));
    expect(contentOf(db.$client)).toEqual(kept);
    expect(db.$client.pragma('foreign_keys', { simple: true })).toBe(1);
    expect((await db.select().from(accessKeys)).map((k) => k.accountId)).toEqual(['1234567890', '1234567891', '1234567892']);
    db.$client.close();

    const again = openDb(file);
    expect(schemaOf(again.$client)).toEqual(fresh);
    expect(contentOf(again.$client)).toEqual(kept);
    expect(journalOf(again.$client)).toHaveLength(migrationCount);
    again.$client.close();
  });

  it('opens from any of its versions, the old data migrations applied on the way', () => {
    for (let version = 1; version <= legacyMigrations.length; version++) {
      const file = newFile();
      const legacy = legacyDb(file, version);
      legacy.prepare('INSERT INTO accounts VALUES (?, ?)').run('123456789012', 1);
      legacy.prepare('INSERT INTO vpcs (id, account_id, cidr, is_default, created_at) VALUES (?, ?, ?, 1, 2)')
        .run('vpc-1', '123456789012', '172.31.0.0/16');
      legacy.prepare('INSERT INTO security_groups VALUES (?, ?, ?, ?, ?, 3)')
        .run('sg-1', '123456789012', 'vpc-1', 'default', 'default VPC security group');
      legacy.close();

      const db = openDb(file);
      expect(schemaOf(db.$client), `from version ${version}`).toEqual(fresh);
      const sqlite = db.$client;
      const vpc = sqlite.prepare('SELECT cidr, dns_hostnames FROM vpcs WHERE id = ?').get('vpc-1');
      const rules = sqlite.prepare('SELECT is_egress, protocol, cidr, ref_group_id FROM security_group_rules ORDER BY is_egress').all();
      const gateways = sqlite.prepare('SELECT vpc_id FROM internet_gateways').all();
      if (version < 3) {
        expect(rules).toEqual([
          { is_egress: 0, protocol: '-1', cidr: null, ref_group_id: 'sg-1' },
          { is_egress: 1, protocol: '-1', cidr: '0.0.0.0/0', ref_group_id: null },
        ]);
      } else expect(rules).toEqual([]);
      expect(gateways).toEqual(version < 4 ? [{ vpc_id: 'vpc-1' }] : []);
      expect(vpc).toEqual({ cidr: '172.31.0.0/16', dns_hostnames: version < 5 ? 1 : 0 });
      sqlite.close();
    }
  });

  it('is left as it was when a column has no place in the new schema', () => {
    const file = newFile();
    const legacy = legacyDb(file, legacyMigrations.length);
    fillEveryColumn(legacy);
    legacy.exec("ALTER TABLE tags ADD COLUMN note TEXT NOT NULL DEFAULT 'kept'");
    const schema = schemaOf(legacy);
    const rows = contentOf(legacy);
    legacy.close();

    expect(() => openDb(file)).toThrow(/no place for tags\.note/);
    const after = new Database(file);
    expect(schemaOf(after)).toEqual(schema);
    expect(contentOf(after)).toEqual(rows);
    expect(after.pragma('user_version', { simple: true })).toBe(legacyMigrations.length);
    after.close();
  });
});
