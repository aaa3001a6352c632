/**
 * Limits per account and a host that launches a few at a time, over the fake host: RunInstances launches up to MaxCount
 * within the account's instance and vCPU limits and fails only when MinCount does not fit; StartInstances too. A
 * terminate cancels launches queued or under way: no unit starts for a terminated instance, nothing stays behind. And
 * the server starts whatever the database holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateVpcCommand, DeleteVpcCommand, DescribeVpcsCommand, DescribeInstancesCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { startApi, until, type TestApi } from '../support/api.js';
import { defaultLimits } from '../../src/cloud/config.js';
import { Cloud } from '../../src/cloud/index.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { Code?: string }).Code ?? (e as Error).name, message: (e as Error).message };
  }
  return { code: 'no error', message: '' };
}

async function states(ids: string[]): Promise<string[]> {
  const r = await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return r.Reservations!.flatMap((x) => x.Instances!).map((i) => i.State!.Name!);
}

const run = (MinCount: number, MaxCount: number, InstanceType = 't3.micro', client = api.ec2) =>
  client.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: InstanceType as never, MinCount, MaxCount }));

async function terminateAll(client = api.ec2): Promise<void> {
  const all = (await client.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!)
    .filter((i) => i.State!.Name !== 'terminated').map((i) => i.InstanceId!);
  if (all.length) await client.send(new TerminateInstancesCommand({ InstanceIds: all }));
  await api.cloud.instances.idle();
}

/** Forks (the first host step of a container's launch) wait until released; how many ran at once is kept. */
function holdForks() {
  const pool = api.pool;
  const fork = pool.fork.bind(pool);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const inFlight = new Set<string>();
  const called: string[] = [];
  let most = 0;
  pool.fork = async (image: string, id: string) => {
    called.push(id);
    inFlight.add(id);
    most = Math.max(most, inFlight.size);
    try {
      await gate;
      return await fork(image, id);
    } finally {
      inFlight.delete(id);
    }
  };
  return { inFlight, called, most: () => most, release: () => { pool.fork = fork; open(); } };
}

describe('limits per account', () => {
  it('RunInstances launches up to MaxCount within the instance limit, and refuses only a MinCount that does not fit', async () => {
    api.cloud.config.limits = { ...defaultLimits, instances: 5 };
    try {
      const res = await run(1, 1000);
      expect(res.Instances).toHaveLength(5);
      const over = await errorOf(run(1, 1));
      expect(over.code).toBe('InstanceLimitExceeded');
      expect(over.message).toMatch(/instance limit of 5 allows \(5 pending, running or stopping already\)\. Terminate instances/);
      // Per account: another account has its own room.
      expect((await run(2, 3, 't3.micro', api.ec2Other)).Instances).toHaveLength(3);
      // Stopped instances hold none of it: one stopped leaves room for one.
      const one = res.Instances![0]!.InstanceId!;
      await until(async () => (await states([one]))[0] === 'running');
      await api.ec2.send(new StopInstancesCommand({ InstanceIds: [one] }));
      await until(async () => (await states([one]))[0] === 'stopped');
      const another = await run(1, 3);
      expect(another.Instances).toHaveLength(1);
      // ... and starting it again no longer fits.
      expect((await errorOf(api.ec2.send(new StartInstancesCommand({ InstanceIds: [one] })))).code).toBe('InstanceLimitExceeded');
      expect((await states([one]))[0]).toBe('stopped');
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [another.Instances![0]!.InstanceId!] }));
      await until(async () => (await states([another.Instances![0]!.InstanceId!]))[0] === 'terminated');
      expect((await api.ec2.send(new StartInstancesCommand({ InstanceIds: [one] }))).StartingInstances?.[0]?.CurrentState?.Name).toBe('pending');
    } finally {
      api.cloud.config.limits = { ...defaultLimits };
      await terminateAll();
      await terminateAll(api.ec2Other);
    }
  });

  it('counts vCPUs: VcpuLimitExceeded as EC2 words it when MinCount does not fit, otherwise as many as fit', async () => {
    api.cloud.config.limits = { ...defaultLimits, vcpus: 7 };
    try {
      // t3.micro has 2 vCPUs: 3 fit in 7.
      expect((await run(1, 10)).Instances).toHaveLength(3);
      const over = await errorOf(run(1, 1));
      expect(over.code).toBe('VcpuLimitExceeded');
      expect(over.message).toContain('You have requested more vCPU capacity than your current vCPU limit of 7 allows for the instance bucket that the specified instance type belongs to');
      expect(over.message).toContain('6 vCPUs in use');
    } finally {
      api.cloud.config.limits = { ...defaultLimits };
      await terminateAll();
    }
  });

  it('one call launches at most 100, whatever the limits; the refusal creates nothing', async () => {
    api.cloud.config.limits = { ...defaultLimits, instances: 1000, vcpus: 10_000 };
    try {
      const before = (await api.ec2.send(new DescribeInstancesCommand({}))).Reservations!.length;
      expect((await errorOf(run(101, 200))).code).toBe('InstanceLimitExceeded');
      expect((await errorOf(run(Number.MAX_SAFE_INTEGER + 2, Number.MAX_SAFE_INTEGER + 2))).code).not.toBe('no error');
      expect((await api.ec2.send(new DescribeInstancesCommand({}))).Reservations!.length).toBe(before);
    } finally {
      api.cloud.config.limits = { ...defaultLimits };
    }
  });
});

