/**
 * The state machine: the unit manager's events (a unit ready, a unit that ended) and the API's calls (terminate, stop,
 * start, reboot) move an instance between states, each transition serialized per instance.
 */
import { inOrder } from '../in-order.js';
import { capContainer } from '../../host/ucounts.js';
import { isFinal, type UnitStatus } from '../../host/units/types.js';
import { log } from '../../log.js';
import { Slots } from '../../slots.js';
import { CloudError } from '../errors.js';
import type { InstanceContext } from './context.js';
import type { Launcher } from './launch.js';
import type { Queries } from './queries.js';
import { unitCheck } from './health.js';
import { lostHosts } from '../hosts/liveness.js';
import { removedHosts } from '../hosts/operate.js';
import { ec2Time, UNIT_PREFIX, type Instance, type InstanceState, type StateChange } from './types.js';
import { write } from '../../db/store.js';

/**
 * How a unit ended, for the tenant's StateReason: its result, exit code and signal. Its status text (a spawn error,
 * nspawn's STATUS=) can name host paths and commands: that goes to the server's log only (logEnd).
 */
export function describeEnd(st: UnitStatus): string {
  const parts = [st.result ?? st.state];
  if (st.exitCode !== undefined) parts.push(`exit ${st.exitCode}`);
  if (st.signal) parts.push(st.signal);
  return parts.join(', ');
}

function logEnd(id: string, st: UnitStatus): void {
  log.warn(`${id}: its unit ended (${describeEnd(st)})${st.statusText ? `: ${st.statusText}` : ''}`);
}

export class Lifecycle {
  /** Teardowns at once: a line of their own, so that a terminate never waits behind queued launches. */
  private readonly teardownSlots = new Slots(() => this.ctx.config.limits.launchConcurrency);
  private unsubscribe?: () => void;
  /** Stops and terminations this process is carrying out (end()). */
  private readonly ending = new Set<string>();

  constructor(private readonly ctx: InstanceContext, private readonly queries: Queries, private readonly launcher: Launcher) {}

  /** Resolved once reconcile has looked at every instance: unit events wait for it (listen). */
  private reconciled: Promise<void> = Promise.resolve();
  private settle: () => void = () => undefined;

  /**
   * Follow the unit manager: readiness and unexpected ends of instance units. Events heard before reconcile has looked
   * at every instance wait for it: after a restart, what a unit that ended while nobody watched means (a guest's own
   * shutdown, or a host that lost it and brings it back) is reconcile's to decide, not the first event's.
   */
  listen(): void {
    this.reconciled = new Promise((resolve) => { this.settle = resolve; });
    this.unsubscribe = this.ctx.host.units.onChange((st) => {
      if (st.name.startsWith(UNIT_PREFIX)) void this.reconciled.then(() => this.onUnit(st.name.slice(UNIT_PREFIX.length)));
    });
  }

  /** Reconcile has looked at every instance (reconcile.ts): the unit events held until now go on. */
  reconcileDone(): void {
    this.settle();
  }

  /** Stop following the units. */
  close(): void {
    this.unsubscribe?.();
  }

  // ---------------------------------------------------------------- unit events

  private onUnit(id: string): Promise<void> {
    const { host, volumes } = this.ctx;
    return this.ctx.serial(id, async () => {
      const inst = await this.ctx.row(id);
      if (!inst) return;
      const st = await host.units.status(UNIT_PREFIX + id);
      if (!st) return;
      if (!isFinal(st.state) && (inst.state === 'terminated' || inst.state === 'stopped')) {
        // A unit that came up after its instance left (a start the host carried out late): it goes too.
        log.warn(`${id} is ${inst.state} but its unit is ${st.state}: stopping it`);
        await host.units.stop(UNIT_PREFIX + id);
        if (inst.state === 'terminated') await host.units.remove(UNIT_PREFIX + id);
        return;
      }
      if (inst.runtime === 'container' && !isFinal(st.state)) await capContainer(host.units, id); // its own kernel budgets (ucounts.ts)
      if (st.state === 'active' && inst.state === 'pending') {
        this.launcher.settled(id);
        await this.ctx.setState(id, 'running', { stateReasonCode: null, stateReasonMessage: null });
        await this.checkStatus({ ...inst, state: 'running' }, st);
        // A container started again mounts its volumes again (NFS, inside it).
        if (inst.runtime === 'container' && (await volumes.forInstance(id)).length) await volumes.remount(inst);
        return;
      }
      if (!isFinal(st.state)) {
        if (inst.state === 'running') await this.checkStatus(inst, st);
        return;
      }
      if (inst.state === 'pending' && (this.launcher.beforeUnit(id) || !this.launcher.awaitsReady(id))) {
        // The previous run's end, heard after a start (here, or on another server) made it pending again: the launch
        // has yet to start the unit.
        log.debug(`${id}: an ended unit before its launch started it again: not this launch's`);
        return;
      }
      if (inst.state === 'pending') {
        logEnd(id, st);
        await this.launcher.failed(id, `Server.InternalError: the instance did not become ready (${describeEnd(st)})`);
      } else if (inst.state === 'running') {
        await this.ended(inst, st);
      }
    });
  }

