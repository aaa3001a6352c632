/**
 * A host that reboots brings back every instance that was running (issue 17), as EC2 does after host maintenance; a
 * restart in the same boot keeps reading a unit that ended as its guest's doing. Over the fake host: the reboot is its
 * units (and what its drivers hold) gone and a new boot id, then the server opened again on the same data dir.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cloud } from '../../src/cloud/index.js';
import { newId } from '../../src/cloud/ids.js';
import { SYSTEM_ACCOUNT } from '../../src/cloud/images.js';
import type { Instance } from '../../src/cloud/instances/index.js';
import { TPM_PREFIX, UNIT_PREFIX } from '../../src/cloud/instances/types.js';
import { images } from '../../src/db/schema.js';
import { tpmSocket } from '../../src/host/q35.js';
import { recordTakenDown, takenDown } from '../../src/host/teardown.js';
import type { UnitSpec } from '../../src/host/units/types.js';
import { fakeHost } from '../support/fake-host.js';
import { waitFor } from '../support/wait.js';

const ACCOUNT = '111111111111';
const open = new Set<Cloud>();

afterEach(async () => {
  for (const c of open) await c.close();
  open.clear();
});

/** A server on the fake host and a data dir of its own, its images registered: a container/microvm one and a UEFI one. */
async function setup() {
  const fake = await fakeHost();
  // q35 VMs: firmware variables from a template, and a TPM whose socket appears when its unit starts.
  const ovmf = join(fake.dir, 'ovmf');
  await mkdir(ovmf, { recursive: true });
  await writeFile(join(ovmf, 'OVMF_CODE_4M.fd'), 'code');
  await writeFile(join(ovmf, 'OVMF_VARS_4M.fd'), 'vars');
  Object.assign(fake.host, { config: { ...fake.host.config, ovmfDir: ovmf } });
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-reboot-'));
  const config = { terminatedTtlMs: 3_600_000 };
  let cloud!: Cloud;
  const start = fake.units.start.bind(fake.units);
  /** What the host was asked, in order: instance units started, and the VPC plane's sweep of host links. */
  const asked: string[] = [];
  const sweep = fake.network.reconcileLinks.bind(fake.network);
  fake.network.reconcileLinks = () => { asked.push('sweep'); return sweep(); };
  fake.units.start = async (spec: UnitSpec) => {
    if (spec.name.startsWith(UNIT_PREFIX)) asked.push(spec.name);
    await start(spec);
    if (spec.name.startsWith(TPM_PREFIX)) await writeFile(tpmSocket(cloud.vms.runDir(spec.name.slice(TPM_PREFIX.length))), '');
  };
  const openCloud = async () => {
    cloud = await Cloud.open({ dataDir, host: fake.host, config });
    open.add(cloud);
    await cloud.start();
    return cloud;
  };
  await openCloud();
  const linux = newId('ami');
  const uefi = newId('ami');
  await cloud.db.insert(images).values([
    { id: linux, name: 'debian-12', bootMode: 'legacy-bios', rootPath: await fake.pool.createImageRoot(linux) },
    { id: uefi, name: 'uefi-disk', bootMode: 'uefi', rootPath: '' },
  ].map((i) => ({
    ...i, ownerId: SYSTEM_ACCOUNT, description: 'test image', architecture: 'x86_64', platform: 'linux', state: 'available',
    isPublic: true, sizeBytes: 1 << 30, source: 'test', createdAt: Date.now(),
  })));
  for (const id of [linux, uefi]) {
    const vm = fake.pool.vmDir(id);
    await mkdir(vm, { recursive: true });
    await writeFile(join(vm, 'vmlinux'), '');
    await writeFile(join(vm, 'disk.raw'), '');
  }
  const launch = async (imageId: string, instanceType: string, shutdown: 'stop' | 'terminate' = 'stop'): Promise<Instance> => {
    const [inst] = (await cloud.instances.run(ACCOUNT, {
      imageId, instanceType, minCount: 1, maxCount: 1, securityGroupIds: [], securityGroups: [], tagSpecifications: [], metadataOptions: {},
      instanceInitiatedShutdownBehavior: shutdown,
        })).instances;
    await waitFor(`${inst!.id} running`, async () => (await cloud.instances.row(inst!.id))?.state === 'running');
    return (await cloud.instances.row(inst!.id))!;
  };
  /** The server goes down, and with it (a reboot) or without, what the host held. */
  const restart = async (opts: { reboot: boolean; whileDown?: () => void }) => {
    await cloud.instances.idle();
    await cloud.close();
    open.delete(cloud);
    opts.whileDown?.();
    if (opts.reboot) {
      fake.units.units.clear();
      fake.network.attached.clear();
      fake.network.vpcs.clear();
      fake.nfs.exported.clear();
      fake.iscsi.exported.clear();
      fake.machine.bootIdNow = `${fake.machine.bootIdNow}+1`;
    }
    fake.units.started.length = 0;
    asked.length = 0;
    return openCloud();
  };
  return { fake, linux, uefi, launch, restart, asked, cloud: () => cloud };
}

