/**
 * DescribeInstanceStatus' rule: an instance's health. Only a running instance has one: a container is healthy while
 * its unit runs; a VM's is what its QEMU says (QMP): anything but running (paused, panicked, stuck) is impaired.
 */
import type { Instance } from './types.js';

export type HealthStatus = 'ok' | 'impaired' | 'not-applicable';

export interface InstanceHealth {
  /** The system's and the instance's status (pcloud has one check for both: reachability). */
  status: HealthStatus;
  details: { name: 'reachability'; status: 'passed' | 'failed' }[];
}

/** Health of an instance; `vmStatus` is its QEMU's run state (a running VM only; undefined for containers). */
export function instanceHealth(inst: Pick<Instance, 'state' | 'runtime'>, vmStatus?: string): InstanceHealth {
  if (inst.state !== 'running') return { status: 'not-applicable', details: [] };
  const ok = inst.runtime === 'container' || vmStatus === 'running';
  return { status: ok ? 'ok' : 'impaired', details: [{ name: 'reachability', status: ok ? 'passed' : 'failed' }] };
}

/** Whether the health of this instance needs its VM asked (QMP). */
export function needsVmStatus(inst: Pick<Instance, 'state' | 'runtime'>): boolean {
  return inst.state === 'running' && inst.runtime !== 'container';
}

/** DescribeInstanceStatus' own filters (on health and events): accepted and not applied (pcloud has no events). */
export function isStatusFilter(name: string): boolean {
  return name.startsWith('instance-status') || name.startsWith('system-status') || name === 'event.code';
}
