/**
 * The state database's kept statements (src/db/index.ts keepStatements): a query's statement is prepared once and
 * used again; one a caller turned raw (drizzle's values()) comes back in its default mode; only the most recently used
 * are kept; statements that return no rows are kept too.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { keepStatements } from '../../src/db/index.js';

describe('kept statements', () => {
  it('prepares a statement once, gives it back in its default mode, keeps the most recently used only', () => {
    const sqlite = new Database(':memory:');
    keepStatements(sqlite, 2);
    sqlite.exec('CREATE TABLE t (a INTEGER, b TEXT)');
    const insert = sqlite.prepare('INSERT INTO t VALUES (?, ?)');
    insert.run(1, 'one');
    expect(sqlite.prepare('INSERT INTO t VALUES (?, ?)')).toBe(insert);
    sqlite.prepare('INSERT INTO t VALUES (?, ?)').run(2, 'two');
    const select = sqlite.prepare('SELECT a, b FROM t ORDER BY a');
    expect(select.raw().all()).toEqual([[1, 'one'], [2, 'two']]);
    // Raw for the caller before; rows as objects for this one.
    expect(sqlite.prepare('SELECT a, b FROM t ORDER BY a').all()).toEqual([{ a: 1, b: 'one' }, { a: 2, b: 'two' }]);
    // A third statement: the least recently used (the insert) is let go, the select kept.
    sqlite.prepare('SELECT count(*) AS n FROM t');
    expect(sqlite.prepare('SELECT a, b FROM t ORDER BY a')).toBe(select);
    expect(sqlite.prepare('INSERT INTO t VALUES (?, ?)')).not.toBe(insert);
    sqlite.close();
  });
});
