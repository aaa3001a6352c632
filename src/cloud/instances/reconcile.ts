/**
 * After a restart or a crash: the database and the host brought back in line (reconcile), and terminated instances
 * forgotten once their TTL is over (sweep).
 *
 * A running instance whose unit is not up any more was either ended by its guest (it shut itself down: stopped or
 * terminated per its shutdown behaviour, as on EC2) or lost by the host (brought back, as EC2 brings back every
 * instance after host maintenance: launched again as StartInstances launches, pending then running, with its disk,
 * addresses and volumes). Which one, from what the unit managers can tell:
 *   - the host booted since the last start (ReconcileOptions.rebooted): lost, whatever the manager still says. A boot
 *     takes every unit with it; a record left of one (the direct manager keeps its units' state in the data dir) says
 *     only how the shutdown took it.
 *   - the direct manager's `supervisor-died`: lost. The unit's supervisor was killed (SIGKILL, the OOM killer) and
 *     took the guest with it; a guest that ends itself has its end recorded by its supervisor.
 *   - a unit missing in the same boot: ended by its guest. systemd collects a transient unit that ended cleanly (and
 *     keeps a failed one); the direct manager keeps every unit's record until it is removed. So a unit gone without a
 *     reboot is a guest's clean shutdown, never a host's loss (the systemd manager reads a watched unit's
 *     disappearance the same way).
 *   - any other end (failed, inactive): ended by its guest or its program, per its shutdown behaviour.
 */
import { and, eq, inArray, isNull, lt, ne, notInArray, or } from 'drizzle-orm';
import { instances, reservations } from '../../db/tables.js';
import { isFinal, type UnitStatus } from '../../host/units/types.js';
import { log } from '../../log.js';
import type { InstanceContext } from './context.js';
import type { Launcher } from './launch.js';
import type { Lifecycle } from './lifecycle.js';
import { TPM_PREFIX, UNIT_PREFIX } from './types.js';
import { write } from '../../db/store.js';
import { removedHosts } from '../hosts/operate.js';

/** What reconcile did (a type, not an interface: the cloud adds it to its own tally of counts). */
export type ReconcileStats = { relaunched: number; ended: number; finished: number; resumed: number; orphans: number; skipped: number };

export interface ReconcileOptions {
  /** The host booted since the last start (hosts/registry.ts): every unit of the last boot is gone. */
  rebooted?: boolean;
  /**
   * Launches reconcile makes (instances the host lost, launches a restart interrupted), and the stops and terminations
   * a restart interrupted, go on once this resolves: Cloud.start's until the VPC plane has swept routers and host
   * links, a sweep the routers and links of launches under way would race. Without it, at once. The server serves
   * meanwhile: twenty containers shutting down do not keep its API away.
   */
  launchesAfter?: Promise<unknown>;
  /**
   * This host's id (hosts/registry.ts): instances placed on another host (several servers on one database) are that
   * host's to bring back or to end, never this one's (their units are not here: read as ended, they would be stopped
   * under the host running them). Instances with no host are the embedded cloud's one host's: this one's.
   */
  hostId?: string;
}

/** What reconcile leaves to do once the caller says (ReconcileOptions.launchesAfter). */
interface Todo {
  relaunch: { id: string; again: boolean }[];
  finish: { id: string; end: 'stop' | 'terminate' }[];
}

/** A unit status that says its host lost the unit (its supervisor killed), not that its guest ended it. */
const lostByHost = (st: UnitStatus | undefined) => st?.result === 'supervisor-died';

export class Reconciler {
  constructor(private readonly ctx: InstanceContext, private readonly lifecycle: Lifecycle, private readonly launcher: Launcher) {}

