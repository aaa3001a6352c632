/**
 * Events: what happened to instances, kept for their operator (`pcloud events`) and told to whoever listens in this
 * process (the launch metrics, src/metrics/launches.ts), the domain knowing nothing of them:
 *   - `state`: a state change (instances/context.ts' setState, the one write of a state): the new state as its code,
 *     the state before, and the reason (the instance's state reason);
 *   - `status`: a change of the instance status check (instances/lifecycle.ts' checkStatus: the guest's word on its
 *     boot, as health.ts reads it): `initializing`, `ok` or `impaired` as its code, the check before, and why;
 *   - `failure`: what failed, with its reason: `launch-failed` (a launch, or a start, that did not come up),
 *     `unit-failed` (a running instance's unit ended without being asked to, uncleanly), `host-lost` (its host lost it:
 *     launched again).
 * Bounded: the last MAX_PER_INSTANCE events of each instance are kept, and an instance's go with its record (the sweep
 * of terminated instances, instances/reconcile.ts): no tenant grows the table beyond its instances.
 *
 * Every event has a `seq`, taken under the database's write lock from one counter (generations' `events` row), so it
 * orders events across every server on the database: a follower asks for what came after the last it read.
 *
 * Listeners are told once the event is committed (never of one a rolled-back transaction wrote). They are told of
 * reconcile's actions too (what a start did to bring the host in line), which are counted, not recorded.
 */
import { and, asc, desc, eq, gt, gte, inArray, lte, sql } from 'drizzle-orm';
import { byChunks } from '../db/chunks.js';
import type { Db } from '../db/index.js';
import { afterCommit, write } from '../db/store.js';
import { events, generations } from '../db/tables.js';
import { log } from '../log.js';

export type EventKind = 'state' | 'status' | 'failure';
export type FailureCode = 'launch-failed' | 'unit-failed' | 'host-lost';

/** One recorded event, as `pcloud events` reads it. */
export interface InstanceEvent {
  seq: number;
  /** ms since the epoch. */
  time: number;
  accountId: string;
  instanceId: string;
  kind: EventKind;
  code: string;
  previous: string | null;
  message: string;
}

/** What listeners are told: the event, and the runtime of its instance (what the launch metrics count by). */
export interface ToldEvent extends InstanceEvent {
  runtime: string;
}

/** The instance an event is of. */
export interface EventSubject {
  id: string;
  accountId: string;
  runtime: string;
}

/** An event to record: its kind, code, the state or check before (where known) and its reason. */
export interface NewEvent {
  kind: EventKind;
  code: string;
  previous?: string | null;
  message?: string;
}

/** How many events of one instance are kept (the oldest go first). */
export const MAX_PER_INSTANCE = 100;
/** The longest reason kept (state reasons are 500 at most). */
const MAX_MESSAGE = 1000;
const COUNTER = 'events';

export class Events {
  private readonly listeners = new Set<(e: ToldEvent) => void>();
  private readonly reconcileListeners = new Set<(stats: Readonly<Record<string, number>>) => void>();

  constructor(private readonly db: Db) {}

  /**
   * Record events of instances (in the caller's transaction where there is one: they commit with what they tell of).
   * `fresh`: the instances were made in this transaction, so none of them has events to prune.
   */
  async record(items: { of: EventSubject; event: NewEvent }[], opts: { fresh?: boolean } = {}): Promise<void> {
    if (!items.length) return;
    const time = Date.now();
    const told = await write(this.db, async () => {
      const last = await this.take(items.length);
      const rows: InstanceEvent[] = items.map(({ of, event }, i) => ({
        seq: last - items.length + 1 + i, time, accountId: of.accountId, instanceId: of.id, kind: event.kind, code: event.code,
        previous: event.previous ?? null, message: (event.message ?? '').slice(0, MAX_MESSAGE),
      }));
      await this.db.insert(events).values(rows);
      if (!opts.fresh) for (const id of new Set(rows.map((r) => r.instanceId))) await this.prune(id);
      return rows.map((r, i) => ({ ...r, runtime: items[i]!.of.runtime }));
    });
    afterCommit(this.db, () => {
      for (const e of told) this.tell(e);
    });
  }