const state = async (cloud: Cloud, id: string) => (await cloud.instances.row(id))?.state;

describe('a host that reboots', () => {
  it('brings back every running instance (containers, microvms, q35 VMs; shutdown behaviour stop or terminate) with its address, MAC, disk and volumes; stopped and stopping ones stay stopped', async () => {
    const { fake, linux, uefi, launch, restart, asked, cloud: current } = await setup();
    let cloud = current();
    const container = await launch(linux, 't3.micro');
    const doomed = await launch(linux, 't3.micro', 'terminate');
    const microvm = await launch(linux, 'c5.large');
    const q35 = await launch(uefi, 'm5.large', 'terminate');
    const stopped = await launch(linux, 't3.micro');
    const stopping = await launch(linux, 't3.micro');
    const [vol, vmVol] = [await cloud.volumes.create(ACCOUNT, { availabilityZone: container.availabilityZone, size: 1, tags: [] }), await cloud.volumes.create(ACCOUNT, { availabilityZone: container.availabilityZone, size: 1, tags: [] })];
    await cloud.volumes.attach(ACCOUNT, vol.id, container.id, '/dev/sdf');
    await cloud.volumes.attach(ACCOUNT, vmVol.id, q35.id, '/dev/sdg');
    await cloud.instances.stop(ACCOUNT, [stopped.id]);
    await cloud.instances.idle();
    expect(await state(cloud, stopped.id)).toBe('stopped');
    // The server died while this one was being stopped.
    cloud.db.$client.prepare("UPDATE instances SET state = 'stopping' WHERE id = ?").run(stopping.id);
    const diskFile = join(fake.pool.diskPath(container.id), 'etc', 'written-before');
    await writeFile(diskFile, 'kept');
    const mountsBefore = fake.nfs.mounts.length;

    cloud = await restart({ reboot: true });
    const back = [container, doomed, microvm, q35];
    // Launched again through StartInstances' path: pending first, then running, each unit started once.
    for (const i of back) expect(await state(cloud, i.id)).toBe('pending');
    await waitFor('all running again', async () => (await Promise.all(back.map(async (i) => (await state(cloud, i.id)) === 'running'))).every(Boolean));
    expect(fake.units.started.filter((s) => s.name.startsWith(UNIT_PREFIX)).map((s) => s.name).sort()).toEqual(back.map((i) => UNIT_PREFIX + i.id).sort());
    // After the VPC plane's sweep of host links, which would race the routers and links these launches make.
    expect(asked[0]).toBe('sweep');
    for (const before of back) {
      const after = (await cloud.instances.row(before.id))!;
      expect(after).toMatchObject({ privateIp: before.privateIp, macAddress: before.macAddress, rootVolumeId: before.rootVolumeId, stateReasonCode: null });
    }
    expect(fake.network.attached.get(container.id)).toMatchObject({ ip: container.privateIp, mac: container.macAddress });
    expect(fake.network.vpcs.has(container.vpcId)).toBe(true);
    // Its disk as it was (not forked anew), its volume exported and mounted again; the VM's volume exported again, and
    // its TPM started again beside it.
    expect(await readFile(diskFile, 'utf8')).toBe('kept');
    expect(fake.nfs.exported.has(vol.id)).toBe(true);
    expect(fake.nfs.mounts.slice(mountsBefore).map((m) => m.volumeId)).toContain(vol.id);
    expect(fake.iscsi.exported.has(vmVol.id)).toBe(true);
    expect(fake.units.units.get(TPM_PREFIX + q35.id)?.state).toBe('active');
    expect((await cloud.volumes.forInstance(q35.id)).map((v) => v.id)).toEqual([vmVol.id]);
    // A stopped one stays stopped; a stopping one finishes stopping; nothing else was started.
    expect(await state(cloud, stopped.id)).toBe('stopped');
    expect(await state(cloud, stopping.id)).toBe('stopped');
    expect(fake.units.units.has(UNIT_PREFIX + stopped.id)).toBe(false);
    expect(fake.units.units.has(UNIT_PREFIX + stopping.id)).toBe(false);
    // What the reboot counts as: none ended, all four relaunched; a later start in the same boot relaunches nothing.
    expect((await cloud.hosts.local())?.bootId).toBe(fake.machine.bootIdNow);
    cloud = await restart({ reboot: false });
    await cloud.instances.idle();
    expect(fake.units.started.filter((s) => s.name.startsWith(UNIT_PREFIX))).toEqual([]);
    for (const i of back) expect(await state(cloud, i.id)).toBe('running');
  });
});