  /**
   * What the unit of a running instance says of its guest (a change of its status text, its start): the instance status
   * check, recorded as an event when it changed since the last one recorded (health.ts' unitCheck). A unit on its way
   * down says nothing: its end is the state change's to tell.
   */
  async checkStatus(inst: Instance, st: UnitStatus): Promise<void> {
    if (st.state === 'deactivating' || isFinal(st.state)) return;
    const check = unitCheck(inst, st);
    const before = await this.ctx.events.lastCheck(inst.id);
    if (before === check.status) return;
    await this.ctx.events.recordOne(inst, { kind: 'status', code: check.status, previous: before ?? null, message: check.reason });
  }

  /** A running instance's unit ended without being asked to: as on EC2, per its shutdown behaviour. */
  async ended(inst: Instance, st: UnitStatus): Promise<void> {
    const clean = st.result === 'success';
    if (!clean) logEnd(inst.id, st);
    const code = clean ? 'Client.InstanceInitiatedShutdown' : 'Server.InternalError';
    const message = clean ? 'Client.InstanceInitiatedShutdown: Instance initiated shutdown' : `Server.InternalError: the instance's unit failed (${describeEnd(st)})`;
    if (!clean) await this.ctx.failure(inst.id, 'unit-failed', message);
    const reason = `${clean ? 'User initiated' : 'Server error'} (${ec2Time(new Date())})`;
    if (inst.attributes.instanceInitiatedShutdownBehavior === 'terminate') {
      await this.launcher.teardown(inst.id);
      await this.ctx.setState(inst.id, 'terminated', { stateReasonCode: code, stateReasonMessage: message, stateTransitionReason: reason });
    } else {
      await this.ctx.setState(inst.id, 'stopped', { stateReasonCode: code, stateReasonMessage: message, stateTransitionReason: reason });
    }
  }

  // ---------------------------------------------------------------- terminate

  async terminate(accountId: string, ids: string[]): Promise<StateChange[]> {
    // The states read and changed in one transaction: a stop or start at the same moment sees the change or comes first.
    const changes = await write(this.ctx.db, async () => {
      const rows = await this.queries.getMany(accountId, [...new Set(ids)]);
      for (const r of rows) {
        if (r.attributes.disableApiTermination && r.state !== 'terminated') {
          throw new CloudError('OperationNotPermitted', `The instance '${r.id}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`);
        }
      }
      const [lost, removed] = await Promise.all([lostHosts(this.ctx.db, this.ctx.config.hosts), removedHosts(this.ctx.db)]);
      return inOrder(rows, async (r): Promise<StateChange & { hostId: string | null; hostRemoved: boolean }> => {
        const previous = r.state as InstanceState;
        const hostRemoved = r.hostId !== null && removed.has(r.hostId);
        if (previous === 'terminated' || previous === 'shutting-down') return { instanceId: r.id, previous, current: previous, hostId: r.hostId, hostRemoved };
        await this.ctx.setState(r.id, 'shutting-down', {
          stateReasonCode: 'Client.UserInitiatedShutdown', stateReasonMessage: shutdownMessage(lost(r.hostId) && !hostRemoved, 'terminated'),
          stateTransitionReason: `User initiated (${ec2Time(new Date())})`,
        });
        return { instanceId: r.id, previous, current: 'shutting-down', hostId: r.hostId, hostRemoved };
      });
    });
    for (const c of changes) {
      // Shutting down already on a host since removed (ended before the removal): ended here now.
      if (c.previous === 'terminated' || (c.previous === 'shutting-down' && !c.hostRemoved)) continue;
      this.end(c.instanceId, c.hostId, 'terminate', c.hostRemoved);
    }
    return changes.map(({ hostId: _h, hostRemoved: _r, ...c }) => c);
  }