  /** One event of one instance. */
  async recordOne(of: EventSubject, event: NewEvent): Promise<void> {
    await this.record([{ of, event }]);
  }

  /** The last `n` numbers of the counter, taken (in the caller's write): the last one's value. */
  private async take(n: number): Promise<number> {
    const [row] = await this.db.insert(generations).values({ name: COUNTER, value: n })
      .onConflictDoUpdate({ target: generations.name, set: { value: sql`${generations.value} + ${n}` } })
      .returning({ value: generations.value });
    return row!.value;
  }

  /** Only the last MAX_PER_INSTANCE events of the instance are kept. */
  private async prune(instanceId: string): Promise<void> {
    const [cut] = await this.db.select({ seq: events.seq }).from(events).where(eq(events.instanceId, instanceId))
      .orderBy(desc(events.seq)).limit(1).offset(MAX_PER_INSTANCE);
    if (cut) await this.db.delete(events).where(and(eq(events.instanceId, instanceId), lte(events.seq, cut.seq)));
  }

  /**
   * The instance status check recorded since the instance's last state change (its latest event of either kind, if
   * that is a status event), or undefined: none recorded since it changed state.
   */
  async lastCheck(instanceId: string): Promise<string | undefined> {
    const [row] = await this.db.select({ kind: events.kind, code: events.code }).from(events)
      .where(and(eq(events.instanceId, instanceId), inArray(events.kind, ['state', 'status'])))
      .orderBy(desc(events.seq)).limit(1);
    return row?.kind === 'status' ? row.code : undefined;
  }

  /**
   * Events in the order they happened: those after `after` (a seq: what a follower has not read), or at or after
   * `since` (ms), or else the last `limit`; of one instance if asked. At most `limit` (the first ones, or the last).
   */
  async list(q: { instanceId?: string; since?: number; after?: number; limit?: number } = {}): Promise<InstanceEvent[]> {
    const limit = Math.min(Math.max(1, q.limit ?? 100), 10_000);
    const conds = [
      q.instanceId === undefined ? undefined : eq(events.instanceId, q.instanceId),
      q.after === undefined ? undefined : gt(events.seq, q.after),
      q.since === undefined ? undefined : gte(events.time, q.since),
    ].filter((c) => c !== undefined);
    const where = conds.length ? and(...conds) : undefined;
    const forward = q.after !== undefined || q.since !== undefined;
    const rows = await this.db.select().from(events).where(where)
      .orderBy(forward ? asc(events.seq) : desc(events.seq)).limit(limit);
    const list = rows.map((r) => ({ ...r, kind: r.kind as EventKind }));
    return forward ? list : list.reverse();
  }

  /** The newest event's seq (0: none): a follower that wants only what comes next starts after it. */
  async lastSeq(): Promise<number> {
    const [row] = await this.db.select({ seq: events.seq }).from(events).orderBy(desc(events.seq)).limit(1);
    return row?.seq ?? 0;
  }

  /** Forget the events of instances no longer listed (in the caller's transaction where there is one). */
  async forget(instanceIds: string[]): Promise<void> {
    await byChunks(instanceIds, async (chunk) => {
      await this.db.delete(events).where(inArray(events.instanceId, chunk));
      return [];
    });
  }

  /** Be told of every event recorded from now on (in this process); returns the way to stop. */
  on(listener: (e: ToldEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Be told what reconcile did at a start, by what it did (ReconcileStats' and the cloud's keys) and how often. */
  onReconcile(listener: (stats: Readonly<Record<string, number>>) => void): () => void {
    this.reconcileListeners.add(listener);
    return () => this.reconcileListeners.delete(listener);
  }

  /** Reconcile's actions at a start (Cloud.start). */
  reconciled(stats: Readonly<Record<string, number>>): void {
    for (const l of this.reconcileListeners) {
      try {
        l(stats);
      } catch (err) {
        log.warn(`an events listener failed: ${(err as Error).message}`);
      }
    }
  }

  private tell(e: ToldEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        log.warn(`an events listener failed: ${(err as Error).message}`);
      }
    }
  }
}
