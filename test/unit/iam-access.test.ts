/**
 * What each API asks of IAM for a request: the action's IAM name, the resources' ARNs (hostile values never become
 * one), the condition keys; and AWS's words for a refusal.
 */
import { describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/cloud/index.js';
import { CloudError } from '../../src/cloud/errors.js';
import { deniedMessage, identityContext, type AccessRequest } from '../../src/cloud/iam/authorize.js';
import { ec2AccessRequest } from '../../src/api/ec2/access.js';
import { Query } from '../../src/api/ec2/query.js';
import { functionArn, lambdaAction } from '../../src/api/lambda/access.js';
import { iamAccess, iamChanges, stsAccess } from '../../src/api/query/access.js';
import { originOf } from '../../src/api/auth/origin.js';
import type { Principal } from '../../src/api/auth/sigv4.js';
import { HOSTILE, NUL } from '../support/hostile.js';

const hostile = [...Object.values(HOSTILE), NUL];

const ACCOUNT = '123456789012';
const user: Principal = {
  accountId: ACCOUNT, accessKeyId: 'AKIAX', region: 'us-east-1', service: 'ec2',
  identity: { kind: 'user', accountId: ACCOUNT, name: 'u', id: 'AIDAX', path: '/' },
};

/** A cloud with tags on one instance and IAM entities at /team/ (what the access builders read). */
const cloud = {
  tags: { of: (ids: string[]) => new Map(ids.filter((i) => i === 'i-0123456789abcdef0').map((i) => [i, [{ key: 'env', value: 'prod' }]])) },
  iam: { entityArn: (acct: string, kind: string, name: string, path?: string) => `arn:aws:iam::${acct}:${kind}${path ?? '/team/'}${name}` },
  // No key pair, group by name, address or launch template: those named are not the account's (the action refuses them).
  keyPairs: { list: () => [] },
  network: { securityGroups: () => [], addresses: { get: () => { throw new CloudError('InvalidAddress.NotFound', 'none'); } } },
  instances: { templates: { get: () => { throw new CloudError('InvalidLaunchTemplateName.NotFoundException', 'none'); } } },
} as unknown as Cloud;

const ec2 = async (action: string, params: Record<string, string>) =>
  await ec2AccessRequest(cloud, user, { sourceIp: '10.1.2.3', secure: false }, action, Query.parse(new URLSearchParams({ Action: action, ...params }).toString()));

describe('EC2', () => {
  it('names the instances a request names, with their tags; Describe* act on *', async () => {
    const r = await ec2('TerminateInstances', { 'InstanceId.1': 'i-0123456789abcdef0', 'InstanceId.2': 'i-0000000000000000a' });
    expect(r.action).toBe('ec2:TerminateInstances');
    expect(r.resources).toEqual([
      { arn: `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0123456789abcdef0`, tags: new Map([['env', 'prod']]) },
      { arn: `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0000000000000000a` },
    ]);
    expect(r.context?.get('aws:SourceIp')).toBe('10.1.2.3');
    expect(r.context?.get('ec2:Region')).toBe('us-east-1');
    expect((await ec2('DescribeInstances', { 'InstanceId.1': 'i-0123456789abcdef0' })).resources).toEqual([{ arn: '*' }]);
    expect((await ec2('DescribeRegions', {})).resources).toEqual([{ arn: '*' }]);
  });

  it('RunInstances: the new instance, volume and interface, the image (no account), subnet, groups, key; its type and tags', async () => {
    const r = await ec2('RunInstances', {
      ImageId: 'ami-0123', InstanceType: 't3.nano', KeyName: 'k', SubnetId: 'subnet-1', 'SecurityGroupId.1': 'sg-1', MinCount: '1', MaxCount: '1',
      'TagSpecification.1.ResourceType': 'instance', 'TagSpecification.1.Tag.1.Key': 'team', 'TagSpecification.1.Tag.1.Value': 'blue',
    });
    expect(r.resources.map((x) => x.arn).sort()).toEqual([
      `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/*`, `arn:aws:ec2:us-east-1:${ACCOUNT}:key-pair/k`,
      `arn:aws:ec2:us-east-1:${ACCOUNT}:network-interface/*`, `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-1`,
      `arn:aws:ec2:us-east-1:${ACCOUNT}:subnet/subnet-1`, `arn:aws:ec2:us-east-1:${ACCOUNT}:volume/*`, 'arn:aws:ec2:us-east-1::image/ami-0123',
    ]);
    expect(r.context?.get('ec2:InstanceType')).toBe('t3.nano');
    expect(r.context?.get('aws:RequestTag/team')).toBe('blue');
    expect(r.context?.get('aws:TagKeys')).toEqual(['team']);
  });

  it('CreateTags: each resource by its id type; tag keys and values are no resources', async () => {
    const r = await ec2('CreateTags', { 'ResourceId.1': 'vol-1', 'ResourceId.2': 'i-0123456789abcdef0', 'Tag.1.Key': 'k', 'Tag.1.Value': 'vpc-1' });
    expect(r.resources.map((x) => x.arn)).toEqual([`arn:aws:ec2:us-east-1:${ACCOUNT}:volume/vol-1`, `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0123456789abcdef0`]);
    expect(r.context?.get('aws:RequestTag/k')).toBe('vpc-1');
  });

  it('a request naming nothing acts on *; filters never name resources', async () => {
    expect((await ec2('AllocateAddress', {})).resources).toEqual([{ arn: `arn:aws:ec2:us-east-1:${ACCOUNT}:elastic-ip/*` }]);
    expect((await ec2('DeleteKeyPair', { 'Filter.1.Name': 'instance-id', 'Filter.1.Value.1': 'i-1' })).resources).toEqual([{ arn: '*' }]);
  });
});

describe('Lambda', () => {
  it("IAM's names for operations", () => {
    expect(lambdaAction('Invoke')).toBe('lambda:InvokeFunction');
    expect(lambdaAction('InvokeWithResponseStream')).toBe('lambda:InvokeFunction');
    expect(lambdaAction('GetFunction')).toBe('lambda:GetFunction');
  });

  it('FunctionName in its forms as the function ARN; anything else as none', () => {
    const base = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:fn`;
    expect(functionArn('us-east-1', ACCOUNT, 'fn')).toBe(base);
    expect(functionArn('us-east-1', ACCOUNT, 'fn', '3')).toBe(`${base}:3`);
    expect(functionArn('us-east-1', ACCOUNT, 'fn:live')).toBe(`${base}:live`);
    expect(functionArn('us-east-1', ACCOUNT, '210987654321:function:fn')).toBe('arn:aws:lambda:us-east-1:210987654321:function:fn');
    expect(functionArn('us-east-1', ACCOUNT, `${base}:$LATEST`)).toBe(`${base}:$LATEST`);
    for (const bad of ['', 'a:b:c:d:e', 'fn/../x', 'fn*', `x:function:fn`, ...hostile]) expect(functionArn('us-east-1', ACCOUNT, bad), JSON.stringify(bad)).toBeUndefined();
  });
});

/** What an IAM action asks when it asks one thing. */
const ask = async (...args: Parameters<typeof iamAccess>) => (await iamAccess(...args)) as AccessRequest | undefined;

describe('IAM and STS', () => {
  it('the entity the input names, with its path; Create* with the path asked for; PolicyArn as given', async () => {
    expect((await ask('GetUser', { UserName: 'bob' }, user, cloud))?.resources).toEqual([{ arn: `arn:aws:iam::${ACCOUNT}:user/team/bob` }]);
    expect((await ask('CreateUser', { UserName: 'bob', Path: '/x/' }, user, cloud))?.resources).toEqual([{ arn: `arn:aws:iam::${ACCOUNT}:user/x/bob` }]);
    expect((await ask('CreatePolicy', { PolicyName: 'p', PolicyDocument: '{}' }, user, cloud))?.resources).toEqual([{ arn: `arn:aws:iam::${ACCOUNT}:policy/p` }]);
    expect(await iamAccess('AddRoleToInstanceProfile', { InstanceProfileName: 'ip', RoleName: 'r' }, user, cloud)).toEqual([
      { action: 'iam:AddRoleToInstanceProfile', resources: [{ arn: `arn:aws:iam::${ACCOUNT}:instance-profile/team/ip` }] },
      { action: 'iam:PassRole', resources: [{ arn: `arn:aws:iam::${ACCOUNT}:role/team/r` }], context: new Map([['iam:PassedToService', 'ec2.amazonaws.com']]) },
    ]);
    const attach = (await ask('AttachRolePolicy', { RoleName: 'r', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }, user, cloud))!;
    expect(attach.resources).toEqual([{ arn: `arn:aws:iam::${ACCOUNT}:role/team/r` }]);
    expect(attach.context?.get('iam:PolicyARN')).toBe('arn:aws:iam::aws:policy/ReadOnlyAccess');
    expect((await ask('GetUser', {}, user, cloud))?.resources).toEqual([{ arn: `arn:aws:iam::${ACCOUNT}:user/u` }]);
    expect((await ask('ListUsers', {}, user, cloud))?.resources).toEqual([{ arn: '*' }]);
    for (const bad of hostile) expect((await ask('GetUser', { UserName: bad }, user, cloud))?.resources, JSON.stringify(bad).slice(0, 40)).toEqual([{ arn: '*' }]);
  });

  it('reads change nothing; STS asks nothing for GetCallerIdentity and GetSessionToken, AssumeRole its own', () => {
    expect(['CreateUser', 'AttachUserPolicy', 'TagUser', 'DeleteRole'].every(iamChanges)).toBe(true);
    expect(['GetUser', 'ListPolicies', 'GenerateCredentialReport'].some(iamChanges)).toBe(false);
    expect(stsAccess('GetCallerIdentity', {}, user, cloud)).toBeUndefined();
    expect(stsAccess('GetSessionToken', {}, user, cloud)).toBeUndefined();
    expect(stsAccess('AssumeRole', { RoleArn: `arn:aws:iam::${ACCOUNT}:role/r` }, user, cloud)).toBeUndefined();
    expect(stsAccess('GetFederationToken', {}, user, cloud)).toEqual({ action: 'sts:GetFederationToken', resources: [{ arn: '*' }] });
  });
});

describe('the refusal and the context', () => {
  it("AWS's words, implicit and explicit", () => {
    const base = { allowed: false as const, resource: 'arn:aws:ec2:us-east-1:1:instance/i-1', principalArn: 'arn:aws:iam::1:user/u', action: 'ec2:TerminateInstances' };
    expect(deniedMessage({ ...base, explicit: false })).toBe('User: arn:aws:iam::1:user/u is not authorized to perform: ec2:TerminateInstances on resource: arn:aws:ec2:us-east-1:1:instance/i-1 because no identity-based policy allows the ec2:TerminateInstances action');
    expect(deniedMessage({ ...base, explicit: true })).toBe('User: arn:aws:iam::1:user/u is not authorized to perform: ec2:TerminateInstances on resource: arn:aws:ec2:us-east-1:1:instance/i-1 with an explicit deny in an identity-based policy');
  });

  it("an identity's keys: a role session's aws:PrincipalArn is its role's; tags as aws:PrincipalTag", () => {
    const c = identityContext({ kind: 'assumed-role', accountId: ACCOUNT, roleName: 'r', roleId: 'AROAX', path: '/p/', sessionName: 's' }, new Map([['team', 'blue']]));
    expect(c.get('aws:PrincipalArn')).toBe(`arn:aws:iam::${ACCOUNT}:role/p/r`);
    expect(c.get('aws:userid')).toBe('AROAX:s');
    expect(c.get('aws:PrincipalTag/team')).toBe('blue');
    const u = identityContext(user.identity, new Map());
    expect([u.get('aws:username'), u.get('aws:userid'), u.get('aws:PrincipalAccount')]).toEqual(['u', 'AIDAX', ACCOUNT]);
  });

  it('the source address: IPv4-mapped IPv6 as IPv4', () => {
    expect(originOf({ remoteAddress: '::ffff:127.0.0.1' })).toEqual({ sourceIp: '127.0.0.1', secure: false });
    expect(originOf({ remoteAddress: '::1', encrypted: true })).toEqual({ sourceIp: '::1', secure: true });
    expect(originOf(undefined)).toEqual({ sourceIp: undefined, secure: false });
  });
});