describe('a restart in the same boot', () => {
  it('reads a unit that ended, or that systemd collected after a clean end, as the guest\'s own shutdown (per its shutdown behaviour)', async () => {
    const { fake, linux, launch, restart } = await setup();
    const failed = await launch(linux, 't3.micro');
    const collected = await launch(linux, 't3.micro');
    const terminates = await launch(linux, 't3.micro', 'terminate');
    const running = await launch(linux, 't3.micro');
    const cloud = await restart({
      reboot: false,
      whileDown: () => {
        fake.units.exit(UNIT_PREFIX + failed.id, 'exit-code');
        fake.units.units.delete(UNIT_PREFIX + collected.id);
        fake.units.exit(UNIT_PREFIX + terminates.id, 'success');
      },
    });
    await cloud.instances.idle();
    expect(await cloud.instances.row(failed.id)).toMatchObject({ state: 'stopped', stateReasonCode: 'Server.InternalError' });
    expect(await cloud.instances.row(collected.id)).toMatchObject({ state: 'stopped', stateReasonCode: 'Client.InstanceInitiatedShutdown' });
    expect(await cloud.instances.row(terminates.id)).toMatchObject({ state: 'terminated', stateReasonCode: 'Client.InstanceInitiatedShutdown' });
    expect((await cloud.instances.row(running.id))?.state).toBe('running');
    expect(fake.units.started.filter((s) => s.name.startsWith(UNIT_PREFIX))).toEqual([]);
  });

  it('an end heard before reconcile looked at the instance waits for it: a lost unit\'s event does not stop the instance reconcile brings back', async () => {
    const { fake, linux, launch, restart } = await setup();
    const lost = await launch(linux, 't3.micro');
    // The unit manager tells of the lost unit as the server starts: after it follows units, before reconcile runs.
    const bootId = fake.machine.bootId.bind(fake.machine);
    fake.machine.bootId = () => {
      fake.units.exit(UNIT_PREFIX + lost.id, 'supervisor-died');
      return bootId();
    };
    const cloud = await restart({ reboot: false });
    await waitFor('the lost one running again', async () => (await cloud.instances.row(lost.id))?.state === 'running');
    expect(fake.units.started.map((s) => s.name)).toEqual([UNIT_PREFIX + lost.id]);
  });

  it('brings back an instance whose unit its host lost (the direct manager\'s supervisor killed), not one that ended', async () => {
    const { fake, linux, launch, restart } = await setup();
    const lost = await launch(linux, 't3.micro');
    const ended = await launch(linux, 't3.micro');
    const cloud = await restart({
      reboot: false,
      whileDown: () => {
        // One supervisor killed with its guest, one guest that crashed on its own.
        Object.assign(fake.units.units.get(UNIT_PREFIX + lost.id)!, { state: 'failed', result: 'supervisor-died' });
        Object.assign(fake.units.units.get(UNIT_PREFIX + ended.id)!, { state: 'failed', result: 'signal', signal: 'SIGSEGV' });
      },
    });
    await waitFor('the lost one running again', async () => (await cloud.instances.row(lost.id))?.state === 'running');
    expect(fake.units.started.map((s) => s.name)).toEqual([UNIT_PREFIX + lost.id]);
    expect(await cloud.instances.row(ended.id)).toMatchObject({ state: 'stopped', stateReasonCode: 'Server.InternalError' });
  });
});

