/**
 * IAM's policy operations over the Query endpoint (root's key): managed policies and their versions, attachments to
 * users and roles (AWS managed ones by ARN), inline policies, policy tags; AWS's codes and words; nothing half-made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../support/api.js';
import { codeOf, doc, iamCall, messageOf } from '../support/iam-access.js';
import { putRole, putUser } from '../support/iam-rows.js';

const ACCOUNT = '111111111111';
let api: TestApi;
beforeAll(async () => {
  api = await startApi();
  await putUser(api.cloud.db, { accountId: ACCOUNT, name: 'alice' });
  await putRole(api.cloud.db, { accountId: ACCOUNT, name: 'worker' });
});
afterAll(() => api.close());

const call = (params: Record<string, string>) => iamCall(api, params);
const tag = (text: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
const tags = (text: string, name: string) => [...text.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1]);

const READ = doc([{ Action: 'ec2:Describe*' }]);
const arnOf = (name: string, path = '/') => `arn:aws:iam::${ACCOUNT}:policy${path}${name}`;

async function create(name: string, extra: Record<string, string> = {}) {
  const res = await call({ Action: 'CreatePolicy', PolicyName: name, PolicyDocument: READ, ...extra });
  expect(res.status, res.text).toBe(200);
  return res.text;
}

describe('managed policies', () => {
  it('CreatePolicy makes v1 the default; GetPolicy and GetPolicyVersion give it back (the document URL-encoded)', async () => {
    const text = await create('readers', { Path: '/team/', Description: 'reads things', 'Tags.member.1.Key': 'env', 'Tags.member.1.Value': 'prod' });
    expect(tag(text, 'Arn')).toBe(arnOf('readers', '/team/'));
    expect(tag(text, 'DefaultVersionId')).toBe('v1');
    expect(tag(text, 'PolicyId')).toMatch(/^ANPA[A-Z2-7]{16}$/);
    const got = await call({ Action: 'GetPolicy', PolicyArn: arnOf('readers', '/team/') });
    expect(got.status).toBe(200);
    expect(tag(got.text, 'Description')).toBe('reads things');
    expect(tag(got.text, 'AttachmentCount')).toBe('0');
    expect(tag(got.text, 'IsAttachable')).toBe('true');
    expect(tag(got.text, 'Key')).toBe('env');
    const v = await call({ Action: 'GetPolicyVersion', PolicyArn: arnOf('readers', '/team/'), VersionId: 'v1' });
    expect(decodeURIComponent(tag(v.text, 'Document')!)).toBe(READ);
    expect(tag(v.text, 'IsDefaultVersion')).toBe('true');
  });

  it('a second policy of the name is EntityAlreadyExists; a bad document MalformedPolicyDocument; nothing is left of either', async () => {
    await create('twice');
    const again = await call({ Action: 'CreatePolicy', PolicyName: 'twice', PolicyDocument: READ });
    expect([again.status, codeOf(again.text)]).toEqual([409, 'EntityAlreadyExists']);
    expect(messageOf(again.text)).toBe('A policy called twice already exists. Duplicate names are not allowed.');
    const bad = await call({ Action: 'CreatePolicy', PolicyName: 'broken', PolicyDocument: '{"Version":"2012-10-17","Statement":' });
    expect([bad.status, codeOf(bad.text)]).toEqual([400, 'MalformedPolicyDocument']);
    const principal = await call({ Action: 'CreatePolicy', PolicyName: 'broken', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ec2:*', Resource: '*' }] }) });
    expect(codeOf(principal.text)).toBe('MalformedPolicyDocument');
    const gone = await call({ Action: 'GetPolicy', PolicyArn: arnOf('broken') });
    expect([gone.status, codeOf(gone.text)]).toEqual([404, 'NoSuchEntity']);
  });

  it('hostile names and paths are ValidationError, a document past 6144 characters LimitExceeded', async () => {
    for (const name of ['__proto__x!', 'a/b', 'x'.repeat(129), 'nul\u0001']) {
      const res = await call({ Action: 'CreatePolicy', PolicyName: name, PolicyDocument: READ });
      expect(res.status, name).toBe(400);
    }
    const path = await call({ Action: 'CreatePolicy', PolicyName: 'pathy', Path: 'no-slash', PolicyDocument: READ });
    expect(codeOf(path.text)).toBe('ValidationError');
    const big = doc([{ Action: 'ec2:DescribeInstances', Resource: Array.from({ length: 200 }, (_, i) => `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-${String(i).padStart(17, '0')}`) }]);
    const large = await call({ Action: 'CreatePolicy', PolicyName: 'large', PolicyDocument: big });
    expect([large.status, codeOf(large.text)]).toEqual([409, 'LimitExceeded']);
    expect(messageOf(large.text)).toBe('Cannot exceed quota for PolicySize: 6144');
  });

  it('versions: at most 5 (LimitExceeded in AWS words), SetAsDefault, the default not deletable, numbers never reused', async () => {
    await create('versioned');
    const arn = arnOf('versioned');
    for (let i = 2; i <= 5; i++) {
      const v = await call({ Action: 'CreatePolicyVersion', PolicyArn: arn, PolicyDocument: doc([{ Action: `ec2:DescribeVolumes` }]), SetAsDefault: i === 3 ? 'true' : 'false' });
      expect(tag(v.text, 'VersionId')).toBe(`v${i}`);
    }
    const sixth = await call({ Action: 'CreatePolicyVersion', PolicyArn: arn, PolicyDocument: READ });
    expect([sixth.status, codeOf(sixth.text)]).toEqual([409, 'LimitExceeded']);
    expect(messageOf(sixth.text)).toBe('A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.');
    expect(tag((await call({ Action: 'GetPolicy', PolicyArn: arn })).text, 'DefaultVersionId')).toBe('v3');
    const listed = await call({ Action: 'ListPolicyVersions', PolicyArn: arn });
    expect(tags(listed.text, 'VersionId')).toEqual(['v5', 'v4', 'v3', 'v2', 'v1']);
    const del = await call({ Action: 'DeletePolicyVersion', PolicyArn: arn, VersionId: 'v3' });
    expect([del.status, codeOf(del.text), messageOf(del.text)]).toEqual([409, 'DeleteConflict', 'Cannot delete the default version of a policy.']);
    expect((await call({ Action: 'DeletePolicyVersion', PolicyArn: arn, VersionId: 'v5' })).status).toBe(200);
    const next = await call({ Action: 'CreatePolicyVersion', PolicyArn: arn, PolicyDocument: READ });
    expect(tag(next.text, 'VersionId')).toBe('v6');
    expect((await call({ Action: 'SetDefaultPolicyVersion', PolicyArn: arn, VersionId: 'v6' })).status).toBe(200);
    const missing = await call({ Action: 'SetDefaultPolicyVersion', PolicyArn: arn, VersionId: 'v9' });
    expect([missing.status, codeOf(missing.text)]).toEqual([404, 'NoSuchEntity']);
    const badId = await call({ Action: 'GetPolicyVersion', PolicyArn: arn, VersionId: 'x1' });
    expect(codeOf(badId.text)).toBe('ValidationError');
    // DeletePolicy with versions besides the default: DeleteConflict, as AWS.
    const conflict = await call({ Action: 'DeletePolicy', PolicyArn: arn });
    expect([conflict.status, codeOf(conflict.text)]).toEqual([409, 'DeleteConflict']);
    for (const v of ['v1', 'v2', 'v3', 'v4']) expect((await call({ Action: 'DeletePolicyVersion', PolicyArn: arn, VersionId: v })).status).toBe(200);
    expect((await call({ Action: 'DeletePolicy', PolicyArn: arn })).status).toBe(200);
    expect((await call({ Action: 'GetPolicy', PolicyArn: arn })).status).toBe(404);
  });

  it('AWS managed policies are there by ARN, listed with Scope=AWS, and cannot be changed', async () => {
    const got = await call({ Action: 'GetPolicy', PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess' });
    expect(got.status, got.text).toBe(200);
    expect(tag(got.text, 'PolicyName')).toBe('AmazonEC2ReadOnlyAccess');
    const v = await call({ Action: 'GetPolicyVersion', PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess', VersionId: tag(got.text, 'DefaultVersionId')! });
    expect(decodeURIComponent(tag(v.text, 'Document')!)).toContain('ec2:Describe*');
    const listed = await call({ Action: 'ListPolicies', Scope: 'AWS', MaxItems: '1000' });
    expect(tags(listed.text, 'PolicyName')).toContain('AdministratorAccess');
    expect(tags(listed.text, 'PolicyName')).not.toContain('readers');
    const local = await call({ Action: 'ListPolicies', Scope: 'Local' });
    expect(tags(local.text, 'PolicyName')).toContain('readers');
    expect(tags(local.text, 'PolicyName')).not.toContain('AdministratorAccess');
    const nope = await call({ Action: 'GetPolicy', PolicyArn: 'arn:aws:iam::aws:policy/NoSuchThing' });
    expect([nope.status, codeOf(nope.text)]).toEqual([404, 'NoSuchEntity']);
    const change = await call({ Action: 'CreatePolicyVersion', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess', PolicyDocument: READ });
    expect(change.status).toBe(400);
    const invalid = await call({ Action: 'GetPolicy', PolicyArn: 'arn:aws:iam::xyz:policy/not-an-arn-of-ours' });
    expect(codeOf(invalid.text)).toBe('InvalidInput');
  });

  it('ListPolicies pages with MaxItems and Marker, and filters by PathPrefix and OnlyAttached', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await create(n, { Path: '/paged/' });
    const first = await call({ Action: 'ListPolicies', Scope: 'Local', PathPrefix: '/paged/', MaxItems: '2' });
    expect(tags(first.text, 'PolicyName')).toEqual(['page-a', 'page-b']);
    expect(tag(first.text, 'IsTruncated')).toBe('true');
    const rest = await call({ Action: 'ListPolicies', Scope: 'Local', PathPrefix: '/paged/', MaxItems: '2', Marker: tag(first.text, 'Marker')! });
    expect(tags(rest.text, 'PolicyName')).toEqual(['page-c']);
    expect(tag(rest.text, 'IsTruncated')).toBe('false');
    const attachedOnly = await call({ Action: 'ListPolicies', Scope: 'Local', PathPrefix: '/paged/', OnlyAttached: 'true' });
    expect(tags(attachedOnly.text, 'PolicyName')).toEqual([]);
  });
});

describe('attachments', () => {
  it('attach, list, count, ListEntitiesForPolicy, DeleteConflict while attached, detach', async () => {
    await create('attachable');
    const arn = arnOf('attachable');
    expect((await call({ Action: 'AttachUserPolicy', UserName: 'alice', PolicyArn: arn })).status).toBe(200);
    expect((await call({ Action: 'AttachRolePolicy', RoleName: 'worker', PolicyArn: arn })).status).toBe(200);
    expect((await call({ Action: 'AttachRolePolicy', RoleName: 'worker', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' })).status).toBe(200);
    // Attaching again changes nothing.
    expect((await call({ Action: 'AttachUserPolicy', UserName: 'alice', PolicyArn: arn })).status).toBe(200);
    const listed = await call({ Action: 'ListAttachedRolePolicies', RoleName: 'worker' });
    expect(tags(listed.text, 'PolicyName')).toEqual(['ReadOnlyAccess', 'attachable']);
    expect(tag((await call({ Action: 'GetPolicy', PolicyArn: arn })).text, 'AttachmentCount')).toBe('2');
    const entities = await call({ Action: 'ListEntitiesForPolicy', PolicyArn: arn });
    expect(tags(entities.text, 'UserName')).toEqual(['alice']);
    expect(tags(entities.text, 'RoleName')).toEqual(['worker']);
    const del = await call({ Action: 'DeletePolicy', PolicyArn: arn });
    expect([del.status, codeOf(del.text), messageOf(del.text)]).toEqual([409, 'DeleteConflict', 'Cannot delete a policy attached to entities.']);
    const only = await call({ Action: 'ListPolicies', Scope: 'Local', OnlyAttached: 'true' });
    expect(tags(only.text, 'PolicyName')).toEqual(['attachable']);
    expect((await call({ Action: 'DetachUserPolicy', UserName: 'alice', PolicyArn: arn })).status).toBe(200);
    const again = await call({ Action: 'DetachUserPolicy', UserName: 'alice', PolicyArn: arn });
    expect([again.status, codeOf(again.text), messageOf(again.text)]).toEqual([404, 'NoSuchEntity', `Policy ${arn} was not found.`]);
    expect((await call({ Action: 'DetachRolePolicy', RoleName: 'worker', PolicyArn: arn })).status).toBe(200);
    expect((await call({ Action: 'DetachRolePolicy', RoleName: 'worker', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' })).status).toBe(200);
    expect((await call({ Action: 'DeletePolicy', PolicyArn: arn })).status).toBe(200);
  });

  it('an unknown principal or policy is NoSuchEntity in AWS words; the 11th policy LimitExceeded', async () => {
    const nobody = await call({ Action: 'AttachUserPolicy', UserName: 'nobody', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' });
    expect([nobody.status, codeOf(nobody.text), messageOf(nobody.text)]).toEqual([404, 'NoSuchEntity', 'The user with name nobody cannot be found.']);
    const role = await call({ Action: 'AttachRolePolicy', RoleName: 'nobody', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' });
    expect(messageOf(role.text)).toBe('The role with name nobody cannot be found.');
    const unknown = await call({ Action: 'AttachUserPolicy', UserName: 'alice', PolicyArn: arnOf('missing') });
    expect([unknown.status, messageOf(unknown.text)]).toEqual([404, `Policy ${arnOf('missing')} does not exist or is not attachable.`]);
    const other = await call({ Action: 'AttachUserPolicy', UserName: 'alice', PolicyArn: 'arn:aws:iam::222222222222:policy/theirs' });
    expect(other.status).toBe(404);
    await putUser(api.cloud.db, { accountId: ACCOUNT, name: 'collector' });
    for (let i = 0; i < 10; i++) {
      await create(`many-${i}`);
      expect((await call({ Action: 'AttachUserPolicy', UserName: 'collector', PolicyArn: arnOf(`many-${i}`) })).status).toBe(200);
    }
    const eleventh = await call({ Action: 'AttachUserPolicy', UserName: 'collector', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' });
    expect([eleventh.status, codeOf(eleventh.text), messageOf(eleventh.text)]).toEqual([409, 'LimitExceeded', 'Cannot exceed quota for PoliciesPerUser: 10']);
    const page = await call({ Action: 'ListAttachedUserPolicies', UserName: 'collector', MaxItems: '4' });
    expect(tags(page.text, 'PolicyName')).toEqual(['many-0', 'many-1', 'many-2', 'many-3']);
  });
});

describe('inline policies', () => {
  it('put, get (URL-encoded), list, replace, delete; for users and roles', async () => {
    for (const [kind, name] of [['User', 'alice'], ['Role', 'worker']] as const) {
      const who = { [`${kind}Name`]: name };
      expect((await call({ Action: `Put${kind}Policy`, ...who, PolicyName: 'inline', PolicyDocument: READ })).status).toBe(200);
      const got = await call({ Action: `Get${kind}Policy`, ...who, PolicyName: 'inline' });
      expect(decodeURIComponent(tag(got.text, 'PolicyDocument')!)).toBe(READ);
      expect(tag(got.text, `${kind}Name`)).toBe(name);
      const replaced = doc([{ Action: 'ec2:DescribeVolumes' }]);
      expect((await call({ Action: `Put${kind}Policy`, ...who, PolicyName: 'inline', PolicyDocument: replaced })).status).toBe(200);
      expect(decodeURIComponent(tag((await call({ Action: `Get${kind}Policy`, ...who, PolicyName: 'inline' })).text, 'PolicyDocument')!)).toBe(replaced);
      expect(tags((await call({ Action: `List${kind}Policies`, ...who })).text, 'member')).toEqual(['inline']);
      expect((await call({ Action: `Delete${kind}Policy`, ...who, PolicyName: 'inline' })).status).toBe(200);
      const gone = await call({ Action: `Get${kind}Policy`, ...who, PolicyName: 'inline' });
      expect([gone.status, codeOf(gone.text), messageOf(gone.text)]).toEqual([404, 'NoSuchEntity', `The ${kind.toLowerCase()} policy with name inline cannot be found.`]);
    }
  });

  it("a user's inline policies are at most 2048 characters together; a malformed one is refused and not stored", async () => {
    const big = doc([{ Action: 'ec2:DescribeInstances', Resource: Array.from({ length: 30 }, (_, i) => `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-${String(i).padStart(17, '0')}`) }]);
    const res = await call({ Action: 'PutUserPolicy', UserName: 'alice', PolicyName: 'big', PolicyDocument: big });
    expect([res.status, codeOf(res.text), messageOf(res.text)]).toEqual([409, 'LimitExceeded', 'Maximum policy size of 2048 bytes exceeded for user alice']);
    // A role takes it (10240).
    expect((await call({ Action: 'PutRolePolicy', RoleName: 'worker', PolicyName: 'big', PolicyDocument: big })).status).toBe(200);
    const bad = await call({ Action: 'PutUserPolicy', UserName: 'alice', PolicyName: 'bad', PolicyDocument: '{"Statement":[{"Effect":"Maybe"}]}' });
    expect(codeOf(bad.text)).toBe('MalformedPolicyDocument');
    expect(tags((await call({ Action: 'ListUserPolicies', UserName: 'alice' })).text, 'member')).toEqual([]);
  });
});

describe('policy tags', () => {
  it('TagPolicy, ListPolicyTags, UntagPolicy; AWS managed policies have none to change', async () => {
    await create('tagged');
    const arn = arnOf('tagged');
    expect((await call({ Action: 'TagPolicy', PolicyArn: arn, 'Tags.member.1.Key': 'team', 'Tags.member.1.Value': 'a', 'Tags.member.2.Key': 'env', 'Tags.member.2.Value': 'dev' })).status).toBe(200);
    expect(tags((await call({ Action: 'ListPolicyTags', PolicyArn: arn })).text, 'Key')).toEqual(['env', 'team']);
    expect((await call({ Action: 'UntagPolicy', PolicyArn: arn, 'TagKeys.member.1': 'team' })).status).toBe(200);
    expect(tags((await call({ Action: 'ListPolicyTags', PolicyArn: arn })).text, 'Key')).toEqual(['env']);
    const reserved = await call({ Action: 'TagPolicy', PolicyArn: arn, 'Tags.member.1.Key': 'aws:x', 'Tags.member.1.Value': 'a' });
    expect(reserved.status).toBe(400);
  });
});
