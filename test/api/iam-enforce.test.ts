/**
 * Policies enforced on every API: an IAM user (or a role session) may do what its policies allow, in EC2, Lambda, IAM
 * and STS; refusals in each service's code and AWS's words; conditions on tags, source address; a policy changed takes
 * effect on the next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import aws4 from 'aws4';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startApi, type TestApi } from '../support/api.js';
import { codeOf, doc, ec2Call, iamCall, messageOf, roleWith, userWithKey, type TestKey } from '../support/iam-access.js';

const ACCOUNT = '111111111111';
const EC2_READ = 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess';
let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(() => api.close());

async function runInstance(tags: Record<string, string> = {}): Promise<string> {
  const res = await api.ec2.send(new RunInstancesCommand({
    ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1,
    ...(Object.keys(tags).length ? { TagSpecifications: [{ ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }] } : {}),
  }));
  return res.Instances![0]!.InstanceId!;
}

const lambdaErr = (text: string) => JSON.parse(text) as { __type: string; message: string };

/** The account's instances not ending or ended. */
const live = async () => (await api.cloud.instances.describe(ACCOUNT, { ids: [], filters: [] })).instances.filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down');

/** A customer managed policy of the account made from a document, by root, attached to the user. */
async function attachNew(user: string, name: string, document: string): Promise<string> {
  const made = await iamCall(api, { Action: 'CreatePolicy', PolicyName: name, PolicyDocument: document });
  expect(made.status, made.text).toBe(200);
  const arn = `arn:aws:iam::${ACCOUNT}:policy/${name}`;
  expect((await iamCall(api, { Action: 'AttachUserPolicy', UserName: user, PolicyArn: arn })).status).toBe(200);
  return arn;
}

