/**
 * The schema on PostgreSQL comes from its one definition (src/db/schema.ts): src/db/pg/schema.ts must be exactly what
 * the generator (src/db/pg/generate.ts, `npm run db:pg`) writes now, its migrations exactly what drizzle-kit makes of
 * it, and it must declare the same tables, columns, keys and indexes. (The catalogues of both dialects, migrated for
 * real, are compared in pg-parity.test.ts.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { is, type Column } from 'drizzle-orm';
import { blob, getTableConfig as sqliteConfig, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { getTableConfig as pgConfig, PgTable } from 'drizzle-orm/pg-core';
import { pgSchemaPath, renderPgSchema, sqliteTables, typeClassOf } from '../../src/db/pg/generate.js';
import { pgMigrationsFolder } from '../../src/db/pg/open.js';
import * as pgSchema from '../../src/db/pg/schema.js';
import config from '../../src/db/pg/drizzle.config.js';
import { projectRoot } from '../../src/paths.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-pg-schema-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** What a table declares, dialect aside: columns (name, nullability, default), keys, indexes, foreign keys. */
function shapeOf(c: ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>) {
  const names = (cols: Column[]) => cols.map((col) => col.name);
  return {
    name: c.name,
    columns: (c.columns as Column[]).map((col) => [col.name, col.notNull, col.primary, col.hasDefault ? col.default : undefined]),
    primaryKeys: c.primaryKeys.map((pk) => names(pk.columns as Column[])),
    indexes: c.indexes.map((i) => [i.config.name, i.config.unique, names(i.config.columns as Column[])]).sort(),
    foreignKeys: c.foreignKeys.map((fk) => {
      const r = fk.reference();
      return [fk.getName(), names(r.columns), names(r.foreignColumns), fk.onDelete ?? 'no action', fk.onUpdate ?? 'no action'];
    }),
  };
}

describe('the PostgreSQL schema', () => {
  it('is exactly what the generator makes of src/db/schema.ts now (else: npm run db:pg)', () => {
    expect(readFileSync(pgSchemaPath(), 'utf8')).toBe(renderPgSchema());
  });

  it('declares every table of src/db/schema.ts, with the same columns, keys, indexes and foreign keys', () => {
    const pgTables = Object.values(pgSchema).filter((t) => is(t, PgTable)).map((t) => shapeOf(pgConfig(t)));
    const sqlite = sqliteTables().map(([, t]) => shapeOf(sqliteConfig(t)));
    expect(pgTables.map((t) => t.name).sort()).toEqual(sqlite.map((t) => t.name).sort());
    expect(sqlite.length).toBeGreaterThan(30);
    for (const table of sqlite) expect(pgTables.find((t) => t.name === table.name)).toEqual(table);
  });

  it('has PostgreSQL migrations that are what drizzle-kit makes of it today (else: npm run db:generate)', async () => {
    const out = join(base, 'generated');
    cpSync(pgMigrationsFolder(), out, { recursive: true });
    const before = readdirSync(out, { recursive: true }).sort();
    const kit = join(projectRoot(), 'node_modules', '.bin', 'drizzle-kit');
    // drizzle-kit takes paths from where it runs only (an absolute one becomes .//tmp/...).
    const args = ['generate', `--dialect=${config.dialect}`, `--schema=${config.schema}`, `--out=${relative(projectRoot(), out)}`];
    const run = await execa(kit, args, { cwd: projectRoot(), reject: false, all: true });
    expect(run.exitCode, run.all).toBe(0);
    expect(readdirSync(out, { recursive: true }).sort(), run.all).toEqual(before);
    expect(run.all).toContain('No schema changes');
  }, 60_000);

  it('maps each kind of column, and refuses one it has no mapping for, saying where to add it', () => {
    const t = sqliteTable('t', {
      a: text('a'), j: text('j', { mode: 'json' }), i: integer('i'), b: integer('b', { mode: 'boolean' }),
      ts: integer('ts', { mode: 'timestamp_ms' }), bytes: blob('bytes', { mode: 'buffer' }), raw: blob('raw', { mode: 'json' }),
    });
    const [a, j, i, b, ts, bytes, raw] = sqliteConfig(t).columns;
    expect([a, j, i, b, ts, bytes].map((c) => typeClassOf(c!))).toEqual(['text', 'json', 'integer', 'boolean', 'timestamp', 'bytes']);
    expect(() => typeClassOf(raw!)).toThrow(/column raw: SQLiteBlob\w* has no PostgreSQL mapping yet \(src\/db\/pg\/generate\.ts\)/);
  });
});
