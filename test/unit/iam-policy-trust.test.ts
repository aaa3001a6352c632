import { describe, expect, it } from 'vitest';
import { parsePolicy, trustAllows, type TrustCaller } from '../../src/cloud/iam/policy/index.js';

const A = '123456789012';
const B = '210987654321';
const trust = (...statements: Record<string, unknown>[]) => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), 'trust');
const user = (account: string, name: string): TrustCaller => ({ kind: 'aws', arn: `arn:aws:iam::${account}:user/${name}`, accountId: account });
const session = (account: string, role: string, s: string): TrustCaller => ({ kind: 'aws', arn: `arn:aws:sts::${account}:assumed-role/${role}/${s}`, accountId: account });
const lambda: TrustCaller = { kind: 'service', service: 'lambda.amazonaws.com' };
const ec2: TrustCaller = { kind: 'service', service: 'ec2.amazonaws.com' };

describe('trustAllows', () => {
  it('a service principal trusts that service only', () => {
    const t = trust({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' });
    expect(trustAllows(t, lambda, 'sts:AssumeRole')).toBe(true);
    expect(trustAllows(t, ec2, 'sts:AssumeRole')).toBe(false);
    expect(trustAllows(t, user(A, 'alice'), 'sts:AssumeRole')).toBe(false);
    expect(trustAllows(t, lambda, 'sts:TagSession')).toBe(false);
  });

  it('an account (id or root ARN) trusts every principal of it; a user or role ARN trusts that one (and the role\'s sessions)', () => {
    const byId = trust({ Effect: 'Allow', Principal: { AWS: A }, Action: 'sts:AssumeRole' });
    const byRoot = trust({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'sts:*' });
    for (const t of [byId, byRoot]) {
      expect(trustAllows(t, user(A, 'alice'), 'sts:AssumeRole')).toBe(true);
      expect(trustAllows(t, session(A, 'r', 's'), 'sts:AssumeRole')).toBe(true);
      expect(trustAllows(t, user(B, 'alice'), 'sts:AssumeRole')).toBe(false);
      expect(trustAllows(t, lambda, 'sts:AssumeRole')).toBe(false);
    }
    const one = trust({ Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${A}:user/alice`, `arn:aws:iam::${A}:role/team/builder`] }, Action: 'sts:AssumeRole' });
    expect(trustAllows(one, user(A, 'alice'), 'sts:AssumeRole')).toBe(true);
    expect(trustAllows(one, user(A, 'bob'), 'sts:AssumeRole')).toBe(false);
    expect(trustAllows(one, session(A, 'builder', 'ci'), 'sts:AssumeRole')).toBe(true);
    expect(trustAllows(one, session(B, 'builder', 'ci'), 'sts:AssumeRole')).toBe(false);
    expect(trustAllows(one, session(A, 'other', 'ci'), 'sts:AssumeRole')).toBe(false);
  });

  it('"*" trusts everyone; a Deny statement refuses; NotPrincipal is everyone else', () => {
    const t = trust(
      { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' },
      { Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${A}:user/mallory` }, Action: 'sts:AssumeRole' },
    );
    expect(trustAllows(t, user(B, 'anyone'), 'sts:AssumeRole')).toBe(true);
    expect(trustAllows(t, lambda, 'sts:AssumeRole')).toBe(true);
    expect(trustAllows(t, user(A, 'mallory'), 'sts:AssumeRole')).toBe(false);
    const not = trust({ Effect: 'Allow', NotPrincipal: { AWS: B }, Action: 'sts:AssumeRole' });
    expect(trustAllows(not, user(A, 'x'), 'sts:AssumeRole')).toBe(true);
    expect(trustAllows(not, user(B, 'x'), 'sts:AssumeRole')).toBe(false);
  });

  it('conditions: sts:ExternalId, aws:SourceIp, and the caller\'s own aws:PrincipalArn / aws:PrincipalAccount', () => {
    const t = trust({ Effect: 'Allow', Principal: { AWS: B }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'secret-1' }, IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } });
    expect(trustAllows(t, user(B, 'x'), 'sts:AssumeRole', new Map([['sts:ExternalId', 'secret-1'], ['aws:SourceIp', '10.0.0.1']]))).toBe(true);
    expect(trustAllows(t, user(B, 'x'), 'sts:AssumeRole', new Map([['sts:ExternalId', 'secret-2'], ['aws:SourceIp', '10.0.0.1']]))).toBe(false);
    expect(trustAllows(t, user(B, 'x'), 'sts:AssumeRole', new Map([['sts:ExternalId', 'secret-1'], ['aws:SourceIp', '11.0.0.1']]))).toBe(false);
    expect(trustAllows(t, user(B, 'x'), 'sts:AssumeRole')).toBe(false);
    const arn = trust({ Effect: 'Allow', Principal: { AWS: A }, Action: 'sts:AssumeRole', Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${A}:user/ops-*` } } });
    expect(trustAllows(arn, user(A, 'ops-1'), 'sts:AssumeRole')).toBe(true);
    expect(trustAllows(arn, user(A, 'dev-1'), 'sts:AssumeRole')).toBe(false);
  });
});