describe('EC2', () => {
  let reader: TestKey & { arn: string };
  beforeAll(async () => { reader = await userWithKey(api.cloud, ACCOUNT, 'reader', [EC2_READ]); });

  it('a user with AmazonEC2ReadOnlyAccess describes, and is UnauthorizedOperation on RunInstances and TerminateInstances', async () => {
    const id = await runInstance();
    const described = await ec2Call(api, { Action: 'DescribeInstances' }, reader);
    expect(described.status, described.text).toBe(200);
    expect(described.text).toContain(id);
    const run = await ec2Call(api, { Action: 'RunInstances', ImageId: api.imageId, InstanceType: 't3.micro', MinCount: '1', MaxCount: '1' }, reader);
    expect([run.status, codeOf(run.text)]).toEqual([403, 'UnauthorizedOperation']);
    expect(messageOf(run.text)).toMatch(new RegExp(`^You are not authorized to perform this operation\\. User: ${reader.arn} is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:${ACCOUNT}:\\S+ because no identity-based policy allows the ec2:RunInstances action$`));
    const term = await ec2Call(api, { Action: 'TerminateInstances', 'InstanceId.1': id }, reader);
    expect([term.status, codeOf(term.text)]).toEqual([403, 'UnauthorizedOperation']);
    expect(messageOf(term.text)).toBe(`You are not authorized to perform this operation. User: ${reader.arn} is not authorized to perform: ec2:TerminateInstances on resource: arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${id} because no identity-based policy allows the ec2:TerminateInstances action`);
    // Nothing was made or ended by the refused requests.
    expect((await live()).map((i) => i.id)).toEqual([id]);
  });

  it('DryRun: an allowed request is DryRunOperation, a refused one UnauthorizedOperation', async () => {
    const allowed = await ec2Call(api, { Action: 'DescribeInstances', DryRun: 'true' }, reader);
    expect(codeOf(allowed.text)).toBe('DryRunOperation');
    const refused = await ec2Call(api, { Action: 'CreateVpc', CidrBlock: '10.9.0.0/16', DryRun: 'true' }, reader);
    expect(codeOf(refused.text)).toBe('UnauthorizedOperation');
  });

  it('a Deny on ec2:TerminateInstances for ec2:ResourceTag/env=prod holds for a prod instance, not for another', async () => {
    const ops = await userWithKey(api.cloud, ACCOUNT, 'ops');
    await attachNew('ops', 'ec2-all', doc([{ Action: 'ec2:*' }]));
    await attachNew('ops', 'keep-prod', doc([{ Effect: 'Deny', Action: 'ec2:TerminateInstances', Condition: { StringEquals: { 'ec2:ResourceTag/env': 'prod' } } }]));
    const prod = await runInstance({ env: 'prod' });
    const dev = await runInstance({ env: 'dev' });
    const denied = await ec2Call(api, { Action: 'TerminateInstances', 'InstanceId.1': prod }, ops);
    expect([denied.status, codeOf(denied.text)]).toEqual([403, 'UnauthorizedOperation']);
    expect(messageOf(denied.text)).toBe(`You are not authorized to perform this operation. User: ${ops.arn} is not authorized to perform: ec2:TerminateInstances on resource: arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${prod} with an explicit deny in an identity-based policy`);
    // Both at once: the prod one denies the request.
    const both = await ec2Call(api, { Action: 'TerminateInstances', 'InstanceId.1': dev, 'InstanceId.2': prod }, ops);
    expect(codeOf(both.text)).toBe('UnauthorizedOperation');
    expect(messageOf(both.text)).toContain(`instance/${prod} with an explicit deny`);
    const ok = await ec2Call(api, { Action: 'TerminateInstances', 'InstanceId.1': dev }, ops);
    expect(ok.status, ok.text).toBe(200);
    // The prod instance is still there, running or starting.
    expect((await live()).map((i) => i.id)).toContain(prod);
    expect((await live()).map((i) => i.id)).not.toContain(dev);
  });

  it('conditions on the request: ec2:InstanceType and aws:RequestTag', async () => {
    const small = await userWithKey(api.cloud, ACCOUNT, 'small');
    await attachNew('small', 'small-only', doc([
      { Action: 'ec2:RunInstances', Condition: { StringEquals: { 'ec2:InstanceType': 't3.nano' } } },
      { Action: 'ec2:CreateTags' },
      { Effect: 'Deny', Action: 'ec2:RunInstances', Condition: { StringEquals: { 'aws:RequestTag/team': 'other' } } },
    ]));
    const run = (type: string, team?: string) => ec2Call(api, {
      Action: 'RunInstances', ImageId: api.imageId, InstanceType: type, MinCount: '1', MaxCount: '1',
      ...(team ? { 'TagSpecification.1.ResourceType': 'instance', 'TagSpecification.1.Tag.1.Key': 'team', 'TagSpecification.1.Tag.1.Value': team } : {}),
    }, small);
    expect(codeOf((await run('t3.micro')).text)).toBe('UnauthorizedOperation');
    expect(codeOf((await run('t3.nano', 'other')).text)).toBe('UnauthorizedOperation');
    const ok = await run('t3.nano', 'mine');
    expect(ok.status, ok.text).toBe(200);
  });

  it('aws:SourceIp: an address condition holds for the address the request came from', async () => {
    const near = await userWithKey(api.cloud, ACCOUNT, 'near');
    const far = await userWithKey(api.cloud, ACCOUNT, 'far');
    await attachNew('near', 'from-loopback', doc([{ Action: 'ec2:DescribeRegions', Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }]));
    await attachNew('far', 'from-elsewhere', doc([{ Action: 'ec2:DescribeRegions', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }]));
    expect((await ec2Call(api, { Action: 'DescribeRegions' }, near)).status).toBe(200);
    expect(codeOf((await ec2Call(api, { Action: 'DescribeRegions' }, far)).text)).toBe('UnauthorizedOperation');
  });

  it('a change of an attached policy takes effect on the next request', async () => {
    const later = await userWithKey(api.cloud, ACCOUNT, 'later');
    const describe = () => ec2Call(api, { Action: 'DescribeVpcs' }, later);
    expect((await describe()).status).toBe(403);
    const arn = await attachNew('later', 'changing', doc([{ Action: 'ec2:DescribeVpcs' }]));
    expect((await describe()).status).toBe(200);
    const v2 = await iamCall(api, { Action: 'CreatePolicyVersion', PolicyArn: arn, PolicyDocument: doc([{ Action: 'ec2:DescribeSubnets' }]), SetAsDefault: 'true' });
    expect(v2.status).toBe(200);
    expect((await describe()).status).toBe(403);
    expect((await iamCall(api, { Action: 'SetDefaultPolicyVersion', PolicyArn: arn, VersionId: 'v1' })).status).toBe(200);
    expect((await describe()).status).toBe(200);
    expect((await iamCall(api, { Action: 'DetachUserPolicy', UserName: 'later', PolicyArn: arn })).status).toBe(200);
    expect((await describe()).status).toBe(403);
    expect((await iamCall(api, { Action: 'PutUserPolicy', UserName: 'later', PolicyName: 'inline', PolicyDocument: doc([{ Action: 'ec2:Describe*' }]) })).status).toBe(200);
    expect((await describe()).status).toBe(200);
  });

  it('aws:PrincipalTag: a tag of the user given or taken after its documents were read takes effect on the next request', async () => {
    const tagged = await userWithKey(api.cloud, ACCOUNT, 'tagged');
    await attachNew('tagged', 'by-tag', doc([{ Action: 'ec2:DescribeImages', Condition: { StringEquals: { 'aws:PrincipalTag/team': 'blue' } } }]));
    expect((await ec2Call(api, { Action: 'DescribeImages' }, tagged)).status).toBe(403);
    // Any IAM write through the API (here TagUser) drops what was kept of the user: the next request sees the tag.
    const t = await iamCall(api, { Action: 'TagUser', UserName: 'tagged', 'Tags.member.1.Key': 'team', 'Tags.member.1.Value': 'blue' });
    expect(t.status, t.text).toBe(200);
    expect((await ec2Call(api, { Action: 'DescribeImages' }, tagged)).status).toBe(200);
    expect((await iamCall(api, { Action: 'UntagUser', UserName: 'tagged', 'TagKeys.member.1': 'team' })).status).toBe(200);
    expect((await ec2Call(api, { Action: 'DescribeImages' }, tagged)).status).toBe(403);
  });
});

