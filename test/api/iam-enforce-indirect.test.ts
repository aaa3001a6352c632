/**
 * EC2 resources named other than by their id (a launch template by its name, an instance by its profile association):
 * a Deny on the resource's tags applies however the request names it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssociateIamInstanceProfileCommand, CreateLaunchTemplateCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startApi, type TestApi } from '../support/api.js';
import { codeOf, doc, ec2Call, iamCall, roleWith, userWithKey, type TestKey } from '../support/iam-access.js';
import { putProfile } from '../support/profile-rows.js';
import { addresses } from '../../src/db/schema.js';

const ACCOUNT = '111111111111';
let api: TestApi;
let user: TestKey;
beforeAll(async () => {
  api = await startApi();
  const policy = await api.cloud.iam.policies.create(ACCOUNT, {
    name: 'all-but-prod', path: '/', document: doc([
      { Action: ['ec2:*', 'iam:PassRole'] },
      { Effect: 'Deny', Action: 'ec2:*', Condition: { StringEquals: { 'aws:ResourceTag/stage': 'prod' } } },
    ]),
  });
  user = await userWithKey(api.cloud, ACCOUNT, 'dev', [policy.arn]);
});
afterAll(() => api.close());

const prod = (type: 'instance' | 'launch-template') => [{ ResourceType: type, Tags: [{ Key: 'stage', Value: 'prod' }] }];

describe('a Deny on tags, resources named indirectly', () => {
  it('DeleteLaunchTemplate by LaunchTemplateName is refused on a prod template', async () => {
    const made = await api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'prod-lt', LaunchTemplateData: { ImageId: api.imageId }, TagSpecifications: prod('launch-template'),
    }));
    const byId = await ec2Call(api, { Action: 'DeleteLaunchTemplate', LaunchTemplateId: made.LaunchTemplate!.LaunchTemplateId! }, user);
    expect([byId.status, codeOf(byId.text)]).toEqual([403, 'UnauthorizedOperation']);
    const byName = await ec2Call(api, { Action: 'DeleteLaunchTemplate', LaunchTemplateName: 'prod-lt' }, user);
    expect([byName.status, codeOf(byName.text)]).toEqual([403, 'UnauthorizedOperation']);
    expect((await api.cloud.instances.templates.get(ACCOUNT, { name: 'prod-lt' })).id).toBe(made.LaunchTemplate!.LaunchTemplateId);
  });

  it('DisassociateIamInstanceProfile by AssociationId is refused on a prod instance', async () => {
    await roleWith(api.cloud, ACCOUNT, 'web-role');
    await putProfile(api.cloud.db, { accountId: ACCOUNT, name: 'web', roleName: 'web-role' });
    const run = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, TagSpecifications: prod('instance') }));
    const id = run.Instances![0]!.InstanceId!;
    const assoc = (await api.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: id, IamInstanceProfile: { Name: 'web' } }))).IamInstanceProfileAssociation!;
    const res = await ec2Call(api, { Action: 'DisassociateIamInstanceProfile', AssociationId: assoc.AssociationId! }, user);
    expect([res.status, codeOf(res.text)]).toEqual([403, 'UnauthorizedOperation']);
    expect(res.text).toContain(`instance/${id}`);
    expect((await api.cloud.iamAssociations.get(ACCOUNT, assoc.AssociationId!)).instanceId).toBe(id);
  });
});

describe('a Deny on tags, key pairs, security groups and addresses', () => {
  it('DeleteKeyPair by KeyName or KeyPairId is refused on a prod key pair (its ARN has its name)', async () => {
    const made = await ec2Call(api, { Action: 'CreateKeyPair', KeyName: 'prod-key', 'TagSpecification.1.ResourceType': 'key-pair', 'TagSpecification.1.Tag.1.Key': 'stage', 'TagSpecification.1.Tag.1.Value': 'prod' });
    expect(made.status, made.text).toBe(200);
    const id = /<keyPairId>([^<]+)</.exec(made.text)![1]!;
    for (const by of [{ KeyName: 'prod-key' }, { KeyPairId: id }] as Record<string, string>[]) {
      const res = await ec2Call(api, { Action: 'DeleteKeyPair', ...by }, user);
      expect([res.status, codeOf(res.text)]).toEqual([403, 'UnauthorizedOperation']);
      expect(res.text).toContain(`key-pair/prod-key`);
    }
    expect(await api.cloud.keyPairs.list(ACCOUNT, ['prod-key'])).toHaveLength(1);
  });

  it('DeleteSecurityGroup by GroupName is refused on a prod group', async () => {
    const made = await ec2Call(api, { Action: 'CreateSecurityGroup', GroupName: 'prod-sg', GroupDescription: 'prod', 'TagSpecification.1.ResourceType': 'security-group', 'TagSpecification.1.Tag.1.Key': 'stage', 'TagSpecification.1.Tag.1.Value': 'prod' });
    expect(made.status, made.text).toBe(200);
    const res = await ec2Call(api, { Action: 'DeleteSecurityGroup', GroupName: 'prod-sg' }, user);
    expect([res.status, codeOf(res.text)]).toEqual([403, 'UnauthorizedOperation']);
    expect((await api.cloud.network.securityGroups(ACCOUNT)).some((g) => g.name === 'prod-sg')).toBe(true);
  });

  it('ReleaseAddress by PublicIp is refused on a prod address', async () => {
    // The fake host has no public pool: the address is put in the table as AllocateAddress would.
    const allocationId = 'eipalloc-0123456789abcdef0';
    const ip = '203.0.113.7';
    await api.cloud.db.insert(addresses).values({ allocationId, accountId: ACCOUNT, publicIp: ip, createdAt: Date.now() });
    await api.cloud.tags.put(ACCOUNT, [allocationId], [{ key: 'stage', value: 'prod' }]);
    const res = await ec2Call(api, { Action: 'ReleaseAddress', PublicIp: ip }, user);
    expect([res.status, codeOf(res.text)]).toEqual([403, 'UnauthorizedOperation']);
    expect(res.text).toContain(`elastic-ip/${allocationId}`);
    expect((await api.cloud.network.addresses.get(ACCOUNT, { publicIp: ip })).allocationId).toBe(allocationId);
});
});

describe('IAM: GetAccessKeyLastUsed', () => {
  it('is authorized on the key\'s user: a user allowed it on itself reads its own key, not another\'s', async () => {
    const self = await api.cloud.iam.policies.create(ACCOUNT, {
      name: 'own-keys', path: '/', document: doc([{ Action: 'iam:GetAccessKeyLastUsed', Resource: `arn:aws:iam::${ACCOUNT}:user/\${aws:username}` }]),
    });
    const carol = await userWithKey(api.cloud, ACCOUNT, 'carol', [self.arn]);
    const erin = await userWithKey(api.cloud, ACCOUNT, 'erin');
    const own = await iamCall(api, { Action: 'GetAccessKeyLastUsed', AccessKeyId: carol.accessKeyId }, carol);
    expect(own.status, own.text).toBe(200);
    const theirs = await iamCall(api, { Action: 'GetAccessKeyLastUsed', AccessKeyId: erin.accessKeyId }, carol);
    expect([theirs.status, codeOf(theirs.text)]).toEqual([403, 'AccessDenied']);
    expect(theirs.text).toContain(`on resource: arn:aws:iam::${ACCOUNT}:user/erin`);
  });
});

describe('IAM: AddRoleToInstanceProfile passes the role', () => {
  it('refused without iam:PassRole on the role (the profile\'s instances would get its credentials), allowed with it', async () => {
    const profiles = await api.cloud.iam.policies.create(ACCOUNT, {
      name: 'profiles-and-weak-role', path: '/', document: doc([
        { Action: ['iam:AddRoleToInstanceProfile', 'iam:RemoveRoleFromInstanceProfile'] },
        { Action: 'iam:PassRole', Resource: `arn:aws:iam::${ACCOUNT}:role/weak`, Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } },
      ]),
    });
    const frank = await userWithKey(api.cloud, ACCOUNT, 'frank', [profiles.arn]);
    await roleWith(api.cloud, ACCOUNT, 'weak');
    await roleWith(api.cloud, ACCOUNT, 'admin', ['arn:aws:iam::aws:policy/AdministratorAccess']);
    await putProfile(api.cloud.db, { accountId: ACCOUNT, name: 'frank-profile' });
    const admin = await iamCall(api, { Action: 'AddRoleToInstanceProfile', InstanceProfileName: 'frank-profile', RoleName: 'admin' }, frank);
    expect([admin.status, codeOf(admin.text)]).toEqual([403, 'AccessDenied']);
    expect(admin.text).toContain(`iam:PassRole on resource: arn:aws:iam::${ACCOUNT}:role/admin`);
    expect((await api.cloud.iam.profiles.get(ACCOUNT, 'frank-profile'))?.role).toBeUndefined();
    const weak = await iamCall(api, { Action: 'AddRoleToInstanceProfile', InstanceProfileName: 'frank-profile', RoleName: 'weak' }, frank);
    expect(weak.status, weak.text).toBe(200);
  });
});

describe('IAM: UpdateUser renames on both names', () => {
  it('needs iam:UpdateUser on the target name too: one allowed it on dev-* users only cannot rename one to admin-*', async () => {
    const devs = await api.cloud.iam.policies.create(ACCOUNT, {
      name: 'manage-devs', path: '/', document: doc([{ Action: 'iam:UpdateUser', Resource: `arn:aws:iam::${ACCOUNT}:user/dev-*` }]),
    });
    const lead = await userWithKey(api.cloud, ACCOUNT, 'lead', [devs.arn]);
    await userWithKey(api.cloud, ACCOUNT, 'dev-ann');
    const out = await iamCall(api, { Action: 'UpdateUser', UserName: 'dev-ann', NewUserName: 'admin-ann' }, lead);
    expect([out.status, codeOf(out.text)]).toEqual([403, 'AccessDenied']);
    expect(out.text).toContain(`on resource: arn:aws:iam::${ACCOUNT}:user/admin-ann`);
    expect(await api.cloud.iam.users.get(ACCOUNT, 'dev-ann')).toBeDefined();
    const ok = await iamCall(api, { Action: 'UpdateUser', UserName: 'dev-ann', NewUserName: 'dev-anne' }, lead);
    expect(ok.status, ok.text).toBe(200);
  });
});
