/**
 * DescribeInstanceStatus' rule: an instance's health, as EC2's status checks. Only a running instance has one:
 *   - a container or a microvm: what its guest said of its boot (the guest protocol, guest-boot.ts), kept as its unit's
 *     status text: `initializing` until the guest's boot is done (cloud-init finished, user-data ran or still runs in
 *     the foreground past the guest's bound), then `ok`, or `impaired` when cloud-init failed (the reason on its
 *     console); an image that does not speak the protocol is ok once running. A unit that has ended is impaired.
 *   - a VM is impaired whenever its QEMU says it is not running (paused, panicked, stuck: QMP); a q35 VM is ok otherwise
 *     (any guest: its firmware's or installer's boot says nothing).
 * That is the instance status check (the guest's own). The system status check is the host's: `impaired` when the
 * host has not been heard from (hosts/liveness.ts), as EC2's says of an instance whose host failed, and then the
 * instance check is `insufficient-data` (nobody can tell what its guest does); the instance stays `running` (it may
 * well run on, and it is never started anywhere else behind its back). While the guest boots, both are
 * `initializing`, as on EC2.
 */
import type { UnitStatus } from '../../host/units/types.js';
import { filterRows, type Fields, type Filter } from '../filters.js';
import type { Instance } from './types.js';

export type HealthStatus = 'ok' | 'impaired' | 'initializing' | 'insufficient-data' | 'not-applicable';

/** One status check, as EC2 answers it: its status and its one detail (reachability). */
export interface StatusCheck {
  status: HealthStatus;
  details: { name: 'reachability'; status: 'passed' | 'failed' | 'initializing' | 'insufficient-data' }[];
}

export interface InstanceHealth {
  /** The host's check (SystemStatus). */
  system: StatusCheck;
  /** The guest's check (InstanceStatus). */
  instance: StatusCheck;
}

/** What the host says of a running instance: its unit's state and status text, and (VMs) its QEMU's run state. */
export interface HealthProbe {
  unit?: Pick<UnitStatus, 'state' | 'statusText'>;
  vmStatus?: string;
  /** Its host has not been heard from for the configured timeout. */
  hostLost?: boolean;
}

const NONE: StatusCheck = { status: 'not-applicable', details: [] };

function check(status: 'ok' | 'impaired' | 'initializing' | 'insufficient-data'): StatusCheck {
  const reach = status === 'ok' ? 'passed' : status === 'impaired' ? 'failed' : status;
  return { status, details: [{ name: 'reachability', status: reach }] };
}

/** The guest's boot as its unit says it (status text: guest-boot.ts's stages; anything else is an image before them). */
function bootCheck(unit: HealthProbe['unit']): StatusCheck {
  if (!unit || (unit.state !== 'active' && unit.state !== 'activating')) return check('impaired');
  if (unit.state === 'activating' || unit.statusText === 'starting' || unit.statusText === 'running') return check('initializing');
  return check(unit.statusText === 'impaired' ? 'impaired' : 'ok');
}

/** The guest's own check, on a host that is heard from. */
function guestCheck(inst: Pick<Instance, 'runtime'>, probe: HealthProbe): StatusCheck {
  if (inst.runtime !== 'container' && probe.vmStatus !== 'running') return check('impaired');
  if (inst.runtime === 'q35') return check('ok');
  return bootCheck(probe.unit);
}

/** Why the guest's check is what it is, in the tenant's words (its unit's status text is one of guest-boot.ts' stages). */
function bootReason(unit: HealthProbe['unit']): string {
  if (!unit || (unit.state !== 'active' && unit.state !== 'activating')) return 'the instance is not running on its host';
  if (unit.state === 'activating' || unit.statusText === 'starting') return 'the guest is booting';
  if (unit.statusText === 'running') return "the guest's system is up; cloud-init and its user data are running";
  if (unit.statusText === 'impaired') return "the guest's boot failed (cloud-init): its console output says why";
  if (unit.statusText === 'ok') return "the guest's boot is done";
  return 'the instance runs (its image does not report its boot)';
}

/**
 * The instance status check as the unit of a running instance tells it, with its reason: what the events record as it
 * changes (lifecycle.ts' checkStatus). Only the unit's word: a VM's QEMU run state and the host's liveness are asked at query
 * time (instanceHealth), not told.
 */
export function unitCheck(inst: Pick<Instance, 'runtime'>, unit: HealthProbe['unit']): { status: HealthStatus; reason: string } {
  if (inst.runtime === 'q35') {
    return unit?.state === 'active' ? { status: 'ok', reason: 'the machine runs' } : { status: 'impaired', reason: bootReason(unit) };
  }
  return { status: bootCheck(unit).status, reason: bootReason(unit) };
}

/** Health of an instance from what the host says of it (needsUnitStatus, needsVmStatus: what to ask). */
export function instanceHealth(inst: Pick<Instance, 'state' | 'runtime'>, probe: HealthProbe = {}): InstanceHealth {
  if (inst.state !== 'running') return { system: NONE, instance: NONE };
  if (probe.hostLost) return { system: check('impaired'), instance: check('insufficient-data') };
  const instance = guestCheck(inst, probe);
  return { system: check(instance.status === 'initializing' ? 'initializing' : 'ok'), instance };
}

/** Whether the health of this instance needs its VM asked (QMP). */
export function needsVmStatus(inst: Pick<Instance, 'state' | 'runtime'>): boolean {
  return inst.state === 'running' && inst.runtime !== 'container';
}

/** Whether the health of this instance needs its unit's status (its guest's word). */
export function needsUnitStatus(inst: Pick<Instance, 'state' | 'runtime'>): boolean {
  return inst.state === 'running' && inst.runtime !== 'q35';
}

/**
 * DescribeInstanceStatus' own filters: on health (applied), and on events. EC2's Events there are scheduled ones only
 * (instance-reboot, system-reboot, system-maintenance, instance-retirement, instance-stop, announced ahead with their
 * window); pcloud schedules no maintenance, so an instance has none, its Events are absent as on EC2 for an instance
 * without any, and an event.* filter matches nothing. What did happen to an instance is `pcloud events` (events.ts).
 */
export function isStatusFilter(name: string): boolean {
  return name.startsWith('instance-status') || name.startsWith('system-status') || name.startsWith('event.');
}

const healthFields: Fields<InstanceHealth> = {
  'instance-status.status': (h) => h.instance.status,
  'system-status.status': (h) => h.system.status,
  'instance-status.reachability': (h) => h.instance.details.map((d) => d.status),
  'system-status.reachability': (h) => h.system.details.map((d) => d.status),
  'event.code': () => undefined,
  'event.description': () => undefined,
  'event.instance-event-id': () => undefined,
  'event.not-after': () => undefined,
  'event.not-before': () => undefined,
  'event.not-before-deadline': () => undefined,
};

/** The items whose health passes DescribeInstanceStatus' own filters (an unknown one of theirs is InvalidParameterValue). */
export function filterByHealth<T extends { health: InstanceHealth }>(items: T[], filters: Filter[]): T[] {
  const own = filters.filter((f) => isStatusFilter(f.name));
  if (!own.length) return items;
  const kept = new Set(filterRows(items.map((i) => i.health), own, healthFields));
  return items.filter((i) => kept.has(i.health));
}
