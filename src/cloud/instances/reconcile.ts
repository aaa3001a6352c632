/**
 * After a restart or a crash: the database and the host brought back in line (reconcile), and terminated instances
 * forgotten once their TTL is over (sweep).
 */
import { and, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import { instances } from '../../db/schema.js';
import { isFinal } from '../../host/units/types.js';
import { log } from '../../log.js';
import type { InstanceContext } from './context.js';
import type { Launcher } from './launch.js';
import type { Lifecycle } from './lifecycle.js';
import { TPM_PREFIX, UNIT_PREFIX } from './types.js';

/** What reconcile did (a type, not an interface: the cloud adds it to its own tally of counts). */
export type ReconcileStats = { relaunched: number; ended: number; orphans: number; skipped: number };

export interface ReconcileOptions {
  /** The host booted since the last start (hosts/registry.ts): every unit of the last boot is gone. */
  rebooted?: boolean;
}

export class Reconciler {
  constructor(private readonly ctx: InstanceContext, private readonly lifecycle: Lifecycle, private readonly launcher: Launcher) {}

  /**
   * Finish or roll back what was under way, notice units that ended while nobody watched, and remove disks and units no
   * instance owns. An instance (or a host object) that cannot be brought in line is reported and skipped: the server
   * starts whatever the database holds.
   */
  async reconcile(opts: ReconcileOptions = {}): Promise<ReconcileStats> {
    const { db, host } = this.ctx;
    if (opts.rebooted) log.info('the host booted since the last start: its instances\' units went with it');
    const stats = { relaunched: 0, ended: 0, orphans: 0, skipped: 0 };
    // Ids first (plain columns): a record whose other columns cannot be read is skipped on its own.
    const liveIds = new Set(db.select({ id: instances.id }).from(instances).where(ne(instances.state, 'terminated')).all().map((r) => r.id));
    const skip = (what: string, err: unknown) => {
      stats.skipped++;
      log.error(`reconcile: ${what} skipped: ${(err as Error).message}`);
    };
    await Promise.all([...liveIds].map((id) => this.ctx.serial(id, async () => {
      try {
        await this.reconcileOne(id, stats);
      } catch (err) {
        skip(`instance ${id}`, err);
      }
    })));
    const holding = new Set(db.select({ id: instances.id }).from(instances)
      .where(inArray(instances.state, ['pending', 'running'])).all().map((r) => r.id));
    const each = async <T>(items: T[], name: (item: T) => string, fn: (item: T) => Promise<void>) => {
      for (const item of items) await fn(item).catch((err) => skip(name(item), err));
    };
    await each(await host.units.list(TPM_PREFIX), (st) => `unit ${st.name}`, async (st) => {
      // A TPM whose VM is gone (stopped or terminated while nobody watched).
      if (holding.has(st.name.slice(TPM_PREFIX.length)) && !isFinal(st.state)) return;
      if (!isFinal(st.state)) stats.orphans++;
      await host.units.stop(st.name);
      await host.units.remove(st.name);
    });
    // Units of instances terminated or unknown here (this data dir's units only: the manager lists no other's).
    await each(await host.units.list(UNIT_PREFIX), (st) => `unit ${st.name}`, async (st) => {
      if (liveIds.has(st.name.slice(UNIT_PREFIX.length))) return;
      stats.orphans++;
      await host.units.stop(st.name);
      await host.units.remove(st.name);
    });
    await each(await host.pool.listDisks(), (id) => `disk ${id}`, async (id) => {
      if (liveIds.has(id)) return;
      stats.orphans++;
      await host.pool.removeDisk(id);
    });
    // Network namespaces of instances that no longer run (terminated, stopped, or never finished launching).
    await each(await host.network.namespaces(), (ns) => `namespace ${ns}`, async (ns) => {
      const id = ns.slice('pcloud-'.length);
      if (!id.startsWith('i-') || holding.has(id)) return;
      stats.orphans++;
      await host.network.detach(id);
    });
    return stats;
  }

  /** One instance after a restart (under its lock): its record against its unit. */
  private async reconcileOne(id: string, stats: { relaunched: number; ended: number }): Promise<void> {
    const { host } = this.ctx;
    const inst = this.ctx.row(id);
    if (!inst) return;
    const st = await host.units.status(UNIT_PREFIX + id);
    const up = st && !isFinal(st.state);
    switch (inst.state) {
      case 'pending':
        if (st?.state === 'active') this.ctx.setState(id, 'running', { stateReasonCode: null, stateReasonMessage: null });
        else if (!up) {
          // Interrupted mid-launch: every launch step is idempotent, so it is launched again (queued behind this).
          if (st) await host.units.remove(UNIT_PREFIX + id);
          stats.relaunched++;
          this.launcher.queue(id);
        }
        break;
      case 'running':
        if (!up) {
          stats.ended++;
          await this.lifecycle.ended(inst, st ?? { name: UNIT_PREFIX + id, state: 'failed', result: 'unit-missing' });
        }
        break;
      case 'stopping':
        await this.lifecycle.finishStop(id);
        break;
      case 'shutting-down':
        await this.lifecycle.finishTerminate(id);
        break;
      case 'stopped':
        if (up) await host.units.stop(UNIT_PREFIX + id);
        break;
    }
  }

  /** Forget terminated instances older than the TTL (AWS keeps them visible for about an hour). */
  sweep(): number {
    const { db, tags, config } = this.ctx;
    const cutoff = Date.now() - config.terminatedTtlMs;
    const old = db.select({ id: instances.id, vol: instances.rootVolumeId, eni: instances.networkInterfaceId })
      .from(instances).where(and(eq(instances.state, 'terminated'), lt(instances.terminatedAt, cutoff))).all();
    if (!old.length) return 0;
    db.transaction(() => {
      tags.removeAll(old.flatMap((o) => [o.id, o.vol, o.eni]));
      db.delete(instances).where(inArray(instances.id, old.map((o) => o.id))).run();
      db.run(sql`DELETE FROM reservations WHERE id NOT IN (SELECT reservation_id FROM instances)`);
    });
    return old.length;
  }
}