describe('a restart in the middle of stops and terminations', () => {
  it('serves before they end: each goes on under its instance\'s lock after the start, and ends stopped or terminated', async () => {
    const { fake, linux, launch, restart, cloud: current } = await setup();
    const stopping = await launch(linux, 't3.micro');
    const terminating = await launch(linux, 't3.micro');
    const id = [stopping.id, terminating.id];
    // Their units take as long as the gate stays closed to stop (guests shutting down on a busy host).
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const stop = fake.units.stop.bind(fake.units);
    fake.units.stop = async (name: string) => {
      if (id.some((i) => name === UNIT_PREFIX + i)) await gate;
      return stop(name);
    };
    // The server died after StopInstances and TerminateInstances had written their states.
    const set = current().db.$client.prepare('UPDATE instances SET state = ? WHERE id = ?');
    set.run('stopping', stopping.id);
    set.run('shutting-down', terminating.id);
    const cloud = await restart({ reboot: false });
    // cloud.start() has returned with both still under way: the server serves while their units stop.
    expect(await state(cloud, stopping.id)).toBe('stopping');
    expect(await state(cloud, terminating.id)).toBe('shutting-down');
    open();
    await cloud.instances.idle();
    expect(await state(cloud, stopping.id)).toBe('stopped');
    expect(await state(cloud, terminating.id)).toBe('terminated');
    expect(fake.units.units.get(UNIT_PREFIX + stopping.id)?.state).toBe('inactive');
    expect(fake.units.units.has(UNIT_PREFIX + terminating.id)).toBe(false);
    expect(fake.units.started.filter((s) => s.name.startsWith(UNIT_PREFIX))).toEqual([]);
  });
});

describe('another host\'s instances', () => {
  it('are not this host\'s to bring back or to end: a reboot or a restart here leaves them as the database has them', async () => {
    const { fake, linux, launch, restart, cloud: current } = await setup();
    const mine = await launch(linux, 't3.micro');
    const theirs = await launch(linux, 't3.micro');
    // Placed on another host (several servers on one database): its unit is there, not here.
    current().db.$client.prepare('UPDATE instances SET host_id = ? WHERE id = ?').run('h-0123456789abcdef0', theirs.id);
    let cloud = await restart({ reboot: false, whileDown: () => fake.units.units.delete(UNIT_PREFIX + theirs.id) });
    await cloud.instances.idle();
    expect(await state(cloud, theirs.id)).toBe('running');
    cloud = await restart({ reboot: true });
    await waitFor('this host\'s own running again', async () => (await state(cloud, mine.id)) === 'running');
    expect(await state(cloud, theirs.id)).toBe('running');
    expect(fake.units.started.map((s) => s.name)).toEqual([UNIT_PREFIX + mine.id]);
  });
});

describe('a data dir taken down (pcloud down)', () => {
  it('brings back the instances that ran, as after a reboot, once: its units were stopped from outside, not by their guests', async () => {
    const { fake, linux, launch, restart, cloud: current } = await setup();
    const container = await launch(linux, 't3.micro');
    const doomed = await launch(linux, 't3.micro', 'terminate');
    const stopped = await launch(linux, 't3.micro');
    await current().instances.stop(ACCOUNT, [stopped.id]);
    await current().instances.idle();
    const dataDir = current().dataDir;
    await recordTakenDown(dataDir, [UNIT_PREFIX + container.id, UNIT_PREFIX + doomed.id]);
    let cloud = await restart({
      reboot: false,
      whileDown: () => {
        // What `pcloud down` leaves: its record in the data dir (above), every unit stopped (the direct manager's
        // record says inactive; systemd collects a transient unit that ended cleanly).
        fake.units.exit(UNIT_PREFIX + container.id, 'success');
        fake.units.units.delete(UNIT_PREFIX + doomed.id);
      },
    });
    await waitFor('both running again', async () => (await state(cloud, container.id)) === 'running' && (await state(cloud, doomed.id)) === 'running');
    expect(fake.units.started.filter((s) => s.name.startsWith(UNIT_PREFIX)).map((s) => s.name).sort())
      .toEqual([UNIT_PREFIX + container.id, UNIT_PREFIX + doomed.id].sort());
    expect(await state(cloud, stopped.id)).toBe('stopped');
    expect(await takenDown(dataDir)).toBe(false);
    // Done with: a unit that ends later in the same boot is its guest's doing again.
    cloud = await restart({ reboot: false, whileDown: () => fake.units.exit(UNIT_PREFIX + container.id, 'success') });
    await cloud.instances.idle();
    expect(await cloud.instances.row(container.id)).toMatchObject({ state: 'stopped', stateReasonCode: 'Client.InstanceInitiatedShutdown' });
    expect(fake.units.started.filter((s) => s.name.startsWith(UNIT_PREFIX))).toEqual([]);
  });
});