describe('iam:PassRole', () => {
  it("giving an instance a profile passes its role: refused without iam:PassRole on it", async () => {
    await roleWith(api.cloud, ACCOUNT, 'instance-role');
    expect((await iamCall(api, { Action: 'CreateInstanceProfile', InstanceProfileName: 'web' })).status).toBe(200);
    expect((await iamCall(api, { Action: 'AddRoleToInstanceProfile', InstanceProfileName: 'web', RoleName: 'instance-role' })).status).toBe(200);
    const launcher = await userWithKey(api.cloud, ACCOUNT, 'launcher');
    await attachNew('launcher', 'launch-all', doc([{ Action: 'ec2:*' }]));
    const run = await ec2Call(api, { Action: 'RunInstances', ImageId: api.imageId, InstanceType: 't3.nano', MinCount: '1', MaxCount: '1', 'IamInstanceProfile.Name': 'web', DryRun: 'true' }, launcher);
    expect(codeOf(run.text)).toBe('UnauthorizedOperation');
    expect(messageOf(run.text)).toContain(`iam:PassRole on resource: arn:aws:iam::${ACCOUNT}:role/instance-role because`);
    await attachNew('launcher', 'pass-to-ec2', doc([{ Action: 'iam:PassRole', Resource: `arn:aws:iam::${ACCOUNT}:role/instance-role`, Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } }]));
    const again = await ec2Call(api, { Action: 'RunInstances', ImageId: api.imageId, InstanceType: 't3.nano', MinCount: '1', MaxCount: '1', 'IamInstanceProfile.Name': 'web', DryRun: 'true' }, launcher);
    expect(codeOf(again.text)).not.toBe('UnauthorizedOperation');
  });

  it("CreateFunction passes the function's role to Lambda: AWSLambda_FullAccess may (to lambda.amazonaws.com), lambda:* alone not", async () => {
    const body = JSON.stringify({ FunctionName: 'passing', Runtime: 'nodejs20.x', Role: `arn:aws:iam::${ACCOUNT}:role/fn-role`, Handler: 'i.h', Code: { ZipFile: 'UEsDBA==' } });
    const dev = await userWithKey(api.cloud, ACCOUNT, 'lambda-dev');
    await attachNew('lambda-dev', 'lambda-all', doc([{ Action: 'lambda:*' }]));
    const refused = await api.send({ method: 'POST', path: '/2015-03-31/functions', body, service: 'lambda', key: dev });
    expect(lambdaErr(refused.text)).toMatchObject({ __type: 'AccessDeniedException' });
    expect(lambdaErr(refused.text).message).toContain(`iam:PassRole on resource: arn:aws:iam::${ACCOUNT}:role/fn-role because`);
    const full = await userWithKey(api.cloud, ACCOUNT, 'lambda-full', ['arn:aws:iam::aws:policy/AWSLambda_FullAccess']);
    const passed = await api.send({ method: 'POST', path: '/2015-03-31/functions', body, service: 'lambda', key: full });
    expect(lambdaErr(passed.text).__type).not.toBe('AccessDeniedException');
  });
});

