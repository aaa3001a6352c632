/**
 * RegisterImage from a snapshot over a fake host: a snapshot of a VM's root volume becomes an AMI that launches (its
 * disk the snapshot's, its kernel the VM's image's) and deregisters; a data volume's snapshot is refused unless it
 * boots from UEFI firmware; the parameters are checked as AWS checks them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateSnapshotCommand, CreateVolumeCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeInstancesCommand,
  RegisterImageCommand, RunInstancesCommand, type RegisterImageCommandInput,
} from '@aws-sdk/client-ec2';
import { imageRunsAsVm, startApi, until, type TestApi } from '../support/api.js';

let api: TestApi;
let vmRootSnapshot: string;
beforeAll(async () => {
  api = await startApi();
  await imageRunsAsVm(api);
  await writeFile(join(api.pool.vmDir(api.imageId), 'vmlinux'), 'kernel of the base image');
  // A VM and CreateSnapshot of its root volume (its raw disk, by reflink).
  const inst = (await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1 }))).Instances![0]!;
  await until(async () => (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.InstanceId!] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name === 'running');
  await writeFile(api.pool.rawDiskPath(inst.InstanceId!), 'root disk of the VM');
  const snap = await api.ec2.send(new CreateSnapshotCommand({ VolumeId: inst.BlockDeviceMappings![0]!.Ebs!.VolumeId! }));
  expect(snap).toMatchObject({ VolumeId: inst.BlockDeviceMappings![0]!.Ebs!.VolumeId!, VolumeSize: 8, State: 'completed' });
  vmRootSnapshot = snap.SnapshotId!;
});
afterAll(async () => { await api?.close(); });

async function error(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { Code?: string }).Code ?? (e as Error).name, message: (e as Error).message };
  }
  return { code: 'no error', message: '' };
}

const register = (over: Partial<RegisterImageCommandInput> = {}) => api.ec2.send(new RegisterImageCommand({
  Name: 'from-snapshot', RootDeviceName: '/dev/xvda', VirtualizationType: 'hvm', Architecture: 'x86_64', EnaSupport: true,
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: vmRootSnapshot, VolumeSize: 8 } }],
  ...over,
}));

describe('RegisterImage from a snapshot', () => {
  it("makes an AMI of a VM's root snapshot that launches, then deregisters", async () => {
    const { ImageId } = await register({ Description: 'root of a VM', TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'k', Value: 'v' }] }] });
    expect(ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
    const img = (await api.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images![0]!;
    expect(img).toMatchObject({ Name: 'from-snapshot', Description: 'root of a VM', Architecture: 'x86_64', State: 'available', Public: false, BootMode: 'legacy-bios' });
    expect(img.BlockDeviceMappings![0]!.Ebs!.SnapshotId).toBe(vmRootSnapshot);
    expect(img.Tags).toEqual([{ Key: 'k', Value: 'v' }]);
    const dir = api.pool.vmDir(ImageId!);
    expect(await readFile(join(dir, 'disk.raw'), 'utf8')).toBe('root disk of the VM');
    expect(await readFile(join(dir, 'vmlinux'), 'utf8')).toBe('kernel of the base image');

    // It runs as a VM (its disk has no container root).
    const id = (await api.ec2.send(new RunInstancesCommand({ ImageId, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    await until(async () => (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name === 'running');
    expect((await error(api.ec2.send(new RunInstancesCommand({ ImageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 })))).code).toBe('InvalidParameterCombination');

    expect((await error(register())).code).toBe('InvalidAMIName.Duplicate');
    await api.ec2.send(new DeregisterImageCommand({ ImageId }));
    expect((await error(api.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] })))).code).toBe('InvalidAMIID.NotFound');
  });

  it("refuses a data volume's snapshot unless it boots from UEFI firmware, saying what to do", async () => {
    const vol = await api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    const snap = await api.ec2.send(new CreateSnapshotCommand({ VolumeId: vol.VolumeId }));
    const mapping = [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap.SnapshotId } }];
    const e = await error(register({ Name: 'data-disk', BlockDeviceMappings: mapping }));
    expect(e.code).toBe('InvalidParameterValue');
    expect(e.message).toContain(`is of the data volume '${vol.VolumeId}'`);
    expect(e.message).toContain('BootMode uefi');
    const { ImageId } = await register({ Name: 'uefi-disk', BootMode: 'uefi', BlockDeviceMappings: mapping });
    const img = (await api.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images![0]!;
    expect(img.BootMode).toBe('uefi');
    await api.ec2.send(new DeregisterImageCommand({ ImageId }));
  });

  it("answers bad parameters with AWS's codes and registers nothing", async () => {
    const before = (await api.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images!.length;
    const cases: [Partial<RegisterImageCommandInput>, string][] = [
      [{ Name: 'ab' }, 'InvalidAMIName.Malformed'],
      [{ Name: 'semi;colon' }, 'InvalidAMIName.Malformed'],
      [{ Name: undefined }, 'MissingParameter'],
      [{ Description: 'd'.repeat(256) }, 'InvalidParameterValue'],
      [{ Architecture: 'sparc' as never }, 'InvalidParameterValue'],
      [{ Architecture: 'arm64' }, 'InvalidParameterValue'],
      [{ Architecture: 'i386' }, 'UnsupportedOperation'],
      [{ VirtualizationType: 'paravirtual' }, 'UnsupportedOperation'],
      [{ BootMode: 'bios' as never }, 'InvalidParameterValue'],
      [{ RootDeviceName: '/dev/$(x)' }, 'InvalidParameterValue'],
      [{ RootDeviceName: '/dev/sda1' }, 'InvalidBlockDeviceMapping'],
      [{ BlockDeviceMappings: [] }, 'MissingParameter'],
      [{ ImageLocation: 'bucket/manifest.xml' }, 'UnsupportedOperation'],
      [{ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: vmRootSnapshot, VolumeSize: 4 } }] }, 'InvalidBlockDeviceMapping'],
      [{ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-nope' } }] }, 'InvalidSnapshotID.Malformed'],
      [{ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-00000000000000000' } }] }, 'InvalidSnapshot.NotFound'],
      [{ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: vmRootSnapshot } }, { DeviceName: '/dev/xvdb', Ebs: { SnapshotId: vmRootSnapshot } }] }, 'UnsupportedOperation'],
    ];
    for (const [over, code] of cases) expect([over, (await error(register({ Name: 'bad-one', ...over }))).code]).toEqual([over, code]);
    // Another account cannot register this account's snapshot.
    expect((await error(api.ec2Other.send(new RegisterImageCommand({
      Name: 'theirs', RootDeviceName: '/dev/xvda', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: vmRootSnapshot } }],
    })))).code).toBe('InvalidSnapshot.NotFound');
    expect((await error(register({ Name: 'dry-run', DryRun: true }))).code).toBe('DryRunOperation');
    expect((await api.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images!.length).toBe(before);
  });
});
