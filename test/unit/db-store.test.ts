/**
 * write() (src/db/store.ts): the domain's transactions, async. One at a time per connection even though they span
 * awaits; a write() inside another joins it; a failure rolls back everything it wrote; another connection cannot take
 * the write lock while one is open. And the domain has no other way in: no synchronous drizzle call, no transaction of
 * its own, anywhere in src/cloud (they would not run on PostgreSQL, whose driver is async only).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/db/index.js';
import { keyPairs } from '../../src/db/schema.js';
import { write } from '../../src/db/store.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-store-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const pair = (name: string) => ({
  id: `key-${name}`, accountId: '111111111111', name, keyType: 'ed25519', fingerprint: 'f', publicKey: 'k', createdAt: 0,
});
const names = async (db: Db) => (await db.select({ name: keyPairs.name }).from(keyPairs).orderBy(keyPairs.name)).map((r) => r.name);
/** A turn of the event loop: what another request would get between two awaits. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('write()', () => {
  it('commits what it wrote and resolves with its result; a throw rolls back all of it, nested writes included', async () => {
    const db = openDb(':memory:');
    expect(await write(db, async (tx) => { await tx.insert(keyPairs).values(pair('a')); return 'done'; })).toBe('done');
    await expect(write(db, async (tx) => {
      await tx.insert(keyPairs).values(pair('b'));
      await write(db, async (inner) => { await inner.insert(keyPairs).values(pair('c')); });
      await turn();
      throw new Error('changed its mind');
    })).rejects.toThrow('changed its mind');
    expect(await names(db)).toEqual(['a']);
    expect(db.$client.inTransaction).toBe(false);
  });

  it('runs transactions on one connection one after the other, though each waits in between', async () => {
    const db = openDb(':memory:');
    const seen: string[] = [];
    const one = (name: string) => write(db, async (tx) => {
      seen.push(`begin ${name}`);
      const before = (await names(tx)).length;
      await turn();
      await tx.insert(keyPairs).values(pair(name));
      seen.push(`end ${name} after ${before}`);
    });
    await Promise.all([one('a'), one('b'), one('c')]);
    expect(seen).toEqual(['begin a', 'end a after 0', 'begin b', 'end b after 1', 'begin c', 'end c after 2']);
    expect(await names(db)).toEqual(['a', 'b', 'c']);
  });

  it('a failed transaction does not stop the next one', async () => {
    const db = openDb(':memory:');
    const failing = write(db, async (tx) => { await tx.insert(keyPairs).values(pair('x')); await turn(); throw new Error('no'); });
    const next = write(db, async (tx) => { await tx.insert(keyPairs).values(pair('y')); });
    await expect(failing).rejects.toThrow('no');
    await next;
    expect(await names(db)).toEqual(['y']);
  });

  it('a lone change outside any write() waits for the open one, and is not rolled back with it', async () => {
    const db = openDb(':memory:');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const failing = write(db, async (tx) => {
      await tx.insert(keyPairs).values(pair('in-tx'));
      await gate;
      throw new Error('changed its mind');
    });
    await turn();
    // Another request's lone insert, while that transaction is open: it waits its turn.
    const lone = db.insert(keyPairs).values(pair('lone')).then(() => 'inserted');
    await turn();
    release();
    await expect(failing).rejects.toThrow('changed its mind');
    expect(await lone).toBe('inserted');
    expect(await names(db)).toEqual(['lone']);
  });

  it('work a transaction started that writes after it ended takes a transaction of its own', async () => {
    const db = openDb(':memory:');
    const begun: string[] = [];
    const exec = db.$client.exec.bind(db.$client);
    db.$client.exec = (source: string) => { if (/^BEGIN/.test(source)) begun.push(source); return exec(source); };
    let later: Promise<void> | undefined;
    await write(db, async (tx) => {
      await tx.insert(keyPairs).values(pair('now'));
      later = (async () => {
        await turn();
        await write(db, async (inner) => { await inner.insert(keyPairs).values(pair('later')); });
      })();
    });
    await later;
    expect(begun).toEqual(['BEGIN IMMEDIATE', 'BEGIN IMMEDIATE']);
    expect(await names(db)).toEqual(['later', 'now']);
  });

  it('holds the write lock from its first statement: another connection on the file cannot write until it ends', async () => {
    const file = join(base, 'lock.db');
    const a = openDb(file);
    const b = openDb(file);
    b.$client.pragma('busy_timeout = 0');
    await write(a, async (tx) => {
      expect(() => b.$client.exec('BEGIN IMMEDIATE')).toThrow(/locked|busy/i);
      await tx.update(keyPairs).set({ name: 'n' }).where(eq(keyPairs.id, 'none'));
    });
    b.$client.exec('BEGIN IMMEDIATE');
    b.$client.exec('ROLLBACK');
    a.$client.close();
    b.$client.close();
  });
});

describe('the domain reaches the database only as write() and awaited queries', () => {
  const root = fileURLToPath(new URL('../../src/cloud', import.meta.url));
  const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });

  it('has no synchronous drizzle call (.all(), .get(), .run()) and no transaction but write()', () => {
    const offending = files(root).flatMap((f) => readFileSync(f, 'utf8').split('\n')
      .map((line, i) => ({ where: `${f.slice(root.length + 1)}:${i + 1}`, line }))
      .filter(({ line }) => /\.(all|get|run)\(\)|\.transaction\(/.test(line)));
    expect(offending).toEqual([]);
  });
});
