import { inOrder } from '../../../cloud/in-order.js';
import { byIds, filterRows } from '../../../cloud/filters.js';
import { dataView, ownersAdmit, rootViews, snapshotFields, volumeFields, type VolumeView } from '../../../cloud/volume-views.js';
import type { Snapshot } from '../../../cloud/snapshots.js';
import type { Actions, Ctx } from '../context.js';
import { tagSet } from '../shapes.js';
import { tokenRequest } from '../client-token.js';

const attachmentShape = (id: string, a: NonNullable<VolumeView['attachment']>, state = a.state) => ({
  volumeId: id, instanceId: a.instanceId, device: a.device, status: state, attachTime: new Date(a.time), deleteOnTermination: a.deleteOnTermination,
});

async function volumeShape(ctx: Ctx, v: VolumeView) {
  return {
    volumeId: v.id, size: v.sizeGiB, snapshotId: v.snapshotId ?? '', availabilityZone: v.availabilityZone, status: v.state,
    createTime: new Date(v.createdAt), attachmentSet: v.attachment ? [attachmentShape(v.id, v.attachment)] : [],
    volumeType: v.volumeType, iops: v.iops ?? undefined, throughput: v.throughput ?? undefined, encrypted: false, multiAttachEnabled: false,
    tagSet: tagSet((await ctx.cloud.tags.of([v.id])).get(v.id)),
  };
}

async function snapshotShape(ctx: Ctx, s: Snapshot) {
  return {
    snapshotId: s.id, volumeId: s.volumeId, status: s.state, startTime: new Date(s.createdAt), progress: '100%', ownerId: s.accountId,
    volumeSize: s.sizeGiB, description: s.description, encrypted: false, storageTier: 'standard',
    tagSet: tagSet((await ctx.cloud.tags.of([s.id])).get(s.id)),
  };
}

const volumeTags = (ctx: Ctx, type: string) => ctx.q.tagSpecifications().filter((t) => t.resourceType === type).flatMap((t) => t.tags);

/** Volumes (root disks of instances, and created ones, attached to VMs over iSCSI) and snapshots. */
export const volumeActions: Actions = {
  DescribeVolumes: {
    handler: async (ctx) => {
      const roots = rootViews((await ctx.cloud.instances.describe(ctx.accountId, { ids: [], filters: [] })).instances);
      let vols = byIds([...roots, ...(await ctx.cloud.volumes.list(ctx.accountId)).map(dataView)], ctx.q.list('VolumeId'), 'InvalidVolume.NotFound', 'volume');
      vols = filterRows(vols, ctx.q.filters(), volumeFields, await ctx.cloud.tags.of(vols.map((v) => v.id)));
      return { volumeSet: await inOrder(vols, (v) => volumeShape(ctx, v)) };
    },
  },
  CreateVolume: {
    dryRun: 'self',
    handler: async (ctx) => {
      const request = tokenRequest(ctx, 'CreateVolume');
      const v = await ctx.cloud.volumes.create(ctx.accountId, {
        availabilityZone: ctx.q.str('AvailabilityZone'), size: ctx.q.int('Size'), snapshotId: ctx.q.str('SnapshotId'),
        volumeType: ctx.q.str('VolumeType'), iops: ctx.q.int('Iops'), throughput: ctx.q.int('Throughput'), tags: volumeTags(ctx, 'volume'), request,
      }, ctx.dryRun);
      const { attachmentSet: _a, ...shape } = await volumeShape(ctx, dataView(v));
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
      const before = dataView(await ctx.cloud.volumes.get(ctx.accountId, ctx.q.req('VolumeId')));
      await ctx.cloud.volumes.detach(ctx.accountId, before.id, ctx.q.str('InstanceId'), ctx.q.bool('Force') ?? false);
      return before.attachment ? attachmentShape(before.id, before.attachment, 'detaching') : { volumeId: before.id, status: 'detaching' };
    },
  },
  CreateSnapshot: {
    handler: async (ctx) => {
      const s = await ctx.cloud.createSnapshot(ctx.accountId, ctx.q.req('VolumeId'), ctx.q.str('Description') ?? '', volumeTags(ctx, 'snapshot'));
      return await snapshotShape(ctx, s);
    },
  },
  DeleteSnapshot: {
    handler: async (ctx) => {
      await ctx.cloud.snapshots.delete(ctx.accountId, ctx.q.req('SnapshotId'));
      return { return: true };
    },
  },
  DescribeSnapshots: {
    handler: async (ctx) => {
      const owners = ctx.q.list('Owner');
      let snaps = byIds(await ctx.cloud.snapshots.list(ctx.accountId), ctx.q.list('SnapshotId'), 'InvalidSnapshot.NotFound', 'snapshot');
      if (!ownersAdmit(ctx.accountId, owners)) snaps = [];
      snaps = filterRows(snaps, ctx.q.filters(), snapshotFields, await ctx.cloud.tags.of(snaps.map((s) => s.id)));
      return { snapshotSet: await inOrder(snaps, (s) => snapshotShape(ctx, s)) };
    },
  },
};