describe('VPCs per account', () => {
  it('CreateVpc past the limit (the default VPC counts) is VpcLimitExceeded, and creates nothing', async () => {
    const held = (await api.ec2.send(new DescribeVpcsCommand({}))).Vpcs!.length;
    api.cloud.config.limits = { ...defaultLimits, vpcs: held + 1 };
    try {
      const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16' }))).Vpc!;
      const refused = await errorOf(api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.78.0.0/16' })));
      expect(refused.code).toBe('VpcLimitExceeded');
      expect(refused.message).toMatch(/maximum number of VPCs/);
      expect((await api.ec2.send(new DescribeVpcsCommand({}))).Vpcs!.length).toBe(held + 1);
      await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId! }));
    } finally {
      api.cloud.config.limits = { ...defaultLimits };
    }
  });
});

describe('launches on the host', () => {
  it('run a few at a time, the rest pending until a slot is free', async () => {
    await api.cloud.instances.idle();
    api.cloud.config.limits = { ...defaultLimits, launchConcurrency: 2 };
    const forks = holdForks();
    try {
      const res = await run(6, 6);
      const ids = res.Instances!.map((i) => i.InstanceId!);
      await until(() => forks.inFlight.size === 2);
      expect(await states(ids)).toEqual(ids.map(() => 'pending'));
      forks.release();
      await until(async () => (await states(ids)).every((s) => s === 'running'));
      expect(forks.most()).toBe(2);
    } finally {
      forks.release();
      api.cloud.config.limits = { ...defaultLimits };
      await terminateAll();
    }
  });

  it('a terminate cancels launches queued or under way: no unit starts, no disk, network or unit stays', async () => {
    await api.cloud.instances.idle();
    api.cloud.config.limits = { ...defaultLimits, launchConcurrency: 2 };
    const forks = holdForks();
    try {
      const ids = (await run(8, 8)).Instances!.map((i) => i.InstanceId!);
      // Two launches are under way (their forks held), six wait for a slot.
      await until(() => forks.inFlight.size === 2);
      const t = await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
      expect(t.TerminatingInstances!.map((c) => c.CurrentState!.Name)).toEqual(ids.map(() => 'shutting-down'));
      // The forks under way finish only now, after the terminate: their launches go no further.
      forks.release();
      await until(async () => (await states(ids)).every((s) => s === 'terminated'));
      await api.cloud.instances.idle();
      const names = new Set(ids.map((id) => `pcloud-instance@${id}`));
      expect(api.units.started.filter((s) => names.has(s.name))).toEqual([]);
      for (const id of ids) {
        expect(await api.pool.hasDisk(id)).toBe(false);
        expect(api.network.attached.has(id)).toBe(false);
        expect(api.units.units.has(`pcloud-instance@${id}`)).toBe(false);
      }
      // The six that waited never touched the host.
      expect(forks.called).toHaveLength(2);
      expect(forks.most()).toBe(2);
    } finally {
      forks.release();
      api.cloud.config.limits = { ...defaultLimits };
    }
  });

  it('a terminate while the unit starts waits for that start, then takes the unit down', async () => {
    await api.cloud.instances.idle();
    api.units.autoReady = false;
    try {
      const id = (await run(1, 1)).Instances![0]!.InstanceId!;
      await until(() => api.units.units.get(`pcloud-instance@${id}`));
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await until(async () => (await states([id]))[0] === 'terminated');
      expect(api.units.units.has(`pcloud-instance@${id}`)).toBe(false);
      expect(await api.pool.hasDisk(id)).toBe(false);
    } finally {
      api.units.autoReady = true;
    }
  });

  it('a terminate while the host is still starting the unit: the start finishes, then the unit is taken down', async () => {
    await api.cloud.instances.idle();
    const units = api.units;
    const start = units.start.bind(units);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    let starting = 0;
    units.start = async (spec) => {
      starting++;
      await gate;
      return start(spec);
    };
    try {
      const id = (await run(1, 1)).Instances![0]!.InstanceId!;
      await until(() => starting === 1);
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      expect((await states([id]))[0]).toBe('shutting-down');
      open();
      await until(async () => (await states([id]))[0] === 'terminated');
      expect(units.units.has(`pcloud-instance@${id}`)).toBe(false);
      expect(await api.pool.hasDisk(id)).toBe(false);
      expect(api.network.attached.has(id)).toBe(false);
    } finally {
      units.start = start;
      open();
    }
  });

  it('a unit that comes up after its instance was terminated is stopped and removed', async () => {
    const id = (await run(1, 1)).Instances![0]!.InstanceId!;
    await until(async () => (await states([id]))[0] === 'running');
    const spec = api.units.started.find((s) => s.name === `pcloud-instance@${id}`)!;
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await states([id]))[0] === 'terminated');
    // The host carries out a start late (a supervisor that had not yet begun when the unit was stopped).
    await api.units.start(spec);
    await until(() => !api.units.units.has(spec.name));
  });
});

