/**
 * Placement through the EC2 API with the AWS SDK: InsufficientInstanceCapacity as EC2 answers it (a server error, 500,
 * in EC2's XML) when the zone's hosts have no room; RunInstances calls at once never over-commit a host;
 * Placement.AvailabilityZone and the subnet's zone honoured; StartInstances re-checks its host; DescribeInstanceStatus
 * impaired while the host is not heard from.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import {
  CreateSubnetCommand, DescribeInstanceStatusCommand, DescribeInstancesCommand, DescribeVpcsCommand, RunInstancesCommand, StartInstancesCommand,
  StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { defaultHostsConfig } from '../../src/cloud/config.js';
import { hostLimits, hostUsage } from '../../src/cloud/hosts/placement.js';
import { hosts } from '../../src/db/schema.js';
import { startApi, until, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });
afterEach(async () => {
  api.cloud.config.hosts = { ...defaultHostsConfig };
  await api.cloud.hosts.beat();
  const live = (await api.ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!)
    .filter((i) => i.State!.Name !== 'terminated').map((i) => i.InstanceId!);
  if (live.length) await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: live }));
  await api.cloud.instances.idle();
});

/** The fake host (4 vCPUs, 16 GiB) holds `n` t3.micro (2 vCPUs, 1 GiB) and no more. */
function roomFor(n: number): void {
  api.cloud.config.hosts = { ...defaultHostsConfig, cpuOvercommit: n / 2, memoryOvercommit: 1 };
}

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { Code?: string; name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { code: err.Code ?? err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  return { code: 'no error', message: '' };
}

const run = (MinCount: number, MaxCount: number, more: Partial<ConstructorParameters<typeof RunInstancesCommand>[0]> = {}) =>
  api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount, MaxCount, ...more }));

async function state(id: string): Promise<string> {
  return (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.State!.Name!;
}

describe('InsufficientInstanceCapacity', () => {
  it('is a server error (500) in EC2 XML, in EC2\'s words, when MinCount does not fit; up to MaxCount otherwise', async () => {
    roomFor(3);
    expect((await run(1, 10)).Instances).toHaveLength(3);
    const refused = await errorOf(run(1, 1));
    expect(refused).toEqual({
      code: 'InsufficientInstanceCapacity', status: 500,
      message: 'We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a). Try again after instances there stop or terminate, launch fewer or a smaller instance type, or ask the operator of this cloud to add hosts.',
    });
    // The wire itself: EC2's error document, nothing of the host in it.
    const raw = await api.post(`Action=RunInstances&Version=2016-11-15&ImageId=${api.imageId}&InstanceType=t3.nano&MinCount=1&MaxCount=1`);
    expect(raw.status).toBe(500);
    expect(raw.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n?<Response><Errors><Error><Code>InsufficientInstanceCapacity<\/Code><Message>We currently do not have sufficient t3\.nano capacity in the Availability Zone you requested \(us-east-1a\)\. [^<]*<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);
    // Account limits come first: their own error, not the host's.
    api.cloud.config.limits = { ...api.cloud.config.limits, instances: 3 };
    try {
      expect((await errorOf(run(1, 1))).code).toBe('InstanceLimitExceeded');
    } finally {
      api.cloud.config.limits = { ...api.cloud.config.limits, instances: 32 };
    }
  });

  it('RunInstances calls at once never over-commit the host: exactly its room is launched, the rest refused whole', async () => {
    roomFor(10);
    const calls = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => run(i % 2 ? 2 : 1, 2)));
    const launched = calls.flatMap((c) => (c.status === 'fulfilled' ? c.value.Instances! : []));
    const refused = calls.flatMap((c) => (c.status === 'rejected' ? [(c.reason as { Code?: string }).Code] : []));
    expect(launched).toHaveLength(10);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set(['InsufficientInstanceCapacity']));
    const local = (await api.cloud.hosts.local())!;
    const used = (await hostUsage(api.cloud.db)).get(local.id)!;
    expect(used).toEqual({ vcpus: 20, memoryMiB: 10_240, instances: 10 });
    expect(used.vcpus).toBeLessThanOrEqual(hostLimits(local, api.cloud.config.hosts).vcpus);
  });
});

