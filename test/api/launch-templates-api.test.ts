/**
 * Launch templates end to end through @aws-sdk/client-ec2 over a fake host: create, versions, default, describe,
 * delete; RunInstances from a template (its data under the request's own parameters, the aws:ec2launchtemplate tags);
 * AWS's error codes; hostile data refused or served back as given.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateLaunchTemplateCommand, CreateLaunchTemplateVersionCommand, CreateSecurityGroupCommand, DeleteLaunchTemplateCommand,
  DeleteLaunchTemplateVersionsCommand, DescribeInstanceAttributeCommand, DescribeLaunchTemplatesCommand, DescribeLaunchTemplateVersionsCommand,
  DescribeSubnetsCommand, DescribeTagsCommand, DescribeVpcsCommand, ImportKeyPairCommand, ModifyLaunchTemplateCommand, RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { startApi, type TestApi } from '../support/api.js';
import { generateKeyPair } from '../../src/cloud/sshkeys.js';
import { TEMPLATES_MAX } from '../../src/cloud/launch-templates.js';
import { errorCode } from '../support/thrown.js';
import { write } from '../../src/db/store.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

const userData = Buffer.from('#!/bin/sh\necho from-template\n').toString('base64');

describe('launch templates', () => {
  it('keeps the data as given and serves it back as AWS does (ResponseLaunchTemplateData)', async () => {
    const vpc = (await api.ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!;
    const subnet = (await api.ec2.send(new DescribeSubnetsCommand({}))).Subnets![0]!;
    const sg = await api.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'lt-web', Description: 'web', VpcId: vpc.VpcId }));
    const data = {
      ImageId: api.imageId, InstanceType: 't3.small' as const, UserData: userData,
      NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: subnet.SubnetId, Groups: [sg.GroupId!], AssociatePublicIpAddress: false }],
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 8, VolumeType: 'gp3' as const, DeleteOnTermination: true } }],
      MetadataOptions: { HttpTokens: 'required' as const, HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' as const },
      IamInstanceProfile: { Name: 'role-a' },
      TagSpecifications: [{ ResourceType: 'instance' as const, Tags: [{ Key: 'from', Value: 'template' }] }],
    };
    const created = await api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'web', VersionDescription: 'first', LaunchTemplateData: data,
      TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: 'team', Value: 'a' }] }],
    }));
    const lt = created.LaunchTemplate!;
    expect(lt.LaunchTemplateId).toMatch(/^lt-[0-9a-f]{17}$/);
    expect(lt).toMatchObject({ LaunchTemplateName: 'web', DefaultVersionNumber: 1, LatestVersionNumber: 1, Tags: [{ Key: 'team', Value: 'a' }] });
    expect(lt.CreatedBy).toBe('arn:aws:iam::111111111111:root');

    const versions = await api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Versions: ['$Latest'] }));
    const v = versions.LaunchTemplateVersions![0]!;
    expect(v).toMatchObject({ VersionNumber: 1, VersionDescription: 'first', DefaultVersion: true, LaunchTemplateName: 'web' });
    const { NetworkInterfaces: nics, ...rest } = data;
    expect(v.LaunchTemplateData).toMatchObject(rest);
    const { Groups: _groups, ...nic } = nics[0]!;
    expect(v.LaunchTemplateData!.NetworkInterfaces).toMatchObject([nic]);

    // As named, all of them; by name; a version that is not there.
    const byName = await api.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['web'] }));
    expect(byName.LaunchTemplates!.map((t) => t.LaunchTemplateId)).toEqual([lt.LaunchTemplateId]);
    const filtered = await api.ec2.send(new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'tag:team', Values: ['a'] }] }));
    expect(filtered.LaunchTemplates!.map((t) => t.LaunchTemplateName)).toEqual(['web']);
    expect(await errorCode(api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Versions: ['7'] }))))
      .toBe('InvalidLaunchTemplateId.VersionNotFound');
  });

  // The model's ResponseLaunchTemplateData writes NetworkInterfaces' Groups as <groupId> members, not <item>: the EC2
  // serializer (src/api/ec2/xml.ts, the model helper's) writes every list member as <item> until it walks the output shape.
  it('serves a network interface\'s Groups back (list members named <groupId>, as the model names them)', async () => {
    const sg = (await api.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'lt-groups', Description: 'g' }))).GroupId!;
    const lt = (await api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'groups', LaunchTemplateData: { NetworkInterfaces: [{ DeviceIndex: 0, Groups: [sg] }] },
    }))).LaunchTemplate!;
    const v = (await api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId }))).LaunchTemplateVersions![0]!;
    expect(v.LaunchTemplateData!.NetworkInterfaces![0]!.Groups).toEqual([sg]);
  });

  it('answers a repeated ClientToken with what the first request made', async () => {
    const params = { LaunchTemplateName: 'idem', ClientToken: 'tok-lt-1', LaunchTemplateData: { InstanceType: 't3.micro' as const } };
    const first = (await api.ec2.send(new CreateLaunchTemplateCommand(params))).LaunchTemplate!;
    const again = (await api.ec2.send(new CreateLaunchTemplateCommand(params))).LaunchTemplate!;
    expect(again.LaunchTemplateId).toBe(first.LaunchTemplateId);
    expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({ ...params, LaunchTemplateName: 'idem-other' })))).toBe('IdempotentParameterMismatch');
    const v = { LaunchTemplateId: first.LaunchTemplateId, ClientToken: 'tok-v-1', LaunchTemplateData: { InstanceType: 't3.nano' as const } };
    const v1 = (await api.ec2.send(new CreateLaunchTemplateVersionCommand(v))).LaunchTemplateVersion!;
    const v2 = (await api.ec2.send(new CreateLaunchTemplateVersionCommand(v))).LaunchTemplateVersion!;
    expect([v1.VersionNumber, v2.VersionNumber]).toEqual([2, 2]);
  });

  it('versions: from a source version, the default moved, $Default and ranges, deleting all but the default', async () => {
    const lt = (await api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'versions', LaunchTemplateData: { ImageId: api.imageId, InstanceType: 't3.micro', KeyName: 'k' },
    }))).LaunchTemplate!;
    const v2 = (await api.ec2.send(new CreateLaunchTemplateVersionCommand({
      LaunchTemplateName: 'versions', SourceVersion: '1', VersionDescription: 'bigger', LaunchTemplateData: { InstanceType: 't3.large' },
    }))).LaunchTemplateVersion!;
    expect(v2).toMatchObject({ VersionNumber: 2, DefaultVersion: false });
    expect(v2.LaunchTemplateData).toEqual({ ImageId: api.imageId, InstanceType: 't3.large', KeyName: 'k' });
    const v3 = (await api.ec2.send(new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: lt.LaunchTemplateId, LaunchTemplateData: { InstanceType: 't3.nano' },
    }))).LaunchTemplateVersion!;
    expect(v3.LaunchTemplateData).toEqual({ InstanceType: 't3.nano' });

    const modified = await api.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: lt.LaunchTemplateId, DefaultVersion: '2' }));
    expect(modified.LaunchTemplate).toMatchObject({ DefaultVersionNumber: 2, LatestVersionNumber: 3 });
    const def = await api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Versions: ['$Default'] }));
    expect(def.LaunchTemplateVersions!.map((v) => v.VersionNumber)).toEqual([2]);
    const byType = await api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Filters: [{ Name: 'instance-type', Values: ['t3.l*'] }] }));
    expect(byType.LaunchTemplateVersions!.map((v) => v.VersionNumber)).toEqual([2]);
    const notDefault = await api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Filters: [{ Name: 'is-default-version', Values: ['false'] }] }));
    expect(notDefault.LaunchTemplateVersions!.map((v) => v.VersionNumber)).toEqual([1, 3]);
    expect(await errorCode(api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Filters: [{ Name: 'constructor', Values: ['x'] }] }))))
      .toBe('InvalidParameterValue');
    const range = await api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, MinVersion: '2', MaxVersion: '3' }));
    expect(range.LaunchTemplateVersions!.map((v) => [v.VersionNumber, v.DefaultVersion])).toEqual([[2, true], [3, false]]);
    expect(await errorCode(api.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: lt.LaunchTemplateId, DefaultVersion: '9' }))))
      .toBe('InvalidLaunchTemplateId.VersionNotFound');

    const del = await api.ec2.send(new DeleteLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId, Versions: ['1', '2', '8'] }));
    expect(del.SuccessfullyDeletedLaunchTemplateVersions!.map((d) => d.VersionNumber)).toEqual([1]);
    expect(del.UnsuccessfullyDeletedLaunchTemplateVersions!.map((d) => [d.VersionNumber, d.ResponseError?.Code]))
      .toEqual([[2, 'unexpectedError'], [8, 'launchTemplateVersionDoesNotExist']]);
    const left = await api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId }));
    expect(left.LaunchTemplateVersions!.map((v) => v.VersionNumber)).toEqual([2, 3]);

    await api.ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateName: 'versions' }));
    expect(await errorCode(api.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [lt.LaunchTemplateId!] }))))
      .toBe('InvalidLaunchTemplateId.NotFound');
    expect(await errorCode(api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'versions' }))))
      .toBe('InvalidLaunchTemplateName.NotFoundException');
  });

  it("answers with AWS's codes: a name in use, malformed names and ids, empty data, bad user data, another account's template", async () => {
    await api.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'dup', LaunchTemplateData: { InstanceType: 't3.micro' } }));
    expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'dup', LaunchTemplateData: { InstanceType: 't3.micro' } }))))
      .toBe('InvalidLaunchTemplateName.AlreadyExistsException');
    for (const name of ['ab', 'a b c', 'x'.repeat(129), 'semi;colon', 'new\nline']) {
      expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: name, LaunchTemplateData: { InstanceType: 't3.micro' } }))))
        .toBe('InvalidLaunchTemplateName.MalformedException');
    }
    expect(await errorCode(api.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: ['lt-nope'] })))).toBe('InvalidLaunchTemplateId.Malformed');
    expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'empty', LaunchTemplateData: {} })))).toBe('MissingParameter');
    expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'bad-ud', LaunchTemplateData: { UserData: '!!!' } })))).toBe('InvalidParameterValue');
    expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'bad-md', LaunchTemplateData: { MetadataOptions: { HttpPutResponseHopLimit: 65 } },
    })))).toBe('InvalidParameterValue');
    expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'tagged', LaunchTemplateData: { TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'aws:x', Value: 'y' }] }] },
    })))).toBe('InvalidParameterValue');
    expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'enum', LaunchTemplateData: { InstanceType: 'x9.huge' as never },
    })))).toBe('InvalidParameterValue');
    expect(await errorCode(api.ec2Other.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['dup'] }))))
      .toBe('InvalidLaunchTemplateName.NotFoundException');
    const dry = await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'dry', LaunchTemplateData: { InstanceType: 't3.micro' }, DryRun: true })));
    expect(dry).toBe('DryRunOperation');
    expect(await errorCode(api.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['dry'] })))).toBe('InvalidLaunchTemplateName.NotFoundException');
  });

  it('serves hostile strings back as given, escaped by the XML writer', async () => {
    const nasty = `<a href="x">&amp;'; } { $HOME %s`;
    const lt = (await api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'hostile', VersionDescription: nasty, LaunchTemplateData: { KeyName: nasty, IamInstanceProfile: { Name: nasty } },
    }))).LaunchTemplate!;
    const v = (await api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId }))).LaunchTemplateVersions![0]!;
    expect(v.VersionDescription).toBe(nasty);
    expect(v.LaunchTemplateData).toEqual({ KeyName: nasty, IamInstanceProfile: { Name: nasty } });
    expect(await errorCode(api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'long', LaunchTemplateData: { KeyName: 'k'.repeat(100_000) },
    })))).toBe('InvalidParameterValue');
    const raw = await api.post('Action=CreateLaunchTemplate&Version=2016-11-15&LaunchTemplateName=nul&LaunchTemplateData.KeyName=a%00b');
    expect(raw.status).toBe(400);
    // Only the model's members are taken: a key of the tenant's own (prototype names included) is an unknown parameter,
    // and nothing is made.
    for (const key of ['__proto__.polluted', 'constructor.x', 'Placement.toString']) {
      const proto = await api.post(`Action=CreateLaunchTemplate&Version=2016-11-15&LaunchTemplateName=proto&LaunchTemplateData.KeyName=k&LaunchTemplateData.${key}=1`);
      expect(proto.status).toBe(400);
      expect(proto.text).toContain('<Code>UnknownParameter</Code>');
    }
    expect(await errorCode(api.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'proto' })))).toBe('InvalidLaunchTemplateName.NotFoundException');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('RunInstances from a template: its data under the request, its tags, and the aws:ec2launchtemplate tags', async () => {
    const material = generateKeyPair('ed25519', 'lt');
    await api.ec2.send(new ImportKeyPairCommand({ KeyName: 'lt-key', PublicKeyMaterial: Buffer.from(material.publicKey) }));
    const lt = (await api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'runner',
      LaunchTemplateData: {
        ImageId: api.imageId, InstanceType: 't3.small', KeyName: 'lt-key', UserData: userData,
        MetadataOptions: { HttpTokens: 'required' }, DisableApiTermination: false,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'tpl' }, { Key: 'role', Value: 'web' }] }],
      },
    }))).LaunchTemplate!;
    await api.ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: lt.LaunchTemplateId, SourceVersion: '1', LaunchTemplateData: { InstanceType: 't3.medium' } }));

    const res = await api.ec2.send(new RunInstancesCommand({
      MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplateId },
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'own' }] }],
    }));
    const inst = res.Instances![0]!;
    expect(inst).toMatchObject({ ImageId: api.imageId, InstanceType: 't3.small', KeyName: 'lt-key' });
    expect(inst.MetadataOptions?.HttpTokens).toBe('required');
    const tags = new Map(inst.Tags!.map((t) => [t.Key!, t.Value!]));
    expect(tags).toEqual(new Map([['Name', 'own'], ['role', 'web'], ['aws:ec2launchtemplate:id', lt.LaunchTemplateId!], ['aws:ec2launchtemplate:version', '1']]));
    // Terraform finds an instance's template by DescribeTags.
    const described = await api.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [inst.InstanceId!] }, { Name: 'key', Values: ['aws:ec2launchtemplate:id'] }] }));
    expect(described.Tags!.map((t) => t.Value)).toEqual([lt.LaunchTemplateId]);
    const ud = await api.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: inst.InstanceId, Attribute: 'userData' }));
    expect(ud.UserData?.Value).toBe(userData);

    // By name, $Latest, the request's own type over the template's.
    const latest = await api.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateName: 'runner', Version: '$Latest' } }));
    expect(latest.Instances![0]!.InstanceType).toBe('t3.medium');
    expect(latest.Instances![0]!.Tags).toContainEqual({ Key: 'aws:ec2launchtemplate:version', Value: '2' });
    const own = await api.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', LaunchTemplate: { LaunchTemplateName: 'runner', Version: '2' } }));
    expect(own.Instances![0]!.InstanceType).toBe('t3.nano');

    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateName: 'nope' } }))))
      .toBe('InvalidLaunchTemplateName.NotFoundException');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplateId, Version: '5' } }))))
      .toBe('InvalidLaunchTemplateId.VersionNotFound');
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({
      MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplateId, LaunchTemplateName: 'runner' },
    })))).toBe('InvalidParameterCombination');
    // A template without an image, and no image in the request: RunInstances' own error.
    await api.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'no-image', LaunchTemplateData: { InstanceType: 't3.micro' } }));
    expect(await errorCode(api.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateName: 'no-image' } }))))
      .toBe('MissingParameter');
  });

  it('refuses a template past the account quota', async () => {
    const { launchTemplates } = await import('../../src/db/schema.js');
    const rows = Array.from({ length: TEMPLATES_MAX }, (_, i) => ({
      id: `lt-${i.toString(16).padStart(17, '0')}`, accountId: '222222222222', name: `q-${i}`, defaultVersion: 1, latestVersion: 1,
      createdBy: 'x', createdAt: Date.now(),
    }));
    await write(api.cloud.db, async (tx) => { for (const r of rows) await tx.insert(launchTemplates).values(r); });
    expect(await errorCode(api.ec2Other.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'one-more', LaunchTemplateData: { InstanceType: 't3.micro' } }))))
      .toBe('LaunchTemplateLimitExceeded');
  });
});
