/**
 * EC2's ClientToken on every action pcloud implements that takes one (src/cloud/idempotency.ts), through the SDK, on
 * two servers sharing one database: the same token and parameters answer as the first request did and make nothing
 * twice (on either server); other parameters, IdempotentParameterMismatch; another account's same token is its own;
 * a token longer than EC2 takes (64 characters; launch templates' 128) is refused.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateLaunchTemplateCommand, CreateLaunchTemplateVersionCommand, CreateNatGatewayCommand, CreateRouteTableCommand,
  CreateSubnetCommand, CreateVolumeCommand, CreateVpcCommand, DescribeInstanceCreditSpecificationsCommand, DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand, DescribeLaunchTemplateVersionsCommand, DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand, DescribeVolumesCommand, ModifyInstanceCreditSpecificationCommand,
  ModifyLaunchTemplateCommand, RunInstancesCommand, type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, startSharedApi, type TestApi } from '../support/api.js';
import { errorCode } from '../support/thrown.js';

let a: TestApi;
let b: TestApi;

beforeAll(async () => {
  a = await startApi();
  b = await startSharedApi(a);
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

/** The answer without the SDK's request metadata. */
const answer = (r: object) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== '$metadata'));

/** Each client's own resources an action needs (a VPC and subnet, a template with two versions, an instance). */
interface Fixture { vpcId: string; subnetId: string; templateId: string; instanceId: string; imageId: string }

