/**
 * Volumes as DescribeVolumes lists them: an instance's root disk (shown as EBS shows it) and a created volume in one
 * shape, and what filters see of volumes and snapshots.
 */
import type { Fields } from './filters.js';
import { holdsResources, type Instance } from './instances/types.js';
import type { Snapshot } from './snapshots.js';
import type { Volume } from './volumes.js';

export interface VolumeView {
  id: string;
  sizeGiB: number;
  snapshotId: string | null;
  availabilityZone: string;
  state: string;
  createdAt: number;
  volumeType: string;
  iops: number | null;
  throughput: number | null;
  attachment?: { instanceId: string; device: string; state: string; time: number; deleteOnTermination: boolean };
}

/** An instance's root disk: a gp3 volume attached as /dev/xvda, deleted with the instance. */
export function rootView(i: Instance): VolumeView {
  return {
    id: i.rootVolumeId, sizeGiB: i.rootVolumeSizeGiB, snapshotId: null, availabilityZone: i.availabilityZone,
    state: i.state === 'shutting-down' ? 'deleting' : 'in-use', createdAt: i.launchTime, volumeType: 'gp3', iops: 3000, throughput: 125,
    attachment: { instanceId: i.id, device: '/dev/xvda', state: 'attached', time: i.launchTime, deleteOnTermination: true },
  };
}

/** The root disks of a list of instances: one per instance that still holds its own. */
export function rootViews(list: Instance[]): VolumeView[] {
  return list.filter(holdsResources).map(rootView);
}

/**
 * Whether DescribeSnapshots' Owner list lets an account's snapshots through: snapshots are private to their account
 * here, so an Owner list naming neither `self` nor the account finds none (no list: all of them).
 */
export function ownersAdmit(accountId: string, owners: readonly string[]): boolean {
  return !owners.length || owners.some((o) => o === 'self' || o === accountId);
}

export function dataView(v: Volume): VolumeView {
  return {
    id: v.id, sizeGiB: v.sizeGiB, snapshotId: v.snapshotId, availabilityZone: v.availabilityZone, state: v.state, createdAt: v.createdAt,
    volumeType: v.volumeType, iops: v.iops, throughput: v.throughput,
    attachment: v.instanceId ? { instanceId: v.instanceId, device: v.device!, state: v.attachState!, time: v.attachTime!, deleteOnTermination: v.deleteOnTermination } : undefined,
  };
}

export const volumeFields: Fields<VolumeView> = {
  'volume-id': (v) => v.id, 'attachment.instance-id': (v) => v.attachment?.instanceId, 'attachment.device': (v) => v.attachment?.device,
  'attachment.status': (v) => v.attachment?.state, 'availability-zone': (v) => v.availabilityZone, status: (v) => v.state,
  'volume-type': (v) => v.volumeType, 'attachment.delete-on-termination': (v) => (v.attachment ? String(v.attachment.deleteOnTermination) : undefined),
  size: (v) => String(v.sizeGiB), 'snapshot-id': (v) => v.snapshotId, encrypted: () => 'false',
};

export const snapshotFields: Fields<Snapshot> = {
  'snapshot-id': (s) => s.id, 'volume-id': (s) => s.volumeId, status: (s) => s.state, 'owner-id': (s) => s.accountId,
  description: (s) => s.description, 'volume-size': (s) => String(s.sizeGiB), encrypted: () => 'false',
};