describe('zones', () => {
  it('Placement.AvailabilityZone and the subnet\'s zone decide the zone; a subnet in another zone is refused with it', async () => {
    api.cloud.config.availabilityZones = ['us-east-1a', 'us-east-1b'];
    try {
      const vpcId = (await api.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!.VpcId!;
      const subnetB = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '172.31.200.0/24', AvailabilityZone: 'us-east-1b' }))).Subnet!;
      // The embedded host serves zone b too (no host of its own there), and says so in the instance's placement.
      const inB = (await run(1, 1, { SubnetId: subnetB.SubnetId, Placement: { AvailabilityZone: 'us-east-1b' } })).Instances![0]!;
      expect(inB.Placement?.AvailabilityZone).toBe('us-east-1b');
      expect((await api.cloud.instances.row(inB.InstanceId!))!.hostId).toBe((await api.cloud.hosts.local())!.id);
      const mismatch = await errorOf(run(1, 1, { SubnetId: subnetB.SubnetId, Placement: { AvailabilityZone: 'us-east-1a' } }));
      expect(mismatch).toMatchObject({ code: 'InvalidParameterValue', status: 400, message: `Value (us-east-1a) for parameter availabilityZone is invalid. Subnet '${subnetB.SubnetId}' is in the availability zone us-east-1b` });
      // Without room in zone b, the error says so for zone b.
      roomFor(1);
      expect((await errorOf(run(1, 1, { SubnetId: subnetB.SubnetId }))).message).toContain('in the Availability Zone you requested (us-east-1b)');
    } finally {
      api.cloud.config.availabilityZones = ['us-east-1a'];
    }
  });
});

describe('StartInstances and lost hosts', () => {
  it('a stopped instance starts again on its host only when there is room there; a host not heard from: impaired, still running', async () => {
    roomFor(2);
    const [a, b] = (await run(2, 2)).Instances!.map((i) => i.InstanceId!);
    await until(async () => (await state(a!)) === 'running' && (await state(b!)) === 'running');
    await api.ec2.send(new StopInstancesCommand({ InstanceIds: [a!] }));
    await until(async () => (await state(a!)) === 'stopped');
    const c = (await run(1, 1)).Instances![0]!.InstanceId!;
    const refused = await errorOf(api.ec2.send(new StartInstancesCommand({ InstanceIds: [a!] })));
    expect([refused.code, refused.status]).toEqual(['InsufficientInstanceCapacity', 500]);
    expect(refused.message).toContain(`instance '${a}'`);
    expect(await state(a!)).toBe('stopped');

    // The host goes unheard: its running instances are impaired, their state unchanged; nothing new is placed.
    await until(async () => (await state(c)) === 'running');
    const local = (await api.cloud.hosts.local())!;
    await api.cloud.db.update(hosts).set({ heartbeatAt: Date.now() - 3_600_000 }).where(eq(hosts.id, local.id));
    const st = await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [b!, c] }));
    for (const s of st.InstanceStatuses!) {
      expect(s.InstanceState).toEqual({ Code: 16, Name: 'running' });
      expect(s.SystemStatus).toEqual({ Status: 'impaired', Details: [{ Name: 'reachability', Status: 'failed' }] });
      expect(s.InstanceStatus).toEqual({ Status: 'insufficient-data', Details: [{ Name: 'reachability', Status: 'insufficient-data' }] });
    }
    const impaired = await api.ec2.send(new DescribeInstanceStatusCommand({ Filters: [{ Name: 'system-status.reachability', Values: ['failed'] }] }));
    expect(impaired.InstanceStatuses!.map((s) => s.InstanceId).sort()).toEqual([b, c].sort());
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [c] }));
    await until(async () => (await state(c)) === 'terminated');
    expect((await errorOf(api.ec2.send(new StartInstancesCommand({ InstanceIds: [a!] })))).message).toMatch(/that host is not taking instances now/);
    expect((await errorOf(run(1, 1))).code).toBe('InsufficientInstanceCapacity');

    // Heard again: ok, and the stopped one starts there.
    await api.cloud.hosts.beat();
    expect((await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [b!] }))).InstanceStatuses![0]!.SystemStatus!.Status).toBe('ok');
    expect((await api.ec2.send(new StartInstancesCommand({ InstanceIds: [a!] }))).StartingInstances![0]!.CurrentState!.Name).toBe('pending');
    await until(async () => (await state(a!)) === 'running');
  });
});