  /**
   * Finish or roll back what was under way, notice units that ended while nobody watched, and remove disks and units no
   * instance owns. An instance (or a host object) that cannot be brought in line is reported and skipped: the server
   * starts whatever the database holds.
   */
  async reconcile(opts: ReconcileOptions = {}): Promise<ReconcileStats> {
    const todo: Todo = { relaunch: [], finish: [] };
    try {
      return await this.reconcileHost(opts, todo);
    } finally {
      // Unit events held since listen() go on; the launches and the ends of stops and terminations follow once the
      // caller says (they show pending, stopping or shutting-down already), each under its instance's lock.
      this.lifecycle.reconcileDone();
      void (opts.launchesAfter ?? Promise.resolve()).catch(() => undefined).then(() => {
        for (const { id, again } of todo.relaunch) this.launcher.queue(id, { again });
        for (const { id, end } of todo.finish) {
          this.lifecycle.end(id, null, end === 'stop' ? 'force-stop' : 'terminate');
        }
      });
    }
  }

  private async reconcileHost(opts: ReconcileOptions, todo: Todo): Promise<ReconcileStats> {
    const { db, host } = this.ctx;
    if (opts.rebooted) log.info('the host booted since the last start: its running instances are launched again');
    const stats = { relaunched: 0, ended: 0, finished: 0, resumed: 0, orphans: 0, skipped: 0 };
    // Ids first (plain columns): a record whose other columns cannot be read is skipped on its own.
    // A removed host's instances are no host's: what this machine holds of them (it was that host, and joined anew) goes.
    const removed = [...await removedHosts(db)];
    const liveIds = new Set((await db.select({ id: instances.id }).from(instances)
      .where(and(ne(instances.state, 'terminated'), removed.length ? or(isNull(instances.hostId), notInArray(instances.hostId, removed)) : undefined))).map((r) => r.id));
    // The instances this host runs (the others' disks and units are still not orphans here: liveIds).
    const here = opts.hostId === undefined ? liveIds : new Set((await db.select({ id: instances.id }).from(instances)
      .where(and(ne(instances.state, 'terminated'), or(isNull(instances.hostId), eq(instances.hostId, opts.hostId))))).map((r) => r.id));
    const skip = (what: string, err: unknown) => {
      stats.skipped++;
      log.error(`reconcile: ${what} skipped: ${(err as Error).message}`);
    };
    await Promise.all([...here].map((id) => this.ctx.serial(id, async () => {
      try {
        const next = await this.reconcileOne(id, opts, stats);
        if (next === 'launch' || next === 'again') todo.relaunch.push({ id, again: next === 'again' });
        else if (next) todo.finish.push({ id, end: next });
      } catch (err) {
        skip(`instance ${id}`, err);
      }
    })));
    // What an instance holds on the host is its own while it runs, and while the end of its stop or termination,
    // queued above, takes it down.
    const holding = new Set((await db.select({ id: instances.id }).from(instances)
      .where(inArray(instances.state, ['pending', 'running', 'stopping', 'shutting-down']))).map((r) => r.id));
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

  /**
   * One instance after a restart (under its lock): its record against its unit. Returns whether it is to be launched
   * ('launch': a launch a restart interrupted; 'again': one that ran, whose disk is the tenant's): it shows pending
   * already, its unit of before forgotten (so no late event of that unit reads as the launch's failure); or whether
   * its stop or termination is to be finished ('stop', 'terminate').
   */
  private async reconcileOne(id: string, opts: ReconcileOptions, stats: ReconcileStats): Promise<'launch' | 'again' | 'stop' | 'terminate' | undefined> {
    const { host } = this.ctx;
    const inst = await this.ctx.row(id);
    if (!inst) return undefined;
    const name = UNIT_PREFIX + id;
    const st = await host.units.status(name);
    const up = st && !isFinal(st.state);
    switch (inst.state) {
      case 'pending':
        if (st?.state === 'active') {
          // It came up while nobody watched.
          stats.resumed++;
          await this.ctx.setState(id, 'running', { stateReasonCode: null, stateReasonMessage: null });
          await this.lifecycle.checkStatus({ ...inst, state: 'running' }, st);
        } else if (up) {
          // Starting still: its end, if it comes, is the launch's failure.
          this.launcher.watchReadiness(id);
        } else {
          // Interrupted mid-launch: every launch step is idempotent, so it is launched again.
          if (st) await host.units.remove(name);
          stats.relaunched++;
          return 'launch';
        }
        break;
      case 'running':
        if (up) {
          // What its guest said of its boot while nobody watched.
          await this.lifecycle.checkStatus(inst, st);
          break;
        }
        if (opts.rebooted || lostByHost(st)) {
          // The host lost it (module comment): back as StartInstances brings a stopped one, nothing asked of its
          // account's limits (it held its room all along).
          log.info(`${id} was running when its host ${opts.rebooted ? 'went down' : 'lost its unit'}: launching it again`);
          if (st) await host.units.remove(name);
          const why = `Server.InternalError: its host ${opts.rebooted ? 'restarted' : 'lost it'} while it ran; it is launched again, with its disk`;
          await this.ctx.failure(id, 'host-lost', why);
          await this.ctx.setState(id, 'pending', { stateReasonCode: 'pending', stateReasonMessage: 'pending', stateTransitionReason: '' }, why);
          stats.relaunched++;
          return 'again';
        }
        stats.ended++;
        // Missing in the same boot: collected after a clean end (module comment).
        await this.lifecycle.ended(inst, st ?? { name, state: 'inactive', result: 'success' });
        break;
      case 'stopping':
        stats.finished++;
        return 'stop';
      case 'shutting-down':
        stats.finished++;
        return 'terminate';
      case 'stopped':
        if (up) await host.units.stop(name);
        break;
    }
    return undefined;
  }

  /**
   * What the database asks of this host's instances now (issue 17's agent, woken by another server's change): launch
   * the pending ones, carry out the stops and terminations; each once (what this process has under way already is
   * left to it). Returns how many it took up.
   */
  async converge(hostId: string): Promise<number> {
    const { db, host } = this.ctx;
    const rows = await db.select({ id: instances.id, state: instances.state }).from(instances)
      .where(and(eq(instances.hostId, hostId), inArray(instances.state, ['pending', 'stopping', 'shutting-down'])));
    let taken = 0;
    let disks: Set<string> | undefined;
    for (const r of rows) {
      if (r.state === 'pending') {
        if (this.launcher.busy(r.id)) continue;
        // Its unit started already (this process's launch, awaiting its readiness): the unit's events carry it on.
        const st = await host.units.status(UNIT_PREFIX + r.id);
        if (st && !isFinal(st.state)) continue;
        // Started again (its disk here holds the tenant's data): a launch that fails leaves it stopped with its disk.
        disks ??= new Set(await host.pool.listDisks());
        this.launcher.queue(r.id, { again: disks.has(r.id) });
      } else {
        if (this.lifecycle.isEnding(r.id)) continue;
        this.lifecycle.end(r.id, hostId, r.state === 'stopping' ? 'stop' : 'terminate');
      }
      taken++;
    }
    return taken;
  }

  /**
   * Forget terminated instances older than the TTL (AWS keeps them visible for about an hour); end the terminations
   * left shutting-down on a host since removed (hosts/operate.ts).
   */
  async sweep(): Promise<number> {
    const { db, tags, config } = this.ctx;
    const removed = [...await removedHosts(db)];
    if (removed.length) {
      const stuck = await db.select({ id: instances.id, hostId: instances.hostId }).from(instances)
        .where(and(eq(instances.state, 'shutting-down'), inArray(instances.hostId, removed)));
      for (const r of stuck) if (!this.lifecycle.isEnding(r.id)) this.lifecycle.end(r.id, r.hostId, 'terminate', true);
    }
    const cutoff = Date.now() - config.terminatedTtlMs;
    const old = await db.select({ id: instances.id, vol: instances.rootVolumeId, eni: instances.networkInterfaceId })
      .from(instances).where(and(eq(instances.state, 'terminated'), lt(instances.terminatedAt, cutoff)));
    if (!old.length) return 0;
    await write(db, async () => {
      await tags.removeAll(old.flatMap((o) => [o.id, o.vol, o.eni]));
      await this.ctx.events.forget(old.map((o) => o.id));
      await db.delete(instances).where(inArray(instances.id, old.map((o) => o.id)));
      await db.delete(reservations).where(notInArray(reservations.id, db.select({ id: instances.reservationId }).from(instances)));
    });
    return old.length;
  }
}
