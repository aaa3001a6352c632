/**
 * Volumes and snapshots through the SDK against an in-process server over the fake host: validation and errors as EC2
 * gives them, attachment rules by runtime and state, snapshots and volumes made from them. The real thing (iSCSI
 * into a booted VM) is in test/integration/vm.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import {
  AttachVolumeCommand, CreateSnapshotCommand, CreateVolumeCommand, DeleteSnapshotCommand, DeleteVolumeCommand, DescribeInstancesCommand,
  DescribeSnapshotsCommand, DescribeVolumesCommand, DetachVolumeCommand, RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { imageRunsAsVm, startApi, until, type TestApi } from '../support/api.js';
import { nfsClientAddress } from '../../src/host/network.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
  await imageRunsAsVm(api);
});
afterAll(async () => { await api?.close(); });

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.name);

async function state(id: string): Promise<string> {
  return (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.State!.Name!;
}

describe('volumes', () => {
  it('validates CreateVolume as EC2 does', async () => {
    expect(await code(api.ec2.send(new CreateVolumeCommand({ Size: 1 })))).toBe('MissingParameter');
    expect(await code(api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1z', Size: 1 })))).toBe('InvalidParameterValue');
    expect(await code(api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a' })))).toBe('MissingParameter');
    expect(await code(api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, VolumeType: 'io1' })))).toBe('InvalidParameterValue');
    expect(await code(api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, VolumeType: 'magnetic' as never })))).toBe('InvalidParameterValue');
    expect(await code(api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, DryRun: true })))).toBe('DryRunOperation');
    expect(await code(api.ec2.send(new DeleteVolumeCommand({ VolumeId: 'vol-0123456789abcdef0' })))).toBe('InvalidVolume.NotFound');
    expect(await code(api.ec2.send(new DeleteVolumeCommand({ VolumeId: 'bogus' })))).toBe('InvalidVolumeID.Malformed');
  });

  it('creates, tags, describes, snapshots, copies and deletes volumes', async () => {
    const v = await api.ec2.send(new CreateVolumeCommand({
      AvailabilityZone: 'us-east-1a', Size: 3, VolumeType: 'gp3', TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'Name', Value: 'data' }] }],
    }));
    expect(v.State).toBe('available');
    expect(v.Iops).toBe(3000);
    expect(await readFile(api.pool.volumePath(v.VolumeId!), 'utf8')).toBe('3');
    const described = (await api.ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag:Name', Values: ['data'] }] }))).Volumes!;
    expect(described.map((d) => [d.VolumeId, d.Size, d.State, d.VolumeType])).toEqual([[v.VolumeId, 3, 'available', 'gp3']]);
    // Volumes are the account's own.
    expect(await code(api.ec2Other.send(new DescribeVolumesCommand({ VolumeIds: [v.VolumeId!] })))).toBe('InvalidVolume.NotFound');

    const snap = await api.ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId!, Description: 'before upgrade' }));
    expect([snap.State, snap.VolumeSize, snap.Progress]).toEqual(['completed', 3, '100%']);
    expect((await api.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots!.map((s) => s.SnapshotId)).toContain(snap.SnapshotId);
    expect((await api.ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'volume-id', Values: [v.VolumeId!] }] }))).Snapshots!.map((s) => s.Description)).toEqual(['before upgrade']);
    // A volume from the snapshot: a copy of its data, at least its size.
    expect(await code(api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: snap.SnapshotId!, Size: 2 })))).toBe('InvalidParameterValue');
    const copy = await api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: snap.SnapshotId! }));
    expect([copy.Size, copy.SnapshotId]).toEqual([3, snap.SnapshotId]);
    expect(await readFile(api.pool.volumePath(copy.VolumeId!), 'utf8')).toBe(`3 from ${snap.SnapshotId}`);

    await api.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap.SnapshotId! }));
    expect(await code(api.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap.SnapshotId!] })))).toBe('InvalidSnapshot.NotFound');
    for (const id of [v.VolumeId!, copy.VolumeId!]) await api.ec2.send(new DeleteVolumeCommand({ VolumeId: id }));
    expect(await code(api.ec2.send(new DescribeVolumesCommand({ VolumeIds: [v.VolumeId!] })))).toBe('InvalidVolume.NotFound');
  });

  it('attaches as AWS allows: containers over NFS, running microvm no, stopped VM yes; in use cannot be deleted; back on terminate', async () => {
    const vol = (await api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
    const [container, vm] = await Promise.all((['t3.micro', 'c5.large'] as const).map(async (type) =>
      (await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: type, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!));
    await until(async () => (await state(vm!)) === 'running' && (await state(container!)) === 'running');
    // A container takes it over NFS: exported to the instance's own NFS client address, mounted inside at /mnt/sdf.
    await api.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: container!, Device: '/dev/sdf' }));
    expect(api.nfs.exported.get(vol)?.client).toBe(nfsClientAddress(container!));
    expect(api.nfs.mounts.at(-1)).toMatchObject({ volumeId: vol, target: '/mnt/sdf', leader: process.pid });
    expect(api.network.edges.get((await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [container!] }))).Reservations![0]!.Instances![0]!.VpcId!)?.nfs?.clients).toHaveLength(1);
    await api.ec2.send(new DetachVolumeCommand({ VolumeId: vol }));
    expect(api.nfs.unmounts.at(-1)).toBe('/mnt/sdf');
    // A container's root volume is a directory, not a disk: no snapshot of it (CreateImage images it).
    const root = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [container!] }))).Reservations![0]!.Instances![0]!.BlockDeviceMappings![0]!.Ebs!.VolumeId!;
    await expect(api.ec2.send(new CreateSnapshotCommand({ VolumeId: root }))).rejects.toMatchObject({ Code: 'UnsupportedOperation' });
    await expect(api.ec2Other.send(new CreateSnapshotCommand({ VolumeId: root }))).rejects.toMatchObject({ Code: 'InvalidVolume.NotFound' });
    expect(api.nfs.exported.has(vol)).toBe(false);
    expect(await code(api.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: vm!, Device: '/dev/sdf' })))).toBe('IncorrectState');
    expect(await code(api.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: vm!, Device: 'sdf' })))).toBe('InvalidParameterValue');
    expect(await code(api.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: 'i-0123456789abcdef0', Device: '/dev/sdf' })))).toBe('InvalidInstanceID.NotFound');

    await api.ec2.send(new StopInstancesCommand({ InstanceIds: [vm!] }));
    await until(async () => (await state(vm!)) === 'stopped');
    const att = await api.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: vm!, Device: '/dev/sdf' }));
    expect([att.State, att.Device, att.InstanceId]).toEqual(['attaching', '/dev/sdf', vm]);
    const d = (await api.ec2.send(new DescribeVolumesCommand({ VolumeIds: [vol] }))).Volumes![0]!;
    expect([d.State, d.Attachments![0]!.State, d.Attachments![0]!.InstanceId]).toEqual(['in-use', 'attached', vm]);
    const inst = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [vm!] }))).Reservations![0]!.Instances![0]!;
    expect(inst.BlockDeviceMappings!.map((b) => [b.DeviceName, b.Ebs!.VolumeId === vol])).toEqual([['/dev/xvda', false], ['/dev/sdf', true]]);
    // Both in one page (its volumes read once for the page): each shows its own.
    const page = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [container!, vm!] }))).Reservations!.flatMap((r) => r.Instances!);
    expect(page.map((i) => [i.InstanceId, i.BlockDeviceMappings!.map((b) => b.DeviceName)]).sort()).toEqual([[container, ['/dev/xvda']], [vm, ['/dev/xvda', '/dev/sdf']]].sort());
    expect(await code(api.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: vm!, Device: '/dev/sdg' })))).toBe('VolumeInUse');
    expect(await code(api.ec2.send(new DeleteVolumeCommand({ VolumeId: vol })))).toBe('VolumeInUse');
    // Detach while stopped, attach again, then terminate: the volume is available again (DeleteOnTermination false).
    await api.ec2.send(new DetachVolumeCommand({ VolumeId: vol }));
    expect(await code(api.ec2.send(new DetachVolumeCommand({ VolumeId: vol })))).toBe('IncorrectState');
    await api.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: vm!, Device: '/dev/sdf' }));
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [vm!, container!] }));
    await until(async () => (await api.ec2.send(new DescribeVolumesCommand({ VolumeIds: [vol] }))).Volumes![0]!.State === 'available');
    await api.ec2.send(new DeleteVolumeCommand({ VolumeId: vol }));
  });
});
