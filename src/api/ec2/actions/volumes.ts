import { CloudError } from '../../../cloud/errors.js';
import { matches } from '../../../cloud/tags.js';
import type { Actions } from '../context.js';
import { tagSet } from '../shapes.js';

/** Volumes: for now, each instance's root disk (a reflink fork in the pool), as EBS shows a root volume. */
export const volumeActions: Actions = {
  DescribeVolumes: {
    handler: (ctx) => {
      const rows = ctx.cloud.instances.describe(ctx.accountId, { ids: [], filters: [] }).instances.filter((i) => i.state !== 'terminated');
      let vols = rows.map((i) => ({
        id: i.rootVolumeId, inst: i,
        state: i.state === 'shutting-down' ? 'deleting' : 'in-use',
      }));
      const ids = ctx.q.list('VolumeId');
      if (ids.length) {
        const missing = ids.filter((id) => !vols.some((v) => v.id === id));
        if (missing.length) throw new CloudError('InvalidVolume.NotFound', `The volume '${missing.join(', ')}' does not exist.`);
        vols = vols.filter((v) => ids.includes(v.id));
      }
      const tags = ctx.cloud.tags.of(vols.map((v) => v.id));
      for (const f of ctx.q.filters()) {
        const get: Record<string, (v: (typeof vols)[number]) => string | undefined> = {
          'volume-id': (v) => v.id, 'attachment.instance-id': (v) => v.inst.id, 'attachment.device': () => '/dev/xvda',
          'attachment.status': () => 'attached', 'availability-zone': (v) => v.inst.availabilityZone, status: (v) => v.state,
          'volume-type': () => 'gp3', 'attachment.delete-on-termination': () => 'true', size: (v) => String(v.inst.rootVolumeSizeGiB),
          encrypted: () => 'false',
        };
        if (f.name.startsWith('tag:')) vols = vols.filter((v) => matches(tags.get(v.id)?.find((t) => t.key === f.name.slice(4))?.value, f.values));
        else if (get[f.name]) vols = vols.filter((v) => matches(get[f.name]!(v), f.values));
        else throw new CloudError('InvalidParameterValue', `The filter '${f.name}' is invalid`);
      }
      return {
        volumeSet: vols.map((v) => ({
          volumeId: v.id, size: v.inst.rootVolumeSizeGiB, snapshotId: '', availabilityZone: v.inst.availabilityZone, status: v.state,
          createTime: new Date(v.inst.launchTime),
          attachmentSet: [{ volumeId: v.id, instanceId: v.inst.id, device: '/dev/xvda', status: 'attached', attachTime: new Date(v.inst.launchTime), deleteOnTermination: true }],
          volumeType: 'gp3', iops: 3000, throughput: 125, encrypted: false, multiAttachEnabled: false,
          tagSet: tagSet(tags.get(v.id)),
        })),
      };
    },
  },
};
