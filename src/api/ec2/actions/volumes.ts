import type { Instance } from '../../../cloud/instances/index.js';
import type { Snapshot, Volume } from '../../../cloud/volumes.js';
import type { Actions, Ctx } from '../context.js';
import { filterRows, byIds } from '../filters.js';
import { tagSet } from '../shapes.js';

/** One shape for both kinds of volume: an instance's root disk (shown as EBS shows it) and a created volume. */
interface VolumeView {
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

function rootView(i: Instance): VolumeView {
  return {
    id: i.rootVolumeId, sizeGiB: i.rootVolumeSizeGiB, snapshotId: null, availabilityZone: i.availabilityZone,
    state: i.state === 'shutting-down' ? 'deleting' : 'in-use', createdAt: i.launchTime, volumeType: 'gp3', iops: 3000, throughput: 125,
    attachment: { instanceId: i.id, device: '/dev/xvda', state: 'attached', time: i.launchTime, deleteOnTermination: true },
  };
}

function dataView(v: Volume): VolumeView {
  return {
    id: v.id, sizeGiB: v.sizeGiB, snapshotId: v.snapshotId, availabilityZone: v.availabilityZone, state: v.state, createdAt: v.createdAt,
    volumeType: v.volumeType, iops: v.iops, throughput: v.throughput,
    attachment: v.instanceId ? { instanceId: v.instanceId, device: v.device!, state: v.attachState!, time: v.attachTime!, deleteOnTermination: v.deleteOnTermination } : undefined,
  };
}

const attachmentShape = (id: string, a: NonNullable<VolumeView['attachment']>, state = a.state) => ({
  volumeId: id, instanceId: a.instanceId, device: a.device, status: state, attachTime: new Date(a.time), deleteOnTermination: a.deleteOnTermination,
});

function volumeShape(ctx: Ctx, v: VolumeView) {
  return {
    volumeId: v.id, size: v.sizeGiB, snapshotId: v.snapshotId ?? '', availabilityZone: v.availabilityZone, status: v.state,
    createTime: new Date(v.createdAt), attachmentSet: v.attachment ? [attachmentShape(v.id, v.attachment)] : [],
    volumeType: v.volumeType, iops: v.iops ?? undefined, throughput: v.throughput ?? undefined, encrypted: false, multiAttachEnabled: false,
    tagSet: tagSet(ctx.cloud.tags.of([v.id]).get(v.id)),
  };
}

function snapshotShape(ctx: Ctx, s: Snapshot) {
  return {
    snapshotId: s.id, volumeId: s.volumeId, status: s.state, startTime: new Date(s.createdAt), progress: '100%', ownerId: s.accountId,
    volumeSize: s.sizeGiB, description: s.description, encrypted: false, storageTier: 'standard',
    tagSet: tagSet(ctx.cloud.tags.of([s.id]).get(s.id)),
  };
}

const volumeTags = (ctx: Ctx, type: string) => ctx.q.tagSpecifications().filter((t) => t.resourceType === type).flatMap((t) => t.tags);

/** Volumes (root disks of instances, and created ones, attached to VMs over iSCSI) and snapshots. */
export const volumeActions: Actions = {
  DescribeVolumes: {
    handler: (ctx) => {
      const roots = ctx.cloud.instances.describe(ctx.accountId, { ids: [], filters: [] }).instances.filter((i) => i.state !== 'terminated').map(rootView);
      let vols = byIds([...roots, ...ctx.cloud.volumes.list(ctx.accountId).map(dataView)], ctx.q.list('VolumeId'), 'InvalidVolume.NotFound', 'volume');
      vols = filterRows(vols, ctx.q.filters(), ctx.cloud.tags.of(vols.map((v) => v.id)), {
        'volume-id': (v) => v.id, 'attachment.instance-id': (v) => v.attachment?.instanceId, 'attachment.device': (v) => v.attachment?.device,
        'attachment.status': (v) => v.attachment?.state, 'availability-zone': (v) => v.availabilityZone, status: (v) => v.state,
        'volume-type': (v) => v.volumeType, 'attachment.delete-on-termination': (v) => (v.attachment ? String(v.attachment.deleteOnTermination) : undefined),
        size: (v) => String(v.sizeGiB), 'snapshot-id': (v) => v.snapshotId ?? undefined, encrypted: () => 'false',
      });
      return { volumeSet: vols.map((v) => volumeShape(ctx, v)) };
    },
  },
  CreateVolume: {
    dryRun: 'self',
    handler: async (ctx) => {
      const v = await ctx.cloud.volumes.create(ctx.accountId, {
        availabilityZone: ctx.q.str('AvailabilityZone'), size: ctx.q.int('Size'), snapshotId: ctx.q.str('SnapshotId'),
        volumeType: ctx.q.str('VolumeType'), iops: ctx.q.int('Iops'), throughput: ctx.q.int('Throughput'), tags: volumeTags(ctx, 'volume'),
      }, ctx.dryRun);
      const { attachmentSet: _a, ...shape } = volumeShape(ctx, dataView(v));
      return shape;
    },
  },
  DeleteVolume: {
    handler: async (ctx) => {
      await ctx.cloud.volumes.delete(ctx.accountId, ctx.q.req('VolumeId'));
      return { return: true };
    },
  },
  AttachVolume: {
    handler: async (ctx) => {
      const v = dataView(await ctx.cloud.volumes.attach(ctx.accountId, ctx.q.req('VolumeId'), ctx.q.req('InstanceId'), ctx.q.str('Device')));
      return attachmentShape(v.id, v.attachment!, 'attaching');
    },
  },
  DetachVolume: {
    handler: async (ctx) => {
      const before = dataView(ctx.cloud.volumes.get(ctx.accountId, ctx.q.req('VolumeId')));
      await ctx.cloud.volumes.detach(ctx.accountId, before.id, ctx.q.str('InstanceId'), ctx.q.bool('Force') ?? false);
      return before.attachment ? attachmentShape(before.id, before.attachment, 'detaching') : { volumeId: before.id, status: 'detaching' };
    },
  },
  CreateSnapshot: {
    handler: async (ctx) => {
      const s = await ctx.cloud.volumes.createSnapshot(ctx.accountId, ctx.q.req('VolumeId'), ctx.q.str('Description') ?? '', volumeTags(ctx, 'snapshot'));
      return snapshotShape(ctx, s);
    },
  },
  DeleteSnapshot: {
    handler: async (ctx) => {
      await ctx.cloud.volumes.deleteSnapshot(ctx.accountId, ctx.q.req('SnapshotId'));
      return { return: true };
    },
  },
  DescribeSnapshots: {
    handler: (ctx) => {
      // Snapshots are private to their account here; an owner filter of someone else's finds none.
      const owners = ctx.q.list('Owner');
      let snaps = byIds(ctx.cloud.volumes.listSnapshots(ctx.accountId), ctx.q.list('SnapshotId'), 'InvalidSnapshot.NotFound', 'snapshot');
      if (owners.length && !owners.some((o) => o === 'self' || o === ctx.accountId)) snaps = [];
      snaps = filterRows(snaps, ctx.q.filters(), ctx.cloud.tags.of(snaps.map((s) => s.id)), {
        'snapshot-id': (s) => s.id, 'volume-id': (s) => s.volumeId, status: (s) => s.state, 'owner-id': (s) => s.accountId,
        description: (s) => s.description, 'volume-size': (s) => String(s.sizeGiB), encrypted: () => 'false',
      });
      return { snapshotSet: snaps.map((s) => snapshotShape(ctx, s)) };
    },
  },
};