  /**
   * Carry out a stop or termination the database holds (stopping, shutting-down): here, when the instance is this
   * host's (once: an end already under way here is not begun again); else its host's agent is told. An instance of a
   * removed host (hosts/operate.ts; only terminated) ends here too: nothing of it is left to take down there, what the
   * database holds for it is released.
   */
  end(id: string, hostId: string | null, how: 'stop' | 'force-stop' | 'terminate', hostRemoved = false): void {
    this.launcher.cancel(id);
    if (!hostRemoved && !this.ctx.hosts.isLocal(hostId)) {
      this.ctx.wakeups.tell('host', hostId!);
      return;
    }
    if (this.ending.has(id)) return;
    this.ending.add(id);
    this.ctx.background(id, () => (how === 'terminate' ? this.finishTerminate(id, hostRemoved) : this.finishStop(id, how === 'stop'))
      .finally(() => this.ending.delete(id)));
  }

  /** Whether this process is carrying out the instance's stop or termination. */
  isEnding(id: string): boolean {
    return this.ending.has(id);
  }

  /** A shutting-down instance's end, in the teardown line: what it holds goes, then it shows terminated. */
  finishTerminate(id: string, hostGone = false): Promise<void> {
    return this.teardownSlots.run(async () => {
      // A launch cancelled before it touched the host left nothing there; a removed host's instance has no host.
      if (!this.launcher.takeUntouched(id) && !hostGone) await this.launcher.teardown(id);
      await this.ctx.volumes.released(id).catch((err) => log.warn(`volumes of ${id}: ${(err as Error).message}`));
      // Its name and rules leave the VPC before it shows terminated: a client that then deletes the VPC (Terraform's
      // destroy) never races a DNS or firewall sync that would bring the VPC's router back. A removed host's instance
      // was on no router of this host: the state change below tells the VPC's hosts.
      if (!hostGone) await this.ctx.plane.unpublish(id);
      this.launcher.settled(id);
      await this.ctx.setState(id, 'terminated', {});
    });
  }

  // ---------------------------------------------------------------- stop and start

  async stop(accountId: string, ids: string[], force = false): Promise<StateChange[]> {
    // The states read and changed in one transaction: a terminate or start at the same moment sees the change or comes first.
    const changes = await write(this.ctx.db, async () => {
      const rows = await this.queries.getMany(accountId, [...new Set(ids)]);
      for (const r of rows) {
        if (r.attributes.disableApiStop && (r.state === 'running' || r.state === 'pending')) {
          throw new CloudError('OperationNotPermitted', `The instance '${r.id}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`);
        }
        if (!['running', 'pending', 'stopping', 'stopped'].includes(r.state)) {
          throw new CloudError('IncorrectInstanceState', `This instance '${r.id}' is not in a state from which it can be stopped.`);
        }
      }
      const removed = await removedHosts(this.ctx.db);
      const gone = rows.find((r) => r.hostId !== null && removed.has(r.hostId) && r.state !== 'stopped');
      if (gone) throw new CloudError('IncorrectInstanceState', `The instance '${gone.id}' was on a host that has been removed from this cloud: it can only be terminated.`);
      const lost = await lostHosts(this.ctx.db, this.ctx.config.hosts);
      return inOrder(rows, async (r): Promise<StateChange & { hostId: string | null }> => {
        const previous = r.state as InstanceState;
        if (previous === 'stopped' || previous === 'stopping') return { instanceId: r.id, previous, current: previous, hostId: r.hostId };
        await this.ctx.setState(r.id, 'stopping', {
          stateReasonCode: 'Client.UserInitiatedShutdown', stateReasonMessage: shutdownMessage(lost(r.hostId), 'stopped'),
          stateTransitionReason: `User initiated (${ec2Time(new Date())})`,
        });
        return { instanceId: r.id, previous, current: 'stopping', hostId: r.hostId };
      });
    });
    for (const c of changes) {
      if (c.previous === 'stopped' || c.previous === 'stopping') continue;
      this.end(c.instanceId, c.hostId, force ? 'force-stop' : 'stop');
    }
    return changes.map(({ hostId: _h, ...c }) => c);
  }

  /** A stopping instance's end: its units stop, it leaves its VPC, its volumes' targets close; it shows stopped. */
  async finishStop(id: string, graceful = false): Promise<void> {
    const { host, vms, volumes, plane } = this.ctx;
    if (graceful && (await this.ctx.row(id))?.runtime !== 'container') await this.shutDownVm(id);
    for (const name of [UNIT_PREFIX + id, ...vms.companions(id)]) {
      await host.units.stop(name).catch((err) => log.warn(`stopping ${name}: ${(err as Error).message}`));
    }
    await plane.detach(id);
    await volumes.disconnected(id);
    if ((await this.ctx.row(id))?.state === 'stopping') await this.ctx.setState(id, 'stopped', {});
    this.launcher.settled(id);
    await plane.unpublish(id);
  }

