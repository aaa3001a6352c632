/**
 * The EC2 API end to end through @aws-sdk/client-ec2, over a fake host (no containers): validation, error codes,
 * idempotency, paging, filters, tags, attributes, key pairs and account isolation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateKeyPairCommand, CreateTagsCommand, DescribeInternetGatewaysCommand, DescribeRouteTablesCommand, DeleteKeyPairCommand, DeleteTagsCommand, DescribeAvailabilityZonesCommand,
  DescribeImagesCommand, DescribeInstanceAttributeCommand, DescribeInstanceCreditSpecificationsCommand, DescribeInstancesCommand,
  DescribeInstanceTypesCommand, DescribeKeyPairsCommand, DescribeRegionsCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand,
  DescribeTagsCommand, DescribeVolumesCommand, DescribeVpcsCommand, GetConsoleOutputCommand, ImportKeyPairCommand,
  ModifyInstanceAttributeCommand, ModifyInstanceMetadataOptionsCommand, RunInstancesCommand, StartInstancesCommand,
  StopInstancesCommand, TerminateInstancesCommand, DescribeInstanceStatusCommand, RebootInstancesCommand,
} from '@aws-sdk/client-ec2';
import { startApi, until, type TestApi } from '../support/api.js';
import { generateKeyPair } from '../../src/cloud/sshkeys.js';
import { errorCode } from '../support/thrown.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

async function state(id: string): Promise<string | undefined> {
  const r = await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return r.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

describe('RunInstances', () => {
  it('launches pending instances with IPs, DNS names, tags and a root volume; they turn running on READY', async () => {
    const res = await api.ec2.send(new RunInstancesCommand({
      ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 2, MaxCount: 2,
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'web' }] }, { ResourceType: 'volume', Tags: [{ Key: 'v', Value: '1' }] }],
      UserData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
    }));
    expect(res.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
    expect(res.Instances).toHaveLength(2);
    const [a, b] = res.Instances!;
    expect(a!.State).toEqual({ Code: 0, Name: 'pending' });
    expect(a!.InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(a!.PrivateIpAddress).toBe('172.31.0.4');
    expect(b!.PrivateIpAddress).toBe('172.31.0.5');
    expect(a!.PrivateDnsName).toBe('ip-172-31-0-4.ec2.internal');
    expect(a!.Tags).toEqual([{ Key: 'Name', Value: 'web' }]);
    expect(a!.BlockDeviceMappings?.[0]?.Ebs?.VolumeId).toMatch(/^vol-/);
    expect(a!.MetadataOptions).toMatchObject({ HttpTokens: 'optional', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 });
    await until(async () => (await state(a!.InstanceId!)) === 'running');
    const spec = api.units.started.find((s) => s.name === `pcloud-instance@${a!.InstanceId}`)!;
    expect(spec.type).toBe('notify');
    expect(spec.exec).toContain('--notify-ready=yes');
    expect(spec.limits).toMatchObject({ cpuQuotaPercent: 200, memoryMaxBytes: 1024 * 1024 * 1024 });
    const vols = await api.ec2.send(new DescribeVolumesCommand({ VolumeIds: [a!.BlockDeviceMappings![0]!.Ebs!.VolumeId!] }));
    expect(vols.Volumes?.[0]?.Attachments?.[0]?.InstanceId).toBe(a!.InstanceId);
    expect(vols.Volumes?.[0]?.Tags).toEqual([{ Key: 'v', Value: '1' }]);
  });

  it('returns the first reservation for a repeated ClientToken and refuses other parameters with it', async () => {
    const params = { ImageId: api.imageId, InstanceType: 't3.nano' as const, MinCount: 1, MaxCount: 1, ClientToken: 'tok-1' };
    const first = await api.ec2.send(new RunInstancesCommand(params));
    const again = await api.ec2.send(new RunInstancesCommand(params));
    expect(again.ReservationId).toBe(first.ReservationId);
    expect(again.Instances?.[0]?.InstanceId).toBe(first.Instances?.[0]?.InstanceId);
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...params, InstanceType: 't3.small' })))).toBe('IdempotentParameterMismatch');
  });

  it('answers bad input with the AWS error code and creates nothing', async () => {
    const count = async () => (await api.ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!).length;
    const before = await count();
    const base = { ImageId: api.imageId, InstanceType: 't3.micro' as const, MinCount: 1, MaxCount: 1 };
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, ImageId: 'ami-00000000000000000' })))).toBe('InvalidAMIID.NotFound');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, ImageId: 'banana' })))).toBe('InvalidAMIID.Malformed');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, InstanceType: 'x9.huge' as never })))).toBe('InvalidParameterValue');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, KeyName: 'nope' })))).toBe('InvalidKeyPair.NotFound');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, MinCount: 3, MaxCount: 2 })))).toBe('InvalidParameterValue');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, UserData: '!!!notbase64' })))).toBe('InvalidParameterValue');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, ClientToken: 'x'.repeat(65) })))).toBe('InvalidParameterValue');
    // A microvm type needs an image with a kernel (this fake image has none): a clear error, never a failed boot.
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, InstanceType: 'm5.large' })))).toBe('InvalidParameterCombination');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, InstanceType: 't4g.micro' })))).toBe('InvalidParameterValue');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, DryRun: true })))).toBe('DryRunOperation');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ ...base, MetadataOptions: { HttpPutResponseHopLimit: 99 } })))).toBe('InvalidParameterValue');
    expect(await count()).toBe(before);
  });

  it('a launch whose unit cannot start ends terminated with a reason, leaving no disk or unit', async () => {
    // Earlier tests' launches run on in the background: let them end first, or one of them takes this failure.
    await api.cloud.instances.idle();
    api.units.failNextStart = new Error('nspawn exploded');
    const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = res.Instances![0]!.InstanceId!;
    await until(async () => (await state(id)) === 'terminated');
    const inst = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
    expect(inst.StateReason?.Code).toBe('Server.InternalError');
    // The host's detail stays in the server's log: the user reads what to do.
    expect(inst.StateReason?.Message).not.toContain('nspawn exploded');
    expect(inst.StateReason?.Message).toMatch(/launch it again/);
    expect(await api.pool.hasDisk(id)).toBe(false);
    expect(api.units.units.has(`pcloud-instance@${id}`)).toBe(false);
  });

  it('a container that ends before READY is terminated with why', async () => {
    await api.cloud.instances.idle();
    api.units.autoReady = false;
    try {
      const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
      const id = res.Instances![0]!.InstanceId!;
      await until(() => api.units.units.get(`pcloud-instance@${id}`));
      // What the unit said of itself (a spawn error, nspawn's STATUS=) names host paths: it stays in the server's log.
      api.units.units.get(`pcloud-instance@${id}`)!.statusText = 'Failed to open /var/lib/pcloud/instances/x: No such file';
      api.units.exit(`pcloud-instance@${id}`, 'timeout');
      await until(async () => (await state(id)) === 'terminated');
      const inst = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
      expect(inst.StateReason?.Message).toMatch(/did not become ready \(timeout/);
      expect(inst.StateReason?.Message).not.toContain('/var/lib/pcloud');
      expect(await api.pool.hasDisk(id)).toBe(false);
    } finally {
      api.units.autoReady = true;
    }
  });
});

describe('a teardown step that fails', () => {
  it('does not keep a failed or never-ready launch from ending terminated (its DHCP lease cannot be released)', async () => {
    await api.cloud.instances.idle();
    const release = api.dns.release.bind(api.dns);
    let refused = 0;
    api.dns.release = async () => { refused++; throw new Error('dnsmasq is gone'); };
    const launch = async () => (await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    try {
      api.units.failNextStart = new Error('nspawn exploded');
      const failed = await launch();
      await until(async () => (await state(failed)) === 'terminated');
      expect(await api.pool.hasDisk(failed)).toBe(false);
      api.units.autoReady = false;
      const neverReady = await launch();
      await until(() => api.units.units.get(`pcloud-instance@${neverReady}`));
      api.units.exit(`pcloud-instance@${neverReady}`, 'timeout');
      await until(async () => (await state(neverReady)) === 'terminated');
      expect(await api.pool.hasDisk(neverReady)).toBe(false);
      expect(refused).toBe(2);
    } finally {
      api.units.autoReady = true;
      api.dns.release = release;
    }
  });
});

describe('DescribeInstances', () => {
  it('filters by state, type, tag, tag-key, ip, dns name and AZ; wildcards work', async () => {
    const find = async (Name: string, Values: string[]) => (await api.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name, Values }] })))
      .Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId);
    const web = await find('tag:Name', ['web']);
    expect(web).toHaveLength(2);
    expect(await find('tag:Name', ['w*'])).toEqual(web);
    expect(await find('tag-key', ['Name'])).toEqual(web);
    expect(await find('instance-type', ['t3.nano'])).toHaveLength(1);
    expect(await find('private-ip-address', ['172.31.0.4'])).toEqual([web[0]]);
    expect(await find('private-dns-name', ['ip-172-31-0-5.ec2.internal'])).toEqual([web[1]]);
    expect((await find('instance-state-name', ['terminated'])).length).toBeGreaterThan(0);
    expect(await find('instance-state-code', ['16'])).toEqual(expect.arrayContaining(web));
    expect(await find('availability-zone', ['us-east-1a'])).toEqual(expect.arrayContaining(web));
    expect(await errorCode(api.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })))).toBe('InvalidParameterValue');
  });

  it('pages with MaxResults/NextToken and enforces AWS rules', async () => {
    for (let i = 0; i < 3; i++) await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 2, MaxCount: 2 }));
    const all = (await api.ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await api.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: token }));
      const ids = page.Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId!);
      expect(ids.length).toBeLessThanOrEqual(5);
      seen.push(...ids);
      token = page.NextToken;
    } while (token);
    expect(seen).toEqual(all);
    expect(await errorCode(api.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [all[0]!] })))).toBe('InvalidParameterCombination');
    expect(await errorCode(api.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: 'garbage!' })))).toBe('InvalidPaginationToken');
    expect(await errorCode(api.ec2.send(new DescribeInstancesCommand({ MaxResults: 2 })))).toBe('InvalidParameterValue');
  });

  it('tells malformed from unknown ids, and never shows another account its instances', async () => {
    expect(await errorCode(api.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-zzz'] })))).toBe('InvalidInstanceID.Malformed');
    expect(await errorCode(api.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })))).toBe('InvalidInstanceID.NotFound');
    const mine = (await api.ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!);
    expect(mine.length).toBeGreaterThan(0);
    const theirs = await api.ec2Other.send(new DescribeInstancesCommand({}));
    expect(theirs.Reservations).toEqual([]);
    expect(await errorCode(api.ec2Other.send(new TerminateInstancesCommand({ InstanceIds: [mine[0]!.InstanceId!] })))).toBe('InvalidInstanceID.NotFound');
  });

  it('keeps terminated instances visible until the TTL, then forgets them', async () => {
    const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = res.Instances![0]!.InstanceId!;
    await until(async () => (await state(id)) === 'running');
    const t = await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(t.TerminatingInstances?.[0]).toMatchObject({ CurrentState: { Name: 'shutting-down', Code: 32 }, PreviousState: { Name: 'running', Code: 16 } });
    await until(async () => (await state(id)) === 'terminated');
    api.cloud.config.terminatedTtlMs = 0;
    try {
      expect(await api.cloud.instances.sweep()).toBeGreaterThan(0);
      expect(await errorCode(api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })))).toBe('InvalidInstanceID.NotFound');
      expect((await api.cloud.tags.of([id])).size).toBe(0);
    } finally {
      api.cloud.config.terminatedTtlMs = 3_600_000;
    }
  });
});

describe('instance lifecycle and attributes', () => {
  let id: string;
  beforeAll(async () => {
    const res = await api.ec2.send(new RunInstancesCommand({
      ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, DisableApiTermination: true,
      CreditSpecification: { CpuCredits: 'standard' }, UserData: Buffer.from('hello').toString('base64'),
    }));
    id = res.Instances![0]!.InstanceId!;
    await until(async () => (await state(id)) === 'running');
  });

  it('reads and modifies attributes as Terraform does', async () => {
    const attr = (Attribute: string) => api.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: Attribute as never }));
    expect((await attr('disableApiTermination')).DisableApiTermination?.Value).toBe(true);
    expect((await attr('disableApiStop')).DisableApiStop?.Value).toBe(false);
    expect((await attr('instanceInitiatedShutdownBehavior')).InstanceInitiatedShutdownBehavior?.Value).toBe('stop');
    expect((await attr('userData')).UserData?.Value).toBe(Buffer.from('hello').toString('base64'));
    expect(await errorCode(api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })))).toBe('OperationNotPermitted');
    await api.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: false } }));
    expect((await attr('disableApiTermination')).DisableApiTermination?.Value).toBe(false);
    expect(await errorCode(api.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' } })))).toBe('IncorrectInstanceState');
    const credits = await api.ec2.send(new DescribeInstanceCreditSpecificationsCommand({ InstanceIds: [id] }));
    expect(credits.InstanceCreditSpecifications).toEqual([{ InstanceId: id, CpuCredits: 'standard' }]);
    const md = await api.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: id, HttpTokens: 'required', HttpPutResponseHopLimit: 2 }));
    expect(md.InstanceMetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
  });

  it('stops, changes type while stopped, starts, reboots, and shows console output', async () => {
    const stop = await api.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(stop.StoppingInstances?.[0]?.CurrentState?.Name).toBe('stopping');
    await until(async () => (await state(id)) === 'stopped');
    expect(await api.pool.hasDisk(id)).toBe(true);
    await api.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' } }));
    await api.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state(id)) === 'running');
    const spec = api.units.started.filter((s) => s.name.endsWith(id)).at(-1)!;
    expect(spec.limits?.memoryMaxBytes).toBe(2048 * 1024 * 1024);
    await api.ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    const status = await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }));
    expect(status.InstanceStatuses?.[0]?.InstanceState?.Name).toBe('running');
    const out = await api.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
    expect(Buffer.from(out.Output!, 'base64').toString()).toContain(`console of pcloud-instance@${id}`);
  });

  it('an instance whose unit ends by itself is stopped or terminated per its shutdown behaviour', async () => {
    api.units.exit(`pcloud-instance@${id}`, 'success');
    await until(async () => (await state(id)) === 'stopped');
    const inst = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
    expect(inst.StateReason?.Code).toBe('Client.InstanceInitiatedShutdown');
    await api.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceInitiatedShutdownBehavior: { Value: 'terminate' } }));
    await api.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state(id)) === 'running');
    api.units.exit(`pcloud-instance@${id}`, 'exit-code');
    await until(async () => (await state(id)) === 'terminated');
    expect(await api.pool.hasDisk(id)).toBe(false);
  });
});

describe('key pairs, tags, images and the account network', () => {
  it('creates, imports, describes and deletes key pairs', async () => {
    const created = await api.ec2.send(new CreateKeyPairCommand({ KeyName: 'k1' }));
    expect(created.KeyMaterial).toContain('BEGIN RSA PRIVATE KEY');
    expect(await errorCode(api.ec2.send(new CreateKeyPairCommand({ KeyName: 'k1' })))).toBe('InvalidKeyPair.Duplicate');
    const pub = generateKeyPair('ed25519', 'me').publicKey;
    const imported = await api.ec2.send(new ImportKeyPairCommand({ KeyName: 'k2', PublicKeyMaterial: Buffer.from(pub) }));
    expect(imported.KeyFingerprint).toMatch(/=$/);
    const all = await api.ec2.send(new DescribeKeyPairsCommand({}));
    expect(all.KeyPairs?.map((k) => k.KeyName)).toEqual(['k1', 'k2']);
    expect(await errorCode(api.ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['nope'] })))).toBe('InvalidKeyPair.NotFound');
    await api.ec2.send(new DeleteKeyPairCommand({ KeyName: 'k1' }));
    await api.ec2.send(new DeleteKeyPairCommand({ KeyName: 'k1' }));
    expect((await api.ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs?.map((k) => k.KeyName)).toEqual(['k2']);
    expect((await api.ec2Other.send(new DescribeKeyPairsCommand({}))).KeyPairs).toEqual([]);
  });

  it('creates, filters and deletes tags', async () => {
    const id = (await api.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: ['web'] }] }))).Reservations![0]!.Instances![0]!.InstanceId!;
    await api.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'env', Value: 'prod' }, { Key: 'team', Value: 'a' }] }));
    const tags = await api.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }));
    expect(tags.Tags?.map((t) => `${t.Key}=${t.Value}`)).toEqual(['Name=web', 'env=prod', 'team=a']);
    expect(tags.Tags?.[0]?.ResourceType).toBe('instance');
    const lt = await api.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }, { Name: 'key', Values: ['aws:ec2launchtemplate:id'] }] }));
    expect(lt.Tags).toEqual([]);
    await api.ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'env', Value: 'other' }, { Key: 'team' }] }));
    const left = await api.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }));
    expect(left.Tags?.map((t) => t.Key)).toEqual(['Name', 'env']);
    expect(await errorCode(api.ec2.send(new CreateTagsCommand({ Resources: ['i-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] })))).toBe('InvalidInstanceID.NotFound');
    expect(await errorCode(api.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'aws:x', Value: 'b' }] })))).toBe('InvalidParameterValue');
  });

  it('tags only the account\'s own resources: another account\'s (of every kind) and public images are not found', async () => {
    const inst = (await api.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: ['web'] }] }))).Reservations![0]!;
    const i = inst.Instances![0]!;
    const vpc = (await api.ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
    const igw = (await api.ec2.send(new DescribeInternetGatewaysCommand({}))).InternetGateways![0]!.InternetGatewayId!;
    const rtb = (await api.ec2.send(new DescribeRouteTablesCommand({}))).RouteTables![0]!.RouteTableId!;
    const theirs = [i.InstanceId!, vpc, igw, rtb, i.NetworkInterfaces![0]!.NetworkInterfaceId!, i.BlockDeviceMappings![0]!.Ebs!.VolumeId!, inst.ReservationId!];
    for (const id of theirs) {
      expect(await errorCode(api.ec2Other.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'Injected', Value: 'x' }] }))), id).toMatch(/NotFound$|^InvalidID$/);
    }
    expect(await errorCode(api.ec2Other.send(new CreateTagsCommand({ Resources: [api.imageId], Tags: [{ Key: 'Injected', Value: 'x' }] })))).toBe('InvalidAMIID.NotFound');
    const seen = await api.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['Injected'] }] }));
    expect(seen.Tags).toEqual([]);
    // The owner tags its own of each kind.
    await api.ec2.send(new CreateTagsCommand({ Resources: theirs, Tags: [{ Key: 'mine', Value: 'y' }] }));
    expect((await api.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['mine'] }] }))).Tags).toHaveLength(theirs.length);
    await api.ec2.send(new DeleteTagsCommand({ Resources: theirs, Tags: [{ Key: 'mine' }] }));
  });

  it('keeps at most 50 tags on a resource, counted over repeated CreateTags; a request over it changes no resource', async () => {
    const vpcId = (await api.ec2Other.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
    const subnetId = (await api.ec2Other.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets![0]!.SubnetId!;
    const keys = async (id: string) => ((await api.ec2Other.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }))).Tags ?? []).map((t) => t.Key);
    const tagsFrom = (from: number, n: number, Value = 'v') => Array.from({ length: n }, (_, i) => ({ Key: `k${from + i}`, Value }));
    const create = (Resources: string[], Tags: { Key: string; Value: string }[]) => api.ec2Other.send(new CreateTagsCommand({ Resources, Tags }));
    await create([vpcId], tagsFrom(0, 30));
    expect(await errorCode(create([vpcId], tagsFrom(30, 30)))).toBe('TagLimitExceeded');
    expect(await keys(vpcId)).toHaveLength(30);
    // Keys it has already count once: 10 again and 20 new make 50.
    await create([vpcId], tagsFrom(20, 30, 'w'));
    expect(await keys(vpcId)).toHaveLength(50);
    expect(await errorCode(create([vpcId], tagsFrom(50, 1)))).toBe('TagLimitExceeded');
    await create([vpcId], tagsFrom(0, 1, 'changed'));
    // The subnet could take the tag, the VPC cannot: neither gets it.
    expect(await errorCode(create([subnetId, vpcId], tagsFrom(99, 1)))).toBe('TagLimitExceeded');
    expect(await keys(subnetId)).toEqual([]);
    expect(await keys(vpcId)).toHaveLength(50);
    await api.ec2Other.send(new DeleteTagsCommand({ Resources: [vpcId] }));
  });

  it('describes images, types, regions, zones, and a default VPC, subnet and group per account', async () => {
    const imgs = await api.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['debian-*'] }] }));
    expect(imgs.Images?.map((i) => i.ImageId)).toEqual([api.imageId]);
    expect(await errorCode(api.ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-00000000000000000'] })))).toBe('InvalidAMIID.NotFound');
    const types = await api.ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.micro', 'm5.large'] }));
    expect(types.InstanceTypes?.find((t) => t.InstanceType === 't3.micro')).toMatchObject({ VCpuInfo: { DefaultVCpus: 2 }, MemoryInfo: { SizeInMiB: 1024 }, BurstablePerformanceSupported: true });
    expect((await api.ec2.send(new DescribeRegionsCommand({}))).Regions?.map((r) => r.RegionName)).toEqual(['us-east-1']);
    expect((await api.ec2.send(new DescribeAvailabilityZonesCommand({}))).AvailabilityZones?.[0]?.ZoneName).toBe('us-east-1a');
    const vpcs = await api.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
    expect(vpcs.Vpcs).toHaveLength(1);
    expect(vpcs.Vpcs![0]!.CidrBlock).toBe('172.31.0.0/16');
    const subnets = await api.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcs.Vpcs![0]!.VpcId!] }] }));
    expect(subnets.Subnets?.[0]).toMatchObject({ CidrBlock: '172.31.0.0/20', DefaultForAz: true, AvailabilityZone: 'us-east-1a' });
    const sgs = await api.ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }));
    expect(sgs.SecurityGroups?.[0]?.VpcId).toBe(vpcs.Vpcs![0]!.VpcId);
    const otherVpc = await api.ec2Other.send(new DescribeVpcsCommand({}));
    expect(otherVpc.Vpcs![0]!.VpcId).not.toBe(vpcs.Vpcs![0]!.VpcId);
  });
});

describe('the wire: errors in EC2 XML', () => {
  it('unknown action, missing action, bad version, bad encoding, bad signature, skew and oversized bodies', async () => {
    const unknown = await api.post('Action=FlyToTheMoon&Version=2016-11-15');
    expect(unknown.status).toBe(400);
    expect(unknown.text).toMatch(/<Response><Errors><Error><Code>InvalidAction<\/Code><Message>.*<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]+<\/RequestID><\/Response>/);
    expect((await api.post('Version=2016-11-15')).text).toContain('<Code>MissingAction</Code>');
    expect((await api.post('Action=DescribeRegions&Version=1999-01-01')).text).toContain('<Code>NoSuchVersion</Code>');
    expect((await api.post('Action=DescribeRegions&Version=2016-11-15&X=%E0%A4%A')).text).toContain('<Code>InvalidParameterValue</Code>');
    const bad = await api.post('Action=DescribeRegions&Version=2016-11-15', { secret: 'wrong' });
    expect(bad.status).toBe(401);
    expect(bad.text).toContain('<Code>AuthFailure</Code>');
    const skew = await api.post('Action=DescribeRegions&Version=2016-11-15', { date: new Date(Date.now() - 20 * 60_000) });
    expect(skew.status).toBe(401);
    const unsigned = await fetch(api.endpoint, { method: 'POST', body: 'Action=DescribeRegions&Version=2016-11-15', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.text()).toContain('<Code>AuthFailure</Code>');
    const huge = await api.post('Action=DescribeRegions&Version=2016-11-15&Pad=' + 'x'.repeat(1024 * 1024));
    expect(huge.status).toBe(413);
    expect(huge.text).toContain('<Code>RequestEntityTooLarge</Code>');
    const ok = await api.post('Action=DescribeRegions&Version=2016-11-15');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>');
  });

  it('answers STS GetCallerIdentity with the account of the key', async () => {
    const res = await api.post('Action=GetCallerIdentity&Version=2011-06-15', { service: 'sts' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('<Account>111111111111</Account>');
  });
});
