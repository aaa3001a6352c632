/**
 * What the domain asks of running VMs, through the API over the fake host's VM control: health from QEMU's run state,
 * reboot as a reset, stop as the power button, hot plug and unplug of volumes, screenshots, and that a failed plug
 * leaves no export behind. The real QEMU is in test/integration/vm.test.ts and q35.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import {
  AttachVolumeCommand, CreateVolumeCommand, DescribeInstancesCommand, DescribeInstanceStatusCommand, DetachVolumeCommand,
  GetConsoleScreenshotCommand, RebootInstancesCommand, RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, type _InstanceType,
} from '@aws-sdk/client-ec2';
import { instances } from '../../src/db/schema.js';
import { uplinkAddresses } from '../../src/host/network.js';
import { imageRunsAsVm, startApi, until, type TestApi } from '../support/api.js';
import { FAKE_SCREENSHOT, FakeVmControl } from '../support/fake-vm-control.js';

let api: TestApi;
let vms: FakeVmControl;
beforeAll(async () => {
  api = await startApi();
  await imageRunsAsVm(api);
  const control = api.cloud.host.vms;
  if (!(control instanceof FakeVmControl)) throw new Error('the fake host has no fake VM control');
  vms = control;
});
afterAll(async () => { await api?.close(); });

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.name);

async function state(id: string): Promise<string | undefined> {
  return (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

async function run(type: _InstanceType): Promise<string> {
  const id = (await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: type, MinCount: 1, MaxCount: 1 }))).Instances?.[0]?.InstanceId;
  if (!id) throw new Error('no instance');
  await until(async () => (await state(id)) === 'running');
  return id;
}

async function health(id: string): Promise<string | undefined> {
  return (await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses?.[0]?.InstanceStatus?.Status;
}

/**
 * The fake host cannot launch a q35 VM (its TPM's socket never appears), so a running microvm stands in for one: the
 * domain decides by the runtime it has stored.
 */
async function asQ35(id: string): Promise<void> {
  await api.cloud.db.update(instances).set({ runtime: 'q35' }).where(eq(instances.id, id));
}

describe('VM control', () => {
  it("a running VM's health is what its QEMU says", async () => {
    const id = await run('c5.large');
    expect(await health(id)).toBe('ok');
    vms.states.set(id, 'guest-panicked');
    expect(await health(id)).toBe('impaired');
    vms.states.delete(id);
    vms.silent.add(id);
    expect(await health(id)).toBe('impaired');
    vms.silent.delete(id);
    expect(await health(id)).toBe('ok');
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('reboots a VM by a reset in place, and stops it by its power button', async () => {
    const [vm, container] = await Promise.all([run('c5.large'), run('t3.micro')]);
    await api.ec2.send(new RebootInstancesCommand({ InstanceIds: [vm, container] }));
    await until(async () => vms.resets.includes(vm));
    expect(vms.resets).not.toContain(container);
    await api.ec2.send(new StopInstancesCommand({ InstanceIds: [vm] }));
    await until(async () => (await state(vm)) === 'stopped');
    expect(vms.presses).toEqual([vm]);
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [vm, container] }));
  });

  it('hot plugs volumes into a running q35 VM over iSCSI, as many as it has slots, and unplugs them', async () => {
    const id = await run('c5.large');
    await asQ35(id);
    const vols = await Promise.all(Array.from({ length: vms.hotPlugSlots + 1 }, async () =>
      (await api.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId ?? ''));
    const devices = ['/dev/sdf', '/dev/sdg', '/dev/sdh'];
    for (const [i, vol] of vols.slice(0, -1).entries()) {
      await api.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: id, Device: devices[i] }));
    }
    // Each is exported to the VM's VPC router, and QEMU opens it by the export's URL.
    expect(vms.plugged.get(id)?.map((d) => d.id)).toEqual(vols.slice(0, -1));
    const vpcId = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.VpcId ?? '';
    const up = uplinkAddresses(vpcId);
    for (const d of vms.plugged.get(id) ?? []) {
      expect(d.uri).toBe(api.iscsi.uri(d.id, up.host));
      expect(api.iscsi.exported.get(d.id)?.initiator).toBe(up.router);
    }
    // No slot left: the attach fails, and neither the attachment nor the export stays.
    const last = vols.at(-1) ?? '';
    expect(await code(api.ec2.send(new AttachVolumeCommand({ VolumeId: last, InstanceId: id, Device: '/dev/sdh' })))).toBe('AttachmentLimitExceeded');
    expect(api.iscsi.exported.has(last)).toBe(false);

    // A guest that does not let go: the detach fails unless forced (which waits less).
    const [first, second] = vols;
    vms.holding.add(id);
    expect(await code(api.ec2.send(new DetachVolumeCommand({ VolumeId: first })))).toBe('IncorrectState');
    await api.ec2.send(new DetachVolumeCommand({ VolumeId: first, Force: true }));
    expect(vms.unplugWaits.map((u) => [u.diskId, u.waitMs])).toEqual([[first, 10_000], [first, 1_000]]);
    expect(api.iscsi.exported.has(first ?? '')).toBe(false);
    vms.holding.delete(id);
    await api.ec2.send(new DetachVolumeCommand({ VolumeId: second }));
    expect(vms.plugged.get(id)?.map((d) => d.id)).toEqual([first]);
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it("a q35 VM's screenshot is its display's JPEG; other instances have no display", async () => {
    const [vm, microvm] = await Promise.all([run('c5.large'), run('c5.large')]);
    await asQ35(vm);
    const shot = await api.ec2.send(new GetConsoleScreenshotCommand({ InstanceId: vm }));
    expect(Buffer.from(shot.ImageData ?? '', 'base64')).toEqual(FAKE_SCREENSHOT);
    expect(await code(api.ec2.send(new GetConsoleScreenshotCommand({ InstanceId: microvm })))).toBe('UnsupportedOperation');
    expect(await code(api.ec2Other.send(new GetConsoleScreenshotCommand({ InstanceId: vm })))).toBe('InvalidInstanceID.NotFound');
    expect(await api.cloud.consoles.display('111111111111', vm)).toBe(vms.display(vm));
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [vm, microvm] }));
  });
});