let vpcs = 0;
async function fixture(api: TestApi, ec2: EC2Client): Promise<Fixture> {
  const n = ++vpcs;
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${60 + n}.0.0/16` }))).Vpc!;
  const sub = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: `10.${60 + n}.1.0/24` }))).Subnet!;
  const lt = (await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `fixture-${n}`, LaunchTemplateData: { InstanceType: 't3.micro' } }))).LaunchTemplate!;
  await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: lt.LaunchTemplateId, LaunchTemplateData: { InstanceType: 't3.small' } }));
  const inst = (await ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SubnetId: sub.SubnetId }))).Instances![0]!;
  return { vpcId: vpc.VpcId!, subnetId: sub.SubnetId!, templateId: lt.LaunchTemplateId!, instanceId: inst.InstanceId!, imageId: api.imageId };
}

interface Case {
  action: string;
  /** The request with `token`; `variant` 1 changes one parameter. */
  send(ec2: EC2Client, f: Fixture, token: string, variant?: 0 | 1): Promise<object>;
  /** What the answer names (the resource made or changed). */
  id(r: object): string;
  /** How many such resources the client has now (creates only). */
  count?(ec2: EC2Client, f: Fixture): Promise<number>;
  /** The longest token it takes. */
  max: number;
  /** Its answer may show the resource's state moving on (the NAT gateway's pending → available). */
  stateMoves?: boolean;
}

const tag = (type: 'volume' | 'natgateway' | 'route-table', v: number) => [{ ResourceType: type, Tags: [{ Key: 'v', Value: String(v) }] }];

const cases: Case[] = [
  {
    action: 'RunInstances', max: 64, stateMoves: true,
    send: (ec2, f, token, v = 0) => ec2.send(new RunInstancesCommand({
      ImageId: f.imageId, InstanceType: v ? 't3.small' : 't3.micro', MinCount: 1, MaxCount: 1, SubnetId: f.subnetId, ClientToken: token,
    })),
    id: (r) => (r as { ReservationId: string }).ReservationId,
    count: async (ec2, f) => (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'subnet-id', Values: [f.subnetId] }] })))
      .Reservations!.flatMap((r) => r.Instances!).length,
  },
  {
    action: 'CreateVolume', max: 64,
    send: (ec2, _f, token, v = 0) => ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 + v, ClientToken: token, TagSpecifications: tag('volume', 0) })),
    id: (r) => (r as { VolumeId: string }).VolumeId,
    count: async (ec2) => (await ec2.send(new DescribeVolumesCommand({}))).Volumes!.length,
  },
  {
    action: 'CreateNatGateway', max: 64, stateMoves: true,
    send: (ec2, f, token, v = 0) => ec2.send(new CreateNatGatewayCommand({ SubnetId: f.subnetId, ConnectivityType: 'private', ClientToken: token, TagSpecifications: tag('natgateway', v) })),
    id: (r) => (r as { NatGateway: { NatGatewayId: string } }).NatGateway.NatGatewayId,
    count: async (ec2, f) => (await ec2.send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: [f.vpcId] }] }))).NatGateways!.length,
  },
  {
    action: 'CreateRouteTable', max: 64,
    send: (ec2, f, token, v = 0) => ec2.send(new CreateRouteTableCommand({ VpcId: f.vpcId, ClientToken: token, TagSpecifications: tag('route-table', v) })),
    id: (r) => (r as { RouteTable: { RouteTableId: string } }).RouteTable.RouteTableId,
    count: async (ec2, f) => (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [f.vpcId] }] }))).RouteTables!.length,
  },
  {
    action: 'CreateLaunchTemplate', max: 128,
    send: (ec2, f, token, v = 0) => ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: `by-${token.slice(0, 100)}`, ClientToken: token, LaunchTemplateData: { InstanceType: v ? 't3.small' : 't3.micro' },
    })),
    id: (r) => (r as { LaunchTemplate: { LaunchTemplateId: string } }).LaunchTemplate.LaunchTemplateId,
    count: async (ec2) => (await ec2.send(new DescribeLaunchTemplatesCommand({}))).LaunchTemplates!.length,
  },
  {
    action: 'CreateLaunchTemplateVersion', max: 128,
    send: (ec2, f, token, v = 0) => ec2.send(new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: f.templateId, ClientToken: token, LaunchTemplateData: { InstanceType: v ? 't3.small' : 't3.medium' },
    })),
    id: (r) => {
      const v = (r as { LaunchTemplateVersion: { LaunchTemplateId: string; VersionNumber: number } }).LaunchTemplateVersion;
      return `${v.LaunchTemplateId}:${v.VersionNumber}`;
    },
    count: async (ec2, f) => (await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: f.templateId }))).LaunchTemplateVersions!.length,
  },
  {
    action: 'ModifyLaunchTemplate', max: 128,
    send: (ec2, f, token, v = 0) => ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: f.templateId, ClientToken: token, DefaultVersion: v ? '1' : '2' })),
    id: (r) => {
      const t = (r as { LaunchTemplate: { LaunchTemplateId: string; DefaultVersionNumber: number } }).LaunchTemplate;
      return `${t.LaunchTemplateId}@${t.DefaultVersionNumber}`;
    },
  },
  {
    action: 'ModifyInstanceCreditSpecification', max: 64,
    send: (ec2, f, token, v = 0) => ec2.send(new ModifyInstanceCreditSpecificationCommand({
      ClientToken: token, InstanceCreditSpecifications: [{ InstanceId: f.instanceId, CpuCredits: v ? 'standard' : 'unlimited' }],
    })),
    id: (r) => (r as { SuccessfulInstanceCreditSpecifications: { InstanceId: string }[] }).SuccessfulInstanceCreditSpecifications.map((s) => s.InstanceId).join(','),
  },
];

describe('ClientToken on two servers sharing one database', () => {
  let mine: Fixture;
  let theirs: Fixture;
  beforeAll(async () => {
    mine = await fixture(a, a.ec2);
    theirs = await fixture(a, a.ec2Other);
  });

  for (const c of cases) {
    it(`${c.action}: the same token answers the same on either server and makes nothing twice; other parameters are a mismatch`, async () => {
      const token = `${c.action}-token`;
      const before = await c.count?.(a.ec2, mine);
      const first = await c.send(a.ec2, mine, token);
      const again = await c.send(a.ec2, mine, token);
      const onB = await c.send(b.ec2, mine, token);
      expect(c.id(again)).toBe(c.id(first));
      expect(c.id(onB)).toBe(c.id(first));
      if (!c.stateMoves) {
        expect(answer(again)).toEqual(answer(first));
        expect(answer(onB)).toEqual(answer(first));
      }
      if (before !== undefined) expect(await c.count!(a.ec2, mine)).toBe(before + 1);
      expect(await errorCode(c.send(b.ec2, mine, token, 1))).toBe('IdempotentParameterMismatch');
      expect(await errorCode(c.send(a.ec2, mine, token, 1))).toBe('IdempotentParameterMismatch');
      if (before !== undefined) expect(await c.count!(a.ec2, mine)).toBe(before + 1);
    });

    it(`${c.action}: another account's same token is its own`, async () => {
      const token = `${c.action}-shared-by-accounts`;
      const one = await c.send(a.ec2, mine, token);
      const other = await c.send(b.ec2Other, theirs, token, 1);
      expect(c.id(other)).not.toBe(c.id(one));
      expect(c.id(await c.send(a.ec2Other, theirs, token, 1))).toBe(c.id(other));
    });

    it(`${c.action}: a token of ${c.max} characters is taken, one of ${c.max + 1} refused`, async () => {
      const before = await c.count?.(a.ec2, mine);
      expect(await errorCode(c.send(a.ec2, mine, 'x'.repeat(c.max + 1)))).toBe('InvalidParameterValue');
      expect(await errorCode(c.send(a.ec2, mine, 'é'))).toBe('InvalidParameterValue');
      if (before !== undefined) expect(await c.count!(a.ec2, mine)).toBe(before);
      const longest = await c.send(a.ec2, mine, 'y'.repeat(c.max), 1);
      expect(c.id(await c.send(b.ec2, mine, 'y'.repeat(c.max), 1))).toBe(c.id(longest));
    });
  }

  it('ModifyLaunchTemplate made again with its token changes nothing again', async () => {
    const token = 'modify-once';
    await a.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: mine.templateId, ClientToken: token, DefaultVersion: '2' }));
    await a.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: mine.templateId, DefaultVersion: '1' }));
    await b.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: mine.templateId, ClientToken: token, DefaultVersion: '2' }));
    const t = (await a.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [mine.templateId] }))).LaunchTemplates![0]!;
    expect(t.DefaultVersionNumber).toBe(1);
  });

  it('ModifyInstanceCreditSpecification made again with its token sets nothing again', async () => {
    const token = 'credits-once';
    const spec = (c: 'standard' | 'unlimited') => [{ InstanceId: mine.instanceId, CpuCredits: c }];
    await a.ec2.send(new ModifyInstanceCreditSpecificationCommand({ ClientToken: token, InstanceCreditSpecifications: spec('standard') }));
    await a.ec2.send(new ModifyInstanceCreditSpecificationCommand({ InstanceCreditSpecifications: spec('unlimited') }));
    await b.ec2.send(new ModifyInstanceCreditSpecificationCommand({ ClientToken: token, InstanceCreditSpecifications: spec('standard') }));
    const now = await a.ec2.send(new DescribeInstanceCreditSpecificationsCommand({ InstanceIds: [mine.instanceId] }));
    expect(now.InstanceCreditSpecifications).toEqual([{ InstanceId: mine.instanceId, CpuCredits: 'unlimited' }]);
  });

  it('CreateVolume made again on the other server makes no second disk on either host', async () => {
    const disks = async (api: TestApi) => (await readdir(join(api.pool.root, 'volumes')).catch(() => [] as string[])).length;
    const [onA, onB] = [await disks(a), await disks(b)];
    const input = { AvailabilityZone: 'us-east-1a', Size: 3, ClientToken: 'one-disk' };
    const first = await a.ec2.send(new CreateVolumeCommand(input));
    expect((await b.ec2.send(new CreateVolumeCommand(input))).VolumeId).toBe(first.VolumeId);
    expect([await disks(a), await disks(b)]).toEqual([onA + 1, onB]);
  });

  it('a request without a token makes a new resource each time (the SDK fills one in for CreateVolume: each call is new)', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2; i++) ids.add((await a.ec2.send(new CreateRouteTableCommand({ VpcId: mine.vpcId }))).RouteTable!.RouteTableId!);
    expect(ids.size).toBe(2);
  });
});