describe('the console', () => {
  it('a presigned console URL of a user without ec2:GetConsoleScreenshot on the instance is UnauthorizedOperation', async () => {
    const host = new URL(api.endpoint).host;
    const url = (key: TestKey) => api.endpoint + aws4.sign({ host, method: 'GET', path: '/pcloud/console/i-0123456789abcdef0?X-Amz-Expires=300', service: 'ec2', region: 'us-east-1', signQuery: true }, key).path!;
    const nobody = await userWithKey(api.cloud, ACCOUNT, 'no-console');
    const res = await fetch(url(nobody));
    const text = await res.text();
    expect([res.status, codeOf(text)]).toEqual([403, 'UnauthorizedOperation']);
    expect(messageOf(text)).toContain(`ec2:GetConsoleScreenshot on resource: arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0123456789abcdef0`);
    // Allowed: on to the console itself (which has no such instance).
    const viewer = await userWithKey(api.cloud, ACCOUNT, 'viewer');
    await attachNew('viewer', 'console', doc([{ Action: 'ec2:GetConsoleScreenshot' }]));
    expect(codeOf(await (await fetch(url(viewer))).text())).not.toBe('UnauthorizedOperation');
  });
});

describe('a role session', () => {
  it('may do what its role allows, and no more', async () => {
    await roleWith(api.cloud, ACCOUNT, 'describer', [EC2_READ]);
    const c = await api.cloud.iam.sessions.mint({ accountId: ACCOUNT, roleName: 'describer', sessionName: 'tester', durationSeconds: 900 });
    const key = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
    expect((await ec2Call(api, { Action: 'DescribeInstances' }, key)).status).toBe(200);
    const vpc = await ec2Call(api, { Action: 'CreateVpc', CidrBlock: '10.8.0.0/16' }, key);
    expect(codeOf(vpc.text)).toBe('UnauthorizedOperation');
    expect(messageOf(vpc.text)).toContain(`User: arn:aws:sts::${ACCOUNT}:assumed-role/describer/tester is not authorized to perform: ec2:CreateVpc`);
  });
});

describe('a session policy', () => {
  it("bounds what the role allows: AssumeRole's Policy", async () => {
    await roleWith(api.cloud, ACCOUNT, 'bounded', [EC2_READ]);
    const res = await iamCall(api, {
      Action: 'AssumeRole', RoleArn: `arn:aws:iam::${ACCOUNT}:role/bounded`, RoleSessionName: 'narrow', Policy: doc([{ Action: ['ec2:DescribeVpcs', 'ec2:CreateVpc'] }]),
    }, undefined, 'sts');
    expect(res.status, res.text).toBe(200);
    const key = {
      accessKeyId: /<AccessKeyId>([^<]+)</.exec(res.text)![1]!, secretAccessKey: /<SecretAccessKey>([^<]+)</.exec(res.text)![1]!,
      sessionToken: /<SessionToken>([^<]+)</.exec(res.text)![1]!,
    };
    expect((await ec2Call(api, { Action: 'DescribeVpcs' }, key)).status).toBe(200);
    // The role allows it, the session policy does not; and the other way round.
    expect(codeOf((await ec2Call(api, { Action: 'DescribeInstances' }, key)).text)).toBe('UnauthorizedOperation');
    expect(codeOf((await ec2Call(api, { Action: 'CreateVpc', CidrBlock: '10.7.0.0/16' }, key)).text)).toBe('UnauthorizedOperation');
  });
});

