import { describe, expect, it } from 'vitest';
import { evaluate, explain, parsePolicy } from '../../src/cloud/iam/policy/index.js';
import type { AccessRequest } from '../../src/cloud/iam/authorize.js';

const A = '123456789012';
const inst = (id: string) => `arn:aws:ec2:us-east-1:${A}:instance/${id}`;
const policy = (...statements: Record<string, unknown>[]) => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), 'identity');
const req = (action: string, resources: (string | { arn: string; tags?: Record<string, string> })[] = ['*'], context: Record<string, string | string[]> = {}): AccessRequest => ({
  action,
  resources: resources.map((r) => (typeof r === 'string' ? { arn: r } : { arn: r.arn, tags: r.tags && new Map(Object.entries(r.tags)) })),
  context: new Map(Object.entries(context)),
});
const allowAll = policy({ Effect: 'Allow', Action: '*', Resource: '*' });

describe('evaluate: explicit Deny > Allow > implicit deny', () => {
  it('denies implicitly with no policy or no statement for the action', () => {
    expect(evaluate([], req('ec2:DescribeInstances'))).toBe('implicit-deny');
    expect(evaluate([policy({ Effect: 'Allow', Action: 'lambda:*', Resource: '*' })], req('ec2:DescribeInstances'))).toBe('implicit-deny');
  });

  it('an explicit Deny wins over any Allow, in any policy, in any order', () => {
    const deny = policy({ Effect: 'Deny', Action: 'ec2:TerminateInstances', Resource: '*' });
    expect(evaluate([allowAll, deny], req('ec2:TerminateInstances', [inst('i-1')]))).toBe('deny');
    expect(evaluate([deny, allowAll], req('ec2:TerminateInstances', [inst('i-1')]))).toBe('deny');
    expect(evaluate([deny, allowAll], req('ec2:StopInstances', [inst('i-1')]))).toBe('allow');
  });

  it('every resource must be allowed; a Deny on any one denies', () => {
    const p = policy({ Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: inst('i-1') },
      { Effect: 'Deny', Action: 'ec2:TerminateInstances', Resource: inst('i-3') });
    expect(evaluate([p], req('ec2:TerminateInstances', [inst('i-1')]))).toBe('allow');
    expect(explain([p], req('ec2:TerminateInstances', [inst('i-1'), inst('i-2')]))).toEqual({ result: 'implicit-deny', resource: inst('i-2') });
    expect(explain([p], req('ec2:TerminateInstances', [inst('i-2'), inst('i-3')]))).toEqual({ result: 'deny', resource: inst('i-3'), sid: undefined });
  });

  it('actions: case-insensitive, with wildcards; NotAction is everything else', () => {
    const p = policy({ Effect: 'Allow', Action: ['EC2:describe*', 'lambda:Get?unction'], Resource: '*' });
    expect(evaluate([p], req('ec2:DescribeInstances'))).toBe('allow');
    expect(evaluate([p], req('lambda:GetFunction'))).toBe('allow');
    expect(evaluate([p], req('lambda:GetFunctionConfiguration'))).toBe('implicit-deny');
    expect(evaluate([p], req('ec2:RunInstances'))).toBe('implicit-deny');
    const notIam = policy({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' });
    expect(evaluate([notIam], req('ec2:RunInstances'))).toBe('allow');
    expect(evaluate([notIam], req('iam:CreateUser'))).toBe('implicit-deny');
  });

  it('resources: case-sensitive, wildcards within an ARN part; NotResource; a policy on ARNs does not cover "*"', () => {
    const p = policy({ Effect: 'Allow', Action: 'ec2:*', Resource: `arn:aws:ec2:*:${A}:instance/i-*` });
    expect(evaluate([p], req('ec2:StopInstances', [inst('i-1')]))).toBe('allow');
    expect(evaluate([p], req('ec2:StopInstances', [inst('I-1')]))).toBe('implicit-deny');
    expect(evaluate([p], req('ec2:StopInstances', [`arn:aws:ec2:us-east-1:${A}:volume/i-1`]))).toBe('implicit-deny');
    expect(evaluate([p], req('ec2:DescribeInstances', ['*']))).toBe('implicit-deny');
    // `*` in the region part does not reach across a colon.
    const region = policy({ Effect: 'Allow', Action: 'ec2:*', Resource: 'arn:aws:ec2:us-*:instance/*' });
    expect(evaluate([region], req('ec2:StopInstances', [inst('i-1')]))).toBe('implicit-deny');
    const notRes = policy({ Effect: 'Allow', Action: 'ec2:*', NotResource: inst('i-1') });
    expect(evaluate([notRes], req('ec2:StopInstances', [inst('i-2')]))).toBe('allow');
    expect(evaluate([notRes], req('ec2:StopInstances', [inst('i-1')]))).toBe('implicit-deny');
  });

  it('policy variables in resources, with Version 2012-10-17 only; a variable the request lacks matches nothing; values are literal', () => {
    const p = policy({ Effect: 'Allow', Action: 'iam:*AccessKey*', Resource: `arn:aws:iam::${A}:user/\${aws:username}` });
    expect(evaluate([p], req('iam:CreateAccessKey', [`arn:aws:iam::${A}:user/alice`], { 'aws:username': 'alice' }))).toBe('allow');
    expect(evaluate([p], req('iam:CreateAccessKey', [`arn:aws:iam::${A}:user/bob`], { 'aws:username': 'alice' }))).toBe('implicit-deny');
    expect(evaluate([p], req('iam:CreateAccessKey', [`arn:aws:iam::${A}:user/alice`]))).toBe('implicit-deny');
    const star = policy({ Effect: 'Allow', Action: 'ec2:*', Resource: `arn:aws:ec2:*:${A}:instance/\${aws:PrincipalTag/prefix}` });
    expect(evaluate([star], req('ec2:StopInstances', [inst('i-1')], { 'aws:PrincipalTag/prefix': '*' }))).toBe('implicit-deny');
    expect(evaluate([star], req('ec2:StopInstances', [inst('*')], { 'aws:PrincipalTag/prefix': '*' }))).toBe('allow');
    const fallback = policy({ Effect: 'Allow', Action: 'ec2:*', Resource: `arn:aws:ec2:*:${A}:instance/\${aws:PrincipalTag/x, 'i-9'}` });
    expect(evaluate([fallback], req('ec2:StopInstances', [inst('i-9')]))).toBe('allow');
    const old = parsePolicy(JSON.stringify({ Version: '2008-10-17', Statement: { Effect: 'Allow', Action: 'ec2:*', Resource: `arn:aws:ec2:*:${A}:instance/\${aws:username}` } }), 'identity');
    expect(evaluate([old], req('ec2:StopInstances', [inst('${aws:username}')], { 'aws:username': 'x' }))).toBe('allow');
    expect(evaluate([old], req('ec2:StopInstances', [inst('x')], { 'aws:username': 'x' }))).toBe('implicit-deny');
  });
});

/** Whether one condition block allows the request. */
const cond = (condition: Record<string, unknown>, context: Record<string, string | string[]> = {}, resource: string | { arn: string; tags?: Record<string, string> } = '*') =>
  evaluate([policy({ Effect: 'Allow', Action: 'ec2:*', Resource: '*', Condition: condition })], req('ec2:RunInstances', [resource], context)) === 'allow';

describe('conditions', () => {
  it('String operators; keys case-insensitive; values OR-ed', () => {
    expect(cond({ StringEquals: { 'ec2:InstanceType': ['t3.micro', 't3.nano'] } }, { 'ec2:instancetype': 't3.nano' })).toBe(true);
    expect(cond({ StringEquals: { 'ec2:InstanceType': 't3.micro' } }, { 'ec2:InstanceType': 'T3.micro' })).toBe(false);
    expect(cond({ StringEquals: { 'ec2:InstanceType': 't3.*' } }, { 'ec2:InstanceType': 't3.micro' })).toBe(false);
    expect(cond({ StringEqualsIgnoreCase: { 'ec2:InstanceType': 'T3.MICRO' } }, { 'ec2:InstanceType': 't3.micro' })).toBe(true);
    expect(cond({ StringNotEqualsIgnoreCase: { 'ec2:InstanceType': 'T3.MICRO' } }, { 'ec2:InstanceType': 't3.micro' })).toBe(false);
    expect(cond({ StringNotEquals: { 'ec2:InstanceType': 't3.micro' } }, { 'ec2:InstanceType': 't3.nano' })).toBe(true);
    expect(cond({ StringNotEquals: { 'ec2:InstanceType': 't3.micro' } }, { 'ec2:InstanceType': 't3.micro' })).toBe(false);
    expect(cond({ StringLike: { 'ec2:InstanceType': 't3.*' } }, { 'ec2:InstanceType': 't3.micro' })).toBe(true);
    expect(cond({ StringLike: { 'ec2:InstanceType': 't?.micro' } }, { 'ec2:InstanceType': 'm5.large' })).toBe(false);
    expect(cond({ StringNotLike: { 'ec2:InstanceType': 'm5.*' } }, { 'ec2:InstanceType': 't3.micro' })).toBe(true);
  });

  it('a missing key: positive operators fail, negated ones hold, …IfExists holds', () => {
    expect(cond({ StringEquals: { 'ec2:InstanceType': 't3.micro' } })).toBe(false);
    expect(cond({ StringNotEquals: { 'ec2:InstanceType': 't3.micro' } })).toBe(true);
    expect(cond({ StringEqualsIfExists: { 'ec2:InstanceType': 't3.micro' } })).toBe(true);
    expect(cond({ StringEqualsIfExists: { 'ec2:InstanceType': 't3.micro' } }, { 'ec2:InstanceType': 'm5.large' })).toBe(false);
  });

  it('several keys and several operators are AND-ed', () => {
    const c = { StringEquals: { 'aws:RequestedRegion': 'us-east-1', 'ec2:InstanceType': 't3.micro' }, Bool: { 'aws:SecureTransport': 'true' } };
    expect(cond(c, { 'aws:RequestedRegion': 'us-east-1', 'ec2:InstanceType': 't3.micro', 'aws:SecureTransport': 'true' })).toBe(true);
    expect(cond(c, { 'aws:RequestedRegion': 'us-east-1', 'ec2:InstanceType': 't3.micro', 'aws:SecureTransport': 'false' })).toBe(false);
    expect(cond(c, { 'aws:RequestedRegion': 'eu-west-1', 'ec2:InstanceType': 't3.micro', 'aws:SecureTransport': 'true' })).toBe(false);
  });

  it('Arn operators, part by part', () => {
    const arn = `arn:aws:iam::${A}:role/app/worker`;
    expect(cond({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${A}:role/app/*` } }, { 'aws:PrincipalArn': arn })).toBe(true);
    expect(cond({ ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::*:role/app/worker` } }, { 'aws:PrincipalArn': arn })).toBe(true);
    expect(cond({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*' } }, { 'aws:PrincipalArn': arn })).toBe(true);
    expect(cond({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam:*:role/*' } }, { 'aws:PrincipalArn': arn })).toBe(false);
    expect(cond({ ArnNotLike: { 'aws:PrincipalArn': `arn:aws:iam::${A}:user/*` } }, { 'aws:PrincipalArn': arn })).toBe(true);
    expect(cond({ ArnNotEquals: { 'aws:PrincipalArn': arn } }, { 'aws:PrincipalArn': arn })).toBe(false);
    expect(cond({ ArnLike: { 'aws:PrincipalArn': '*' } }, { 'aws:PrincipalArn': 'not-an-arn' })).toBe(true);
    expect(cond({ ArnLike: { 'aws:PrincipalArn': 'arn:*:*:*:*:*' } }, { 'aws:PrincipalArn': 'not-an-arn' })).toBe(false);
  });

  it('IpAddress / NotIpAddress, IPv4 and IPv6 CIDRs and single addresses', () => {
    const c = { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] } };
    expect(cond(c, { 'aws:SourceIp': '10.1.2.3' })).toBe(true);
    expect(cond(c, { 'aws:SourceIp': '11.1.2.3' })).toBe(false);
    expect(cond(c, { 'aws:SourceIp': '2001:db8:1::5' })).toBe(true);
    expect(cond(c, { 'aws:SourceIp': '2001:db9::5' })).toBe(false);
    expect(cond(c, { 'aws:SourceIp': '192.0.2.7' })).toBe(true);
    expect(cond(c, { 'aws:SourceIp': 'garbage' })).toBe(false);
    expect(cond({ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '11.1.2.3' })).toBe(true);
    expect(cond({ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '10.1.2.3' })).toBe(false);
  });

  it('Bool and Null', () => {
    expect(cond({ Bool: { 'aws:SecureTransport': false } }, { 'aws:SecureTransport': 'false' })).toBe(true);
    expect(cond({ Bool: { 'aws:SecureTransport': 'True' } }, { 'aws:SecureTransport': 'true' })).toBe(true);
    expect(cond({ Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:SecureTransport': 'false' })).toBe(false);
    expect(cond({ Null: { 'aws:TokenIssueTime': 'true' } })).toBe(true);
    expect(cond({ Null: { 'aws:TokenIssueTime': 'true' } }, { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' })).toBe(false);
    expect(cond({ Null: { 'aws:TokenIssueTime': 'false' } }, { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' })).toBe(true);
    expect(cond({ Null: { 'aws:TokenIssueTime': 'false' } })).toBe(false);
  });

  it('Numeric operators', () => {
    const ctx = { 'aws:MultiFactorAuthAge': '300' };
    expect(cond({ NumericEquals: { 'aws:MultiFactorAuthAge': 300 } }, ctx)).toBe(true);
    expect(cond({ NumericNotEquals: { 'aws:MultiFactorAuthAge': '300' } }, ctx)).toBe(false);
    expect(cond({ NumericLessThan: { 'aws:MultiFactorAuthAge': '300' } }, ctx)).toBe(false);
    expect(cond({ NumericLessThanEquals: { 'aws:MultiFactorAuthAge': '300' } }, ctx)).toBe(true);
    expect(cond({ NumericGreaterThan: { 'aws:MultiFactorAuthAge': '299.5' } }, ctx)).toBe(true);
    expect(cond({ NumericGreaterThanEquals: { 'aws:MultiFactorAuthAge': '301' } }, ctx)).toBe(false);
    expect(cond({ NumericEquals: { 'aws:MultiFactorAuthAge': '300' } }, { 'aws:MultiFactorAuthAge': 'lots' })).toBe(false);
  });

  it('Date operators, ISO 8601 and epoch seconds; aws:CurrentTime is the clock when the caller gives none', () => {
    const ctx = { 'aws:CurrentTime': '2026-06-01T12:00:00Z' };
    expect(cond({ DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, ctx)).toBe(true);
    expect(cond({ DateLessThan: { 'aws:CurrentTime': '2026-01-01' } }, ctx)).toBe(false);
    expect(cond({ DateLessThanEquals: { 'aws:CurrentTime': '2026-06-01T12:00:00Z' } }, ctx)).toBe(true);
    expect(cond({ DateEquals: { 'aws:CurrentTime': String(Date.parse('2026-06-01T12:00:00Z') / 1000) } }, ctx)).toBe(true);
    expect(cond({ DateNotEquals: { 'aws:CurrentTime': '2026-06-01T12:00:00Z' } }, ctx)).toBe(false);
    expect(cond({ DateGreaterThanEquals: { 'aws:CurrentTime': '2026-06-01T13:00:00+01:00' } }, ctx)).toBe(true);
    expect(cond({ DateGreaterThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } })).toBe(true);
    expect(cond({ DateLessThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } })).toBe(false);
  });

  it('ForAnyValue / ForAllValues over multi-valued keys', () => {
    const any = { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env', 'team'] } };
    const all = { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env', 'team'] } };
    expect(cond(any, { 'aws:TagKeys': ['env', 'cost'] })).toBe(true);
    expect(cond(any, { 'aws:TagKeys': ['cost'] })).toBe(false);
    expect(cond(any)).toBe(false);
    expect(cond(all, { 'aws:TagKeys': ['env', 'team'] })).toBe(true);
    expect(cond(all, { 'aws:TagKeys': ['env', 'cost'] })).toBe(false);
    expect(cond(all)).toBe(true);
    expect(cond({ 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['secret'] } }, { 'aws:TagKeys': ['env'] })).toBe(true);
    expect(cond({ 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['secret'] } }, { 'aws:TagKeys': ['env', 'secret'] })).toBe(false);
    expect(cond({ 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['secret'] } }, { 'aws:TagKeys': ['secret', 'env'] })).toBe(true);
    expect(cond({ 'ForAnyValue:StringLikeIfExists': { 'aws:TagKeys': 'e*' } })).toBe(true);
  });

  it('resource tags: ec2:ResourceTag/K and aws:ResourceTag/K from the resource itself (tag key any case)', () => {
    const tagged = { arn: inst('i-1'), tags: { Env: 'prod' } };
    const deny = policy({ Effect: 'Deny', Action: 'ec2:TerminateInstances', Resource: '*', Condition: { StringEquals: { 'ec2:ResourceTag/env': 'prod' } } });
    expect(evaluate([allowAll, deny], req('ec2:TerminateInstances', [tagged]))).toBe('deny');
    expect(evaluate([allowAll, deny], req('ec2:TerminateInstances', [{ arn: inst('i-2'), tags: { Env: 'dev' } }]))).toBe('allow');
    expect(evaluate([allowAll, deny], req('ec2:TerminateInstances', [inst('i-3')]))).toBe('allow');
    expect(explain([allowAll, deny], req('ec2:TerminateInstances', [inst('i-3'), tagged])).resource).toBe(inst('i-1'));
    expect(cond({ StringEquals: { 'aws:ResourceTag/Env': 'prod' } }, {}, tagged)).toBe(true);
  });

  it('policy variables in condition values', () => {
    const c = { StringEquals: { 'aws:ResourceTag/owner': '${aws:username}' } };
    expect(cond(c, { 'aws:username': 'alice' }, { arn: inst('i-1'), tags: { owner: 'alice' } })).toBe(true);
    expect(cond(c, { 'aws:username': 'bob' }, { arn: inst('i-1'), tags: { owner: 'alice' } })).toBe(false);
    expect(cond({ StringLike: { 'ec2:InstanceType': '${*}' } }, { 'ec2:InstanceType': '*' })).toBe(true);
    expect(cond({ StringLike: { 'ec2:InstanceType': '${*}' } }, { 'ec2:InstanceType': 't3.micro' })).toBe(false);
  });
});
