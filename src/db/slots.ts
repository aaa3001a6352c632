/**
 * Counted slots every server on one state database shares (issue 17): at most `limit` holders of a key at once, across
 * all of them (a function's reserved concurrency). On PostgreSQL a slot is a session-level advisory lock (keys: 32 bits
 * of the key's hash, then 16 more with the slot's number in the low 16) held on one connection of the pool kept for
 * them: a server that dies, or loses that connection, lets go of its slots with it, so none stays taken by a server
 * that is gone. A session takes a lock it holds again (they stack), so the server skips the slots it holds itself, its
 * takes one at a time. On SQLite (one file, one server) they are counted in memory.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { log } from '../log.js';
import type { Db } from './index.js';
import { dialect } from './tables.js';

/** How long a release waits for its unlock before it resolves anyway. */
const UNLOCK_WAIT_MS = 2_000;

/** The most slots one key has (the low 16 bits of the lock's second key). */
export const MAX_SLOTS = 65_536;

/**
 * What lets a slot go (once, however often called): it resolves once the slot is free for every server (a request
 * answered after it, then sent to another server, finds it free), or after a bounded wait for a database that does not
 * answer. It never rejects.
 */
export type Release = () => Promise<void>;

export interface Slots {
  /** One of `limit` slots of `key`, or undefined when every one is held; resolves to what lets it go. */
  take(key: string, limit: number): Promise<Release | undefined>;
  close(): Promise<void>;
}

/** The slots of the database this process runs on. */
export function slotsOf(db: Db): Slots {
  return dialect === 'pg' ? new PgSlots(db.$client as unknown as pg.Pool) : new MemorySlots();
}

/** Once: a release called again (an invoke's end seen twice) lets go of nothing more (and waits on the first). */
function once(fn: () => Promise<void>): Release {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

export class MemorySlots implements Slots {
  private readonly held = new Map<string, number>();

  take(key: string, limit: number): Promise<Release | undefined> {
    const n = this.held.get(key) ?? 0;
    if (n >= limit) return Promise.resolve(undefined);
    this.held.set(key, n + 1);
    return Promise.resolve(once(() => {
      const left = (this.held.get(key) ?? 1) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
      return Promise.resolve();
    }));
  }

  async close(): Promise<void> {}
}

/** A key's two lock keys: 32 bits of its hash, and 16 more above the slot's 16 (both as PostgreSQL's int4). */
function lockKeys(key: string): [number, number] {
  const h = createHash('sha256').update(key).digest();
  return [h.readInt32BE(0), h.readInt16BE(4) * MAX_SLOTS];
}

class PgSlots implements Slots {
  /** The connection holding this server's slots (made on first use, again after it was lost). */
  private client?: Promise<pg.PoolClient>;
  private closed = false;
  /** The slots this server holds, by key, on the connection it took them on. */
  private readonly held = new Map<string, Set<number>>();
  /** The last take asked for: the next one starts after it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly pool: pg.Pool) {}

  private connection(): Promise<pg.PoolClient> {
    if (this.client) return this.client;
    const made: Promise<pg.PoolClient> = this.pool.connect().then((c) => {
      const lost = (err?: Error): void => {
        if (this.client !== made) return;
        this.client = undefined;
        this.held.clear();
        c.removeAllListeners('error');
        c.release(err ?? true);
        if (!this.closed) log.warn(`the connection holding this server's concurrency slots was lost${err ? ` (${err.message})` : ''}: they are free for others`);
      };
      c.on('error', lost);
      c.on('end', () => lost());
      return c;
    });
    made.catch(() => { if (this.client === made) this.client = undefined; });
    this.client = made;
    return made;
  }

  take(key: string, limit: number): Promise<Release | undefined> {
    // Every slot of the key held here already: refused at once, not after the takes queued before it (one busy key
    // never slows another's).
    if ((this.held.get(key)?.size ?? 0) >= Math.min(limit, MAX_SLOTS)) return Promise.resolve(undefined);
    const taken = this.queue.then(() => this.takeNow(key, limit));
    this.queue = taken.catch(() => undefined);
    return taken;
  }

  private async takeNow(key: string, limit: number): Promise<Release | undefined> {
    const n = Math.min(limit, MAX_SLOTS);
    if (this.closed || n < 1) return undefined;
    const [k1, base] = lockKeys(key);
    const mine = this.connection();
    const c = await mine;
    const own = this.held.get(key) ?? new Set<number>();
    if (own.size >= n) return undefined;
    // The first slot free (not this server's, not another's), in order (LIMIT 1: none tried after one is taken).
    const { rows } = await c.query<{ s: number }>(
      'SELECT s FROM generate_series(0, $3::int - 1) AS s WHERE NOT s = ANY($4::int[]) AND pg_try_advisory_lock($1::int, $2::int + s) LIMIT 1',
      [k1, base, n, [...own]]);
    const slot = rows[0]?.s;
    if (slot === undefined || this.client !== mine) return undefined;
    own.add(slot);
    this.held.set(key, own);
    return once(async () => {
      // A lost connection let go of it already.
      if (this.client !== mine) return;
      own.delete(slot);
      if (!own.size && this.held.get(key) === own) this.held.delete(key);
      // (A failed unlock: the connection is going, and its locks with it.) Waited for a while at most: an answer is not
      // held back long by a database that does not answer (the unlock goes on behind it).
      const unlocked = c.query('SELECT pg_advisory_unlock($1::int, $2::int)', [k1, base + slot])
        .then(() => undefined, (err: Error) => log.warn(`letting go of a concurrency slot: ${err.message}`));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([unlocked, new Promise<void>((r) => { timer = setTimeout(r, UNLOCK_WAIT_MS).unref(); })]);
      clearTimeout(timer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const made = this.client;
    this.client = undefined;
    const c = await made?.catch(() => undefined);
    if (!c) return;
    c.removeAllListeners();
    await c.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    c.release();
  }
}