  /**
   * A VM's operating system shuts down as on EC2's stop: the ACPI power button, then as long as the guest takes, up
   * to vmShutdownTimeoutSec; whatever still runs after that is stopped by its unit (QEMU gets SIGTERM).
   */
  private async shutDownVm(id: string): Promise<void> {
    const { host, vms, config } = this.ctx;
    if (!(await vms.powerButton(id))) return;
    const until = Date.now() + config.vmShutdownTimeoutSec * 1000;
    while (Date.now() < until) {
      const st = await host.units.status(UNIT_PREFIX + id);
      if (!st || isFinal(st.state)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    log.warn(`${id} did not power off in ${config.vmShutdownTimeoutSec} s: stopping its QEMU`);
  }

  async start(accountId: string, ids: string[]): Promise<StateChange[]> {
    // The states and the room read and taken in one transaction holding the write lock: two servers never start into the
    // last room, and two StartInstances of one instance launch it once.
    const changes = await write(this.ctx.db, async () => {
      const rows = await this.queries.getMany(accountId, [...new Set(ids)]);
      for (const r of rows) {
        if (!['running', 'pending', 'stopped'].includes(r.state)) {
          throw new CloudError('IncorrectInstanceState', `The instance '${r.id}' is not in a state from which it can be started.`);
        }
      }
      await this.launcher.checkRoomToStart(accountId, rows.filter((r) => r.state === 'stopped'));
      return inOrder(rows, async (r): Promise<StateChange> => {
        const previous = r.state as InstanceState;
        if (previous !== 'stopped') return { instanceId: r.id, previous, current: previous };
        await this.ctx.setState(r.id, 'pending', { stateReasonCode: 'pending', stateReasonMessage: 'pending', stateTransitionReason: '' }, 'User initiated (StartInstances)');
        return { instanceId: r.id, previous, current: 'pending' };
      });
    });
    for (const c of changes) if (c.previous === 'stopped') this.launcher.queue(c.instanceId, { again: true });
    return changes;
  }

  /** A VM a console opens (a fat lambda): started if it is stopped; resolves once it runs. */
  async ensureRunning(accountId: string, id: string, timeoutMs = 120_000): Promise<void> {
    const inst = await this.queries.get(accountId, id);
    if (inst.runtime !== 'q35') throw new CloudError('UnsupportedOperation', `The instance '${id}' has no display: only UEFI and Windows VMs (q35) have one.`);
    if (inst.state === 'stopped') await this.start(accountId, [id]);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const state = (await this.ctx.row(id))?.state;
      if (state === 'running') return;
      if (state !== 'pending' && state !== 'stopping' && state !== 'stopped') throw new CloudError('IncorrectInstanceState', `The instance '${id}' is ${state}.`);
      if (state === 'stopped' && (await this.ctx.row(id))) await this.start(accountId, [id]);
      if (Date.now() > until) throw new CloudError('IncorrectInstanceState', `The instance '${id}' did not start in ${timeoutMs / 1000} s.`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async reboot(accountId: string, ids: string[]): Promise<void> {
    this.rebootRows(await this.queries.getMany(accountId, ids));
  }

  /** RebootInstances told by another server (wake-up reboot:ID): this host's instance, if it runs. */
  async rebootTold(id: string): Promise<void> {
    const row = await this.ctx.row(id);
    if (row && this.ctx.hosts.isLocal(row.hostId)) this.rebootRows([row]);
  }

  private rebootRows(rows: Instance[]): void {
    const { host, vms } = this.ctx;
    for (const r of rows) {
      if (r.state !== 'running') continue;
      // Another host's instance: its host reboots it (told; lost if that host is not listening, as a reboot EC2
      // cannot carry out is).
      if (!this.ctx.hosts.isLocal(r.hostId)) {
        this.ctx.wakeups.tell('reboot', r.id);
        continue;
      }
      // A VM resets in place (its QEMU, TPM and network stay); a container's unit restarts.
      const reboot = r.runtime === 'container' ? () => host.units.restart(UNIT_PREFIX + r.id) : () => vms.reset(r.id);
      this.ctx.background(r.id, () => reboot().catch((err) => log.warn(`reboot ${r.id}: ${(err as Error).message}`)));
    }
  }
}

/**
 * The state reason of a stop or termination asked for; while the instance's host is not heard from, it says that the
 * instance stays stopping or shutting-down until the host is back (it may well run on: nobody can tell, or stop it).
 */
function shutdownMessage(hostLost: boolean, end: 'stopped' | 'terminated'): string {
  const base = 'Client.UserInitiatedShutdown: User initiated shutdown';
  return hostLost ? `${base}; its host is not reachable now: it is ${end} once its host is back` : base;
}