describe('a server starts whatever its database holds', () => {
  it('an instance record that cannot be read is reported and skipped; reconcile and start go on', async () => {
    await terminateAll();
    const [good, bad] = (await run(2, 2)).Instances!.map((i) => i.InstanceId!);
    await until(async () => (await states([good!, bad!])).every((s) => s === 'running'));
    await api.cloud.instances.idle();
    api.cloud.db.$client.prepare('UPDATE instances SET attributes = ? WHERE id = ?').run('{not json', bad);
    // A running instance whose unit ended while nobody watched, beside the broken one.
    api.units.units.delete(`pcloud-instance@${good}`);
    const stats = await api.cloud.instances.reconcile();
    expect(stats.skipped).toBe(1);
    expect(stats.ended).toBe(1);
    // The whole server again on this database: it starts.
    const again = await Cloud.open({ dataDir: api.cloud.dataDir, host: api.cloud.host, config: { terminatedTtlMs: 3_600_000 } });
    try {
      await again.start();
      expect((await again.instances.row(good!))?.state).toBe('stopped');
    } finally {
      await again.close();
    }
    api.cloud.db.$client.prepare("UPDATE instances SET attributes = (SELECT attributes FROM instances WHERE id = ?) WHERE id = ?").run(good, bad);
  });
});
