/** IAM roles and instance profiles over the Query API: AWS's answers, codes, paging, hostile names, conflicts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../support/api.js';
import { iamCall, members, TRUST_EC2 } from '../support/iam.js';
import { NUL } from '../support/hostile.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

const call = (action: string, params: Record<string, string> = {}) => iamCall(api, action, params);
const roleNames = async () => (await api.cloud.iam.roles.list('111111111111')).map((r) => r.name);

describe('roles', () => {
  it('CreateRole then GetRole gives the role back, its trust policy URL-encoded as AWS does', async () => {
    const created = await call('CreateRole', {
      RoleName: 'web', Path: '/app/', AssumeRolePolicyDocument: TRUST_EC2, Description: 'web servers', MaxSessionDuration: '7200',
      'Tags.member.1.Key': 'team', 'Tags.member.1.Value': 'blue',
    });
    expect(created.status, created.text).toBe(200);
    const role = (await call('GetRole', { RoleName: 'web' })).result.Role as Record<string, unknown>;
    expect(role).toMatchObject({
      RoleName: 'web', Path: '/app/', Arn: 'arn:aws:iam::111111111111:role/app/web', Description: 'web servers', MaxSessionDuration: '7200',
    });
    expect(role.RoleId).toMatch(/^AROA[A-Z2-7]{16}$/);
    expect(role.AssumeRolePolicyDocument).toBe(encodeURIComponent(TRUST_EC2));
    expect(decodeURIComponent(role.AssumeRolePolicyDocument as string)).toBe(TRUST_EC2);
    expect(members((role as { Tags: unknown }).Tags)).toEqual([{ Key: 'team', Value: 'blue' }]);
  });

  it('a second role of the same name, in any case, is EntityAlreadyExists (409)', async () => {
    const again = await call('CreateRole', { RoleName: 'WEB', AssumeRolePolicyDocument: TRUST_EC2 });
    expect([again.status, again.code]).toEqual([409, 'EntityAlreadyExists']);
    expect(again.message).toBe('Role with name WEB already exists.');
  });

  it('an unknown role is NoSuchEntity (404)', async () => {
    const r = await call('GetRole', { RoleName: 'nope' });
    expect([r.status, r.code, r.message]).toEqual([404, 'NoSuchEntity', 'The role with name nope cannot be found.']);
  });

  it.each([
    ['not JSON', '{"Statement": ', 'MalformedPolicyDocument'],
    ['no Statement', '{"Version":"2012-10-17"}', 'MalformedPolicyDocument'],
    ['no Principal', JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] }), 'MalformedPolicyDocument'],
    ['over the 2048 quota', JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { Service: 'x'.repeat(3000) }, Action: 'sts:AssumeRole' }] }), 'LimitExceeded'],
  ])('a trust policy %s is %s and creates nothing', async (_what, doc, code) => {
    const r = await call('CreateRole', { RoleName: 'bad-trust', AssumeRolePolicyDocument: doc });
    expect(r.code).toBe(code);
    expect(await roleNames()).not.toContain('bad-trust');
  });

  it('a trust policy naming a user or role that does not exist is refused as AWS words it; one that exists is taken', async () => {
    const trustIn = (arn: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: arn }, Action: 'sts:AssumeRole' }] });
    const missing = await call('CreateRole', { RoleName: 'trusts-ghost', AssumeRolePolicyDocument: trustIn('arn:aws:iam::111111111111:user/ghost') });
    expect([missing.code, missing.message]).toEqual(['MalformedPolicyDocument', 'Invalid principal in policy: "AWS":"arn:aws:iam::111111111111:user/ghost"']);
    expect(await roleNames()).not.toContain('trusts-ghost');
    expect((await call('CreateRole', { RoleName: 'trusts-web', AssumeRolePolicyDocument: trustIn('arn:aws:iam::111111111111:role/app/web') })).status).toBe(200);
    expect((await call('CreateRole', { RoleName: 'trusts-path', AssumeRolePolicyDocument: trustIn('arn:aws:iam::111111111111:role/web') })).code).toBe('MalformedPolicyDocument');
    expect((await call('CreateRole', { RoleName: 'trusts-account', AssumeRolePolicyDocument: trustIn('arn:aws:iam::111111111111:root') })).status).toBe(200);
    expect((await call('UpdateAssumeRolePolicy', { RoleName: 'trusts-web', PolicyDocument: trustIn('arn:aws:iam::111111111111:role/nope') })).code).toBe('MalformedPolicyDocument');
    for (const n of ['trusts-web', 'trusts-account']) expect((await call('DeleteRole', { RoleName: n })).status).toBe(200);
  });

  it.each([
    ['__proto__ as a path', { RoleName: 'p', Path: '__proto__' }],
    ['a name of 65 characters', { RoleName: 'r'.repeat(65) }],
    ['a name of 100 KB', { RoleName: 'r'.repeat(100 * 1024) }],
    ['a name with a slash', { RoleName: '../etc' }],
    ['a name with a space', { RoleName: 'a b' }],
    ['MaxSessionDuration under 3600', { RoleName: 'short', MaxSessionDuration: '3599' }],
    ['MaxSessionDuration over 43200', { RoleName: 'long', MaxSessionDuration: '43201' }],
    ['a tag key starting aws:', { RoleName: 'awstag', 'Tags.member.1.Key': 'aws:x', 'Tags.member.1.Value': 'v' }],
  ])('%s is refused and creates nothing', async (_what, params) => {
    const before = await roleNames();
    const r = await call('CreateRole', { AssumeRolePolicyDocument: TRUST_EC2, ...params });
    expect(r.status, r.text).toBe(400);
    expect(['ValidationError', 'InvalidInput']).toContain(r.code);
    expect(r.text.length).toBeLessThan(2000);
    expect(await roleNames()).toEqual(before);
  });

  it('__proto__ is an ordinary role name', async () => {
    expect((await call('CreateRole', { RoleName: '__proto__', AssumeRolePolicyDocument: TRUST_EC2 })).status).toBe(200);
    expect(((await call('GetRole', { RoleName: '__proto__' })).result.Role as { RoleName: string }).RoleName).toBe('__proto__');
    expect((await call('DeleteRole', { RoleName: '__proto__' })).status).toBe(200);
  });

  it('a NUL in a parameter is refused', async () => {
    expect((await call('CreateRole', { RoleName: NUL, AssumeRolePolicyDocument: TRUST_EC2 })).code).toBe('ValidationError');
  });

  it('UpdateRole and UpdateAssumeRolePolicy change what GetRole says', async () => {
    expect((await call('UpdateRole', { RoleName: 'web', Description: 'changed', MaxSessionDuration: '3600' })).status).toBe(200);
    const doc = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    expect((await call('UpdateAssumeRolePolicy', { RoleName: 'web', PolicyDocument: doc })).status).toBe(200);
    const role = (await call('GetRole', { RoleName: 'web' })).result.Role as Record<string, string>;
    expect([role.Description, role.MaxSessionDuration, decodeURIComponent(role.AssumeRolePolicyDocument!)]).toEqual(['changed', '3600', doc]);
    expect((await call('UpdateAssumeRolePolicy', { RoleName: 'web', PolicyDocument: 'nope' })).code).toBe('MalformedPolicyDocument');
  });

  it('ListRoles pages by MaxItems and Marker, in name order, under a PathPrefix', async () => {
    for (const n of ['p-c', 'p-a', 'p-b']) await call('CreateRole', { RoleName: n, Path: '/paged/', AssumeRolePolicyDocument: TRUST_EC2 });
    const first = await call('ListRoles', { PathPrefix: '/paged/', MaxItems: '2' });
    expect(members<{ RoleName: string }>(first.result.Roles).map((r) => r.RoleName)).toEqual(['p-a', 'p-b']);
    expect(first.result.IsTruncated).toBe('true');
    const second = await call('ListRoles', { PathPrefix: '/paged/', MaxItems: '2', Marker: first.result.Marker as string });
    expect(members<{ RoleName: string }>(second.result.Roles).map((r) => r.RoleName)).toEqual(['p-c']);
    expect([second.result.IsTruncated, second.result.Marker]).toEqual(['false', undefined]);
    expect((await call('ListRoles', { MaxItems: '0' })).code).toBe('ValidationError');
    expect((await call('ListRoles', { Marker: '!!' })).code).toBe('ValidationError');
    for (const n of ['p-c', 'p-a', 'p-b']) await call('DeleteRole', { RoleName: n });
  });

  it('roles are the account\'s own', async () => {
    const other = await iamCall(api, 'GetRole', { RoleName: 'web' }, api.keyOther);
    expect(other.code).toBe('NoSuchEntity');
  });

  it('TagRole, UntagRole (keys regardless of case), ListRoleTags', async () => {
    expect((await call('TagRole', { RoleName: 'web', 'Tags.member.1.Key': 'env', 'Tags.member.1.Value': 'prod', 'Tags.member.2.Key': 'TEAM', 'Tags.member.2.Value': 'red' })).status).toBe(200);
    expect(members((await call('ListRoleTags', { RoleName: 'web' })).result.Tags)).toEqual([{ Key: 'TEAM', Value: 'red' }, { Key: 'env', Value: 'prod' }]);
    expect((await call('UntagRole', { RoleName: 'web', 'TagKeys.member.1': 'Env', 'TagKeys.member.2': 'absent' })).status).toBe(200);
    expect(members((await call('ListRoleTags', { RoleName: 'web' })).result.Tags)).toEqual([{ Key: 'TEAM', Value: 'red' }]);
    const dup = await call('TagRole', { RoleName: 'web', 'Tags.member.1.Key': 'a', 'Tags.member.1.Value': '1', 'Tags.member.2.Key': 'A', 'Tags.member.2.Value': '2' });
    expect(dup.code).toBe('InvalidInput');
    const many: Record<string, string> = { RoleName: 'web' };
    for (let i = 1; i <= 50; i++) Object.assign(many, { [`Tags.member.${i}.Key`]: `k${i}`, [`Tags.member.${i}.Value`]: 'v' });
    const over = await call('TagRole', many);
    expect([over.status, over.code]).toEqual([409, 'LimitExceeded']);
    expect(members((await call('ListRoleTags', { RoleName: 'web' })).result.Tags)).toHaveLength(1);
  });
});

describe('instance profiles', () => {
  it('Create, AddRoleToInstanceProfile, Get (with its role), by ARN for other helpers', async () => {
    const created = await call('CreateInstanceProfile', { InstanceProfileName: 'web-profile', Path: '/app/' });
    expect(created.status, created.text).toBe(200);
    const ip = created.result.InstanceProfile as Record<string, unknown>;
    expect(ip).toMatchObject({ InstanceProfileName: 'web-profile', Arn: 'arn:aws:iam::111111111111:instance-profile/app/web-profile', Roles: '' });
    expect(ip.InstanceProfileId).toMatch(/^AIPA[A-Z2-7]{16}$/);
    expect((await call('AddRoleToInstanceProfile', { InstanceProfileName: 'web-profile', RoleName: 'web' })).status).toBe(200);
    const got = (await call('GetInstanceProfile', { InstanceProfileName: 'web-profile' })).result.InstanceProfile as { Roles: unknown };
    expect(members<{ RoleName: string }>(got.Roles).map((r) => r.RoleName)).toEqual(['web']);
    expect((await api.cloud.iam.profiles.get('111111111111', 'arn:aws:iam::111111111111:instance-profile/app/web-profile'))?.role?.name).toBe('web');
    expect(await api.cloud.iam.profiles.get('111111111111', 'arn:aws:iam::111111111111:instance-profile/web-profile')).toBeUndefined();
    expect(await api.cloud.iam.profiles.get('222222222222', 'arn:aws:iam::111111111111:instance-profile/app/web-profile')).toBeUndefined();
  });

  it('a second role is LimitExceeded as AWS words it', async () => {
    await call('CreateRole', { RoleName: 'second', AssumeRolePolicyDocument: TRUST_EC2 });
    const r = await call('AddRoleToInstanceProfile', { InstanceProfileName: 'web-profile', RoleName: 'second' });
    expect([r.status, r.code, r.message]).toEqual([409, 'LimitExceeded', 'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1']);
    expect((await call('AddRoleToInstanceProfile', { InstanceProfileName: 'web-profile', RoleName: 'ghost' })).code).toBe('NoSuchEntity');
    expect((await call('AddRoleToInstanceProfile', { InstanceProfileName: 'ghost', RoleName: 'second' })).code).toBe('NoSuchEntity');
  });

  it('ListInstanceProfiles and ListInstanceProfilesForRole', async () => {
    await call('CreateInstanceProfile', { InstanceProfileName: 'empty-profile' });
    const all = members<{ InstanceProfileName: string }>((await call('ListInstanceProfiles')).result.InstanceProfiles);
    expect(all.map((p) => p.InstanceProfileName)).toEqual(['empty-profile', 'web-profile']);
    const forRole = members<{ InstanceProfileName: string }>((await call('ListInstanceProfilesForRole', { RoleName: 'web' })).result.InstanceProfiles);
    expect(forRole.map((p) => p.InstanceProfileName)).toEqual(['web-profile']);
    expect((await call('ListInstanceProfilesForRole', { RoleName: 'ghost' })).code).toBe('NoSuchEntity');
  });

  it('a role in a profile, and a profile with a role, cannot be deleted (DeleteConflict), then can', async () => {
    const role = await call('DeleteRole', { RoleName: 'web' });
    expect([role.status, role.code, role.message]).toEqual([409, 'DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.']);
    expect((await call('DeleteInstanceProfile', { InstanceProfileName: 'web-profile' })).code).toBe('DeleteConflict');
    expect((await call('RemoveRoleFromInstanceProfile', { InstanceProfileName: 'web-profile', RoleName: 'second' })).code).toBe('NoSuchEntity');
    expect((await call('RemoveRoleFromInstanceProfile', { InstanceProfileName: 'web-profile', RoleName: 'web' })).status).toBe(200);
    expect((await call('DeleteInstanceProfile', { InstanceProfileName: 'web-profile' })).status).toBe(200);
    expect((await call('DeleteRole', { RoleName: 'web' })).status).toBe(200);
    expect((await call('GetRole', { RoleName: 'web' })).code).toBe('NoSuchEntity');
    expect(await api.cloud.iam.tags.list('111111111111', 'role', 'web')).toEqual([]);
  });

  it('profile tags', async () => {
    expect((await call('TagInstanceProfile', { InstanceProfileName: 'empty-profile', 'Tags.member.1.Key': 'k', 'Tags.member.1.Value': 'v' })).status).toBe(200);
    expect(members((await call('ListInstanceProfileTags', { InstanceProfileName: 'empty-profile' })).result.Tags)).toEqual([{ Key: 'k', Value: 'v' }]);
    expect((await call('UntagInstanceProfile', { InstanceProfileName: 'empty-profile', 'TagKeys.member.1': 'k' })).status).toBe(200);
    expect(members((await call('ListInstanceProfileTags', { InstanceProfileName: 'empty-profile' })).result.Tags)).toEqual([]);
  });

  it('a role with an attached or inline policy cannot be deleted', async () => {
    const { iamAttachments, iamInlinePolicies } = await import('../../src/db/schema.js');
    await call('CreateRole', { RoleName: 'with-policy', AssumeRolePolicyDocument: TRUST_EC2 });
    await api.cloud.db.insert(iamAttachments).values({ accountId: '111111111111', principalKind: 'role', principalName: 'with-policy', policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess', createdAt: 0 });
    expect((await call('DeleteRole', { RoleName: 'with-policy' })).message).toBe('Cannot delete entity, must detach all policies first.');
    await api.cloud.db.delete(iamAttachments);
    await api.cloud.db.insert(iamInlinePolicies).values({ accountId: '111111111111', principalKind: 'role', principalName: 'with-policy', policyName: 'p', document: '{}', createdAt: 0 });
    expect((await call('DeleteRole', { RoleName: 'with-policy' })).message).toBe('Cannot delete entity, must delete policies first.');
    await api.cloud.db.delete(iamInlinePolicies);
    expect((await call('DeleteRole', { RoleName: 'with-policy' })).status).toBe(200);
  });
});
