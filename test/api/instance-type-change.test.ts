/**
 * ModifyInstanceAttribute InstanceType over a fake host: only while stopped (IncorrectInstanceState otherwise), only a
 * type the instance's runtime and architecture can take (InvalidParameterValue naming the families it can), both
 * request forms, DescribeInstanceAttribute instanceType, CPU credits following the type, and the next start's limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DescribeInstanceAttributeCommand, DescribeInstanceCreditSpecificationsCommand, DescribeInstancesCommand, ModifyInstanceAttributeCommand,
  RunInstancesCommand, StartInstancesCommand, StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { startApi, until, type TestApi } from '../support/api.js';

let api: TestApi;
let id: string;
beforeAll(async () => {
  api = await startApi();
  id = (await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
  await until(async () => (await state()) === 'running');
});
afterAll(async () => { await api?.close(); });

async function state(): Promise<string | undefined> {
  const r = await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return r.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

async function error(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { Code?: string }).Code ?? (e as Error).name, message: (e as Error).message };
  }
  return { code: 'no error', message: '' };
}

const type = async () => (await api.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'instanceType' }))).InstanceType?.Value;

describe('ModifyInstanceAttribute InstanceType', () => {
  it('is refused while the instance runs, with what to do', async () => {
    const e = await error(api.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' } })));
    expect(e.code).toBe('IncorrectInstanceState');
    expect(e.message).toContain(`The instance '${id}' is not in the 'stopped' state`);
    expect(await type()).toBe('t3.micro');
  });

  it('changes a stopped instance, in both request forms; the next start has the new limits', async () => {
    await api.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state()) === 'stopped');
    await api.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.large' } }));
    expect(await type()).toBe('t3.large');
    const raw = await api.post(`Action=ModifyInstanceAttribute&Version=2016-11-15&InstanceId=${id}&Attribute=instanceType&Value=t3.medium`);
    expect(raw.status).toBe(200);
    expect(await type()).toBe('t3.medium');
    await api.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state()) === 'running');
    const spec = api.units.started.filter((s) => s.name === `pcloud-instance@${id}`).at(-1)!;
    expect(spec.limits).toMatchObject({ cpuQuotaPercent: 200, memoryMaxBytes: 4096 * 1024 * 1024 });
    await api.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state()) === 'stopped');
  });

  it('refuses a type the instance cannot run as (another runtime or architecture), naming the families it can take', async () => {
    for (const t of ['m5.large', 't4g.micro']) {
      const e = await error(api.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: t } })));
      expect(e.code).toBe('InvalidParameterValue');
      expect(e.message).toContain(`'${t}' is not supported for the instance '${id}'`);
      expect(e.message).toMatch(/families: .*t3/);
    }
    expect((await error(api.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 'x9.huge' } })))).code).toBe('InvalidParameterValue');
    expect(await type()).toBe('t3.medium');
  });

  it('CPU credits follow the type: a burstable type keeps its mode', async () => {
    const credits = await api.ec2.send(new DescribeInstanceCreditSpecificationsCommand({ InstanceIds: [id] }));
    expect(credits.InstanceCreditSpecifications).toEqual([{ InstanceId: id, CpuCredits: 'unlimited' }]);
  });
});
