import { checkRegister, SYSTEM_ACCOUNT } from '../../../cloud/images.js';
import { dryRunCheck, tagOnCreate, type Actions } from '../context.js';
import { tagSet } from '../shapes.js';

export const imageActions: Actions = {
  DescribeImages: {
    handler: async (ctx) => {
      const rows = await ctx.cloud.images.describe(ctx.accountId, ctx.q.list('ImageId'), ctx.q.list('Owner'), ctx.q.filters());
      const tags = await ctx.cloud.tags.of(rows.map((r) => r.id));
      return {
        imagesSet: rows.map((r) => ({
          imageId: r.id,
          imageLocation: `${r.ownerId === SYSTEM_ACCOUNT ? 'pcloud' : r.ownerId}/${r.name}`,
          imageState: r.state,
          imageOwnerId: r.ownerId,
          creationDate: new Date(r.createdAt),
          isPublic: r.isPublic,
          architecture: r.architecture,
          imageType: 'machine',
          platform: r.platform === 'windows' ? 'windows' : undefined,
          platformDetails: r.platform === 'windows' ? 'Windows' : 'Linux/UNIX',
          usageOperation: 'RunInstances',
          imageOwnerAlias: r.ownerId === SYSTEM_ACCOUNT ? 'amazon' : undefined,
          name: r.name,
          description: r.description,
          rootDeviceType: 'ebs',
          rootDeviceName: '/dev/xvda',
          blockDeviceMapping: [{
            deviceName: '/dev/xvda',
            ebs: { snapshotId: r.source.startsWith('snapshot:') ? r.source.slice('snapshot:'.length) : `snap-${r.id.slice(4)}`, volumeSize: Math.max(1, Math.ceil(r.sizeBytes / 2 ** 30)), deleteOnTermination: true, volumeType: 'gp3', encrypted: false },
          }],
          virtualizationType: 'hvm',
          hypervisor: 'xen',
          enaSupport: true,
          bootMode: r.bootMode,
          tagSet: tagSet(tags.get(r.id)),
        })),
      };
    },
  },

  DeregisterImage: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('ImageId');
      await ctx.cloud.images.get(id, ctx.accountId);
      dryRunCheck(ctx);
      await ctx.cloud.images.deregister(ctx.accountId, id);
      return { return: true };
    },
  },

  CreateImage: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('InstanceId');
      const name = ctx.q.req('Name');
      await ctx.cloud.instances.get(ctx.accountId, id);
      dryRunCheck(ctx);
      const imageId = await ctx.cloud.instances.createImage(ctx.accountId, id, name, ctx.q.str('Description') ?? '');
      await tagOnCreate(ctx, imageId);
      return { imageId };
    },
  },

  RegisterImage: {
    dryRun: 'self',
    handler: async (ctx) => {
      const q = ctx.q;
      const req = checkRegister({
        name: q.str('Name'), description: q.str('Description'), architecture: q.str('Architecture') || undefined,
        rootDeviceName: q.str('RootDeviceName') || undefined, virtualizationType: q.str('VirtualizationType') || undefined,
        bootMode: q.str('BootMode') || undefined, imageLocation: q.str('ImageLocation') || undefined,
        kernelId: q.str('KernelId') || undefined, ramdiskId: q.str('RamdiskId') || undefined,
        blockDeviceMappings: q.structs('BlockDeviceMapping').map((m) => ({
          deviceName: m.str('DeviceName'), snapshotId: m.str('Ebs.SnapshotId') || undefined, volumeSize: m.int('Ebs.VolumeSize'),
          noDevice: m.str('NoDevice') !== undefined, virtualName: m.str('VirtualName'),
        })),
      });
      q.bool('EnaSupport');
      await ctx.cloud.snapshots.get(ctx.accountId, req.snapshotId);
      dryRunCheck(ctx);
      const image = await ctx.cloud.instances.registerImage(ctx.accountId, req);
      await tagOnCreate(ctx, image.id);
      return { imageId: image.id };
    },
  },
};
