/**
 * DescribeInstanceStatus' rule: an instance's health, as EC2's status checks. Only a running instance has one:
 *   - a container or a microvm: what its guest said of its boot (the guest protocol, guest-boot.ts), kept as its unit's
 *     status text: `initializing` until the guest's boot is done (cloud-init finished, user-data ran or still runs in
 *     the foreground past the guest's bound), then `ok`, or `impaired` when cloud-init failed (the reason on its
 *     console); an image that does not speak the protocol is ok once running. A unit that has ended is impaired.
 *   - a VM is impaired whenever its QEMU says it is not running (paused, panicked, stuck: QMP); a q35 VM is ok otherwise
 *     (any guest: its firmware's or installer's boot says nothing).
 *   - whatever its unit says, an instance whose host has not been heard from (hosts/liveness.ts) is impaired: its
 *     reachability failed, as EC2's system status check says of an instance whose host failed. It stays `running`
 *     (it may well run on, and it is never started anywhere else behind its back).
 */
import type { UnitStatus } from '../../host/units/types.js';
import { filterRows, type Fields, type Filter } from '../filters.js';
import type { Instance } from './types.js';

export type HealthStatus = 'ok' | 'impaired' | 'initializing' | 'not-applicable';

export interface InstanceHealth {
  /** The system's and the instance's status (pcloud has one check for both: reachability). */
  status: HealthStatus;
  details: { name: 'reachability'; status: 'passed' | 'failed' | 'initializing' }[];
}

/** What the host says of a running instance: its unit's state and status text, and (VMs) its QEMU's run state. */
export interface HealthProbe {
  unit?: Pick<UnitStatus, 'state' | 'statusText'>;
  vmStatus?: string;
  /** Its host has not been heard from for the configured timeout. */
  hostLost?: boolean;
}

const NONE: InstanceHealth = { status: 'not-applicable', details: [] };

function health(status: 'ok' | 'impaired' | 'initializing'): InstanceHealth {
  const reach = status === 'ok' ? 'passed' : status === 'impaired' ? 'failed' : 'initializing';
  return { status, details: [{ name: 'reachability', status: reach }] };
}

/** The guest's boot as its unit says it (status text: guest-boot.ts's stages; anything else is an image before them). */
function bootHealth(unit: HealthProbe['unit']): InstanceHealth {
  if (!unit || (unit.state !== 'active' && unit.state !== 'activating')) return health('impaired');
  if (unit.state === 'activating' || unit.statusText === 'starting' || unit.statusText === 'running') return health('initializing');
  return health(unit.statusText === 'impaired' ? 'impaired' : 'ok');
}

/** Health of an instance from what the host says of it (needsUnitStatus, needsVmStatus: what to ask). */
export function instanceHealth(inst: Pick<Instance, 'state' | 'runtime'>, probe: HealthProbe = {}): InstanceHealth {
  if (inst.state !== 'running') return NONE;
  if (probe.hostLost) return health('impaired');
  if (inst.runtime !== 'container' && probe.vmStatus !== 'running') return health('impaired');
  if (inst.runtime === 'q35') return health('ok');
  return bootHealth(probe.unit);
}

/** Whether the health of this instance needs its VM asked (QMP). */
export function needsVmStatus(inst: Pick<Instance, 'state' | 'runtime'>): boolean {
  return inst.state === 'running' && inst.runtime !== 'container';
}

/** Whether the health of this instance needs its unit's status (its guest's word). */
export function needsUnitStatus(inst: Pick<Instance, 'state' | 'runtime'>): boolean {
  return inst.state === 'running' && inst.runtime !== 'q35';
}

/** DescribeInstanceStatus' own filters: on health (applied), and on events (pcloud has none: nothing matches). */
export function isStatusFilter(name: string): boolean {
  return name.startsWith('instance-status') || name.startsWith('system-status') || name.startsWith('event.');
}

const healthFields: Fields<InstanceHealth> = {
  'instance-status.status': (h) => h.status,
  'system-status.status': (h) => h.status,
  'instance-status.reachability': (h) => h.details.map((d) => d.status),
  'system-status.reachability': (h) => h.details.map((d) => d.status),
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