describe('Lambda', () => {
  it('a user without a Lambda policy is AccessDeniedException in AWS words; one with AWSLambda_ReadOnlyAccess reads', async () => {
    const nobody = await userWithKey(api.cloud, ACCOUNT, 'no-lambda');
    const list = await api.send({ method: 'GET', path: '/2015-03-31/functions/', service: 'lambda', key: nobody });
    expect(list.status).toBe(403);
    expect(JSON.parse(list.text)).toMatchObject({
      __type: 'AccessDeniedException',
      message: `User: ${nobody.arn} is not authorized to perform: lambda:ListFunctions on resource: * because no identity-based policy allows the lambda:ListFunctions action`,
    });
    const get = await api.send({ method: 'GET', path: '/2015-03-31/functions/fn1', service: 'lambda', key: nobody });
    expect(lambdaErr(get.text).message).toContain(`lambda:GetFunction on resource: arn:aws:lambda:us-east-1:${ACCOUNT}:function:fn1 because`);
    const invoke = await api.send({ method: 'POST', path: '/2015-03-31/functions/fn1/invocations?Qualifier=live', body: '{}', service: 'lambda', key: nobody });
    expect(lambdaErr(invoke.text).message).toContain(`lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:${ACCOUNT}:function:fn1:live because`);
    const create = await api.send({ method: 'POST', path: '/2015-03-31/functions', body: JSON.stringify({ FunctionName: 'made', Runtime: 'nodejs20.x', Role: `arn:aws:iam::${ACCOUNT}:role/x`, Handler: 'i.h', Code: { ZipFile: 'UEsDBA==' } }), service: 'lambda', key: nobody });
    expect(lambdaErr(create.text).message).toContain(`lambda:CreateFunction on resource: arn:aws:lambda:us-east-1:${ACCOUNT}:function:made because`);
    const reader = await userWithKey(api.cloud, ACCOUNT, 'lambda-reader', ['arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess']);
    expect((await api.send({ method: 'GET', path: '/2015-03-31/functions/', service: 'lambda', key: reader })).status).toBe(200);
    const missing = await api.send({ method: 'GET', path: '/2015-03-31/functions/fn1', service: 'lambda', key: reader });
    expect(lambdaErr(missing.text).__type).toBe('ResourceNotFoundException');
  });
});

describe('IAM and STS', () => {
  it('a user without IAM permissions is AccessDenied in AWS words, naming the resource with its path', async () => {
    const plain = await userWithKey(api.cloud, ACCOUNT, 'plain');
    const res = await iamCall(api, { Action: 'CreatePolicy', PolicyName: 'mine', Path: '/p/', PolicyDocument: doc([{ Action: 'ec2:*' }]) }, plain);
    expect([res.status, codeOf(res.text)]).toEqual([403, 'AccessDenied']);
    expect(messageOf(res.text)).toBe(`User: ${plain.arn} is not authorized to perform: iam:CreatePolicy on resource: arn:aws:iam::${ACCOUNT}:policy/p/mine because no identity-based policy allows the iam:CreatePolicy action`);
    expect((await iamCall(api, { Action: 'GetPolicy', PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/p/mine` })).status).toBe(404);
    const attach = await iamCall(api, { Action: 'AttachUserPolicy', UserName: 'plain', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }, plain);
    expect(messageOf(attach.text)).toContain(`iam:AttachUserPolicy on resource: arn:aws:iam::${ACCOUNT}:user/plain because`);
    // No one gives themselves more than they have.
    expect(await api.cloud.iam.policies.attached(ACCOUNT, 'user', 'plain')).toEqual([]);
  });

  it('IAM permissions scoped by resource and iam:PolicyARN', async () => {
    const admin = await userWithKey(api.cloud, ACCOUNT, 'delegate');
    await attachNew('delegate', 'delegate-readonly', doc([
      { Action: 'iam:AttachUserPolicy', Resource: `arn:aws:iam::${ACCOUNT}:user/*`, Condition: { ArnEquals: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/ReadOnlyAccess' } } },
      { Action: 'iam:List*' },
    ]));
    const target = await userWithKey(api.cloud, ACCOUNT, 'target');
    expect((await iamCall(api, { Action: 'AttachUserPolicy', UserName: 'target', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }, admin)).status).toBe(200);
    expect((await iamCall(api, { Action: 'AttachUserPolicy', UserName: 'target', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }, admin)).status).toBe(403);
    const listed = await iamCall(api, { Action: 'ListAttachedUserPolicies', UserName: 'target' }, admin);
    expect(listed.status).toBe(200);
    expect(listed.text).toContain('ReadOnlyAccess');
    expect(target.arn).toBe(`arn:aws:iam::${ACCOUNT}:user/target`);
  });

  it('STS GetCallerIdentity needs no permission', async () => {
    const nobody = await userWithKey(api.cloud, ACCOUNT, 'who');
    const res = await iamCall(api, { Action: 'GetCallerIdentity' }, nobody, 'sts');
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain(`<Arn>${nobody.arn}</Arn>`);
  });

  it('sts:AssumeRole needs the identity policy too', async () => {
    await roleWith(api.cloud, ACCOUNT, 'assumable');
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/assumable`;
    const nobody = await userWithKey(api.cloud, ACCOUNT, 'assumer');
    const res = await iamCall(api, { Action: 'AssumeRole', RoleArn: roleArn, RoleSessionName: 'try' }, nobody, 'sts');
    expect(res.status).toBe(403);
    expect(codeOf(res.text)).toBe('AccessDenied');
    expect(messageOf(res.text)).toContain(`is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  });
});
