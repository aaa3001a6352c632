import { describe, expect, it } from 'vitest';
import { evaluate, managedPolicies, managedPolicy, parsePolicy, type Policy } from '../../src/cloud/iam/policy/index.js';
import { derivedPolicyId } from '../../src/cloud/iam/managed/index.js';

const A = '123456789012';
const parsed = (name: string, path = '/'): Policy => parsePolicy(managedPolicy(`arn:aws:iam::aws:policy${path}${name}`)!.document, 'identity', { managed: true });
const can = (p: Policy, action: string, resource = '*') => evaluate([p], { action, resources: [{ arn: resource }] });

describe('AWS managed policies', () => {
  it('has the ones real configurations attach, with AWS\'s ARNs, paths, ids and versions; every document parses as a managed policy', () => {
    const names = managedPolicies().map((p) => p.name);
    expect(names).toEqual([...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    for (const n of ['AdministratorAccess', 'ReadOnlyAccess', 'PowerUserAccess', 'AmazonEC2FullAccess', 'AmazonEC2ReadOnlyAccess', 'AWSLambda_FullAccess',
      'AWSLambda_ReadOnlyAccess', 'AWSLambdaBasicExecutionRole', 'AWSLambdaRole', 'AWSLambdaVPCAccessExecutionRole', 'IAMFullAccess', 'IAMReadOnlyAccess',
      'AmazonSSMManagedInstanceCore', 'CloudWatchAgentServerPolicy', 'AmazonS3ReadOnlyAccess', 'AmazonS3FullAccess']) expect(names).toContain(n);
    for (const p of managedPolicies()) {
      expect(p.arn).toBe(`arn:aws:iam::aws:policy${p.path}${p.name}`);
      expect(p.id).toMatch(/^ANPA[A-Z2-7]{17}$/);
      expect(p.versionId).toMatch(/^v\d+$/);
      expect(p.createDate.getTime()).toBeLessThanOrEqual(p.updateDate.getTime());
      expect(p.description.length).toBeGreaterThan(0);
      expect(() => parsePolicy(p.document, 'identity', { managed: true }), p.name).not.toThrow();
      expect(managedPolicy(p.arn)).toBe(p);
    }
    expect(new Set(managedPolicies().map((p) => p.id)).size).toBe(managedPolicies().length);
    expect(managedPolicy('arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole')!.id).toBe('ANPAJNCQGXC42545SKXIK');
    expect(managedPolicy('arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole')).toBeUndefined();
    expect(managedPolicy('arn:aws:iam::aws:policy/AdministratorAccess')).toMatchObject({ id: 'ANPAIWMBCKSKIEE64ZLYK', versionId: 'v1', path: '/' });
    expect(managedPolicy('arn:aws:iam::aws:policy/__proto__')).toBeUndefined();
    expect(derivedPolicyId('X')).toBe(derivedPolicyId('X'));
    expect(derivedPolicyId('X')).not.toBe(derivedPolicyId('Y'));
  });

  it('AdministratorAccess allows everything', () => {
    const admin = parsed('AdministratorAccess');
    for (const a of ['ec2:RunInstances', 'iam:CreateUser', 'lambda:InvokeFunction', 's3:PutObject']) expect(can(admin, a, `arn:aws:ec2:us-east-1:${A}:instance/i-1`)).toBe('allow');
  });

  it('ReadOnlyAccess and AmazonEC2ReadOnlyAccess describe but do not run or terminate', () => {
    for (const p of [parsed('ReadOnlyAccess'), parsed('AmazonEC2ReadOnlyAccess')]) {
      expect(can(p, 'ec2:DescribeInstances')).toBe('allow');
      expect(can(p, 'ec2:RunInstances')).toBe('implicit-deny');
      expect(can(p, 'ec2:TerminateInstances', `arn:aws:ec2:us-east-1:${A}:instance/i-1`)).toBe('implicit-deny');
    }
    const ro = parsed('ReadOnlyAccess');
    expect(can(ro, 'iam:GetRole')).toBe('allow');
    expect(can(ro, 'lambda:GetFunction')).toBe('allow');
    expect(can(ro, 'lambda:InvokeFunction')).toBe('implicit-deny');
    expect(can(ro, 'iam:CreateUser')).toBe('implicit-deny');
  });

  it('PowerUserAccess: everything but IAM (save a few)', () => {
    const pu = parsed('PowerUserAccess');
    expect(can(pu, 'ec2:RunInstances')).toBe('allow');
    expect(can(pu, 'lambda:CreateFunction')).toBe('allow');
    expect(can(pu, 'iam:CreateUser')).toBe('implicit-deny');
    expect(can(pu, 'iam:ListRoles')).toBe('allow');
  });

  it('AWSLambda_FullAccess passes roles only to Lambda; AWSLambdaRole invokes', () => {
    const full = parsed('AWSLambda_FullAccess');
    const role = `arn:aws:iam::${A}:role/fn`;
    expect(evaluate([full], { action: 'iam:PassRole', resources: [{ arn: role }], context: new Map([['iam:PassedToService', 'lambda.amazonaws.com']]) })).toBe('allow');
    expect(evaluate([full], { action: 'iam:PassRole', resources: [{ arn: role }], context: new Map([['iam:PassedToService', 'ec2.amazonaws.com']]) })).toBe('implicit-deny');
    expect(can(full, 'lambda:DeleteFunction')).toBe('allow');
    expect(can(full, 'ec2:RunInstances')).toBe('implicit-deny');
    expect(can(parsed('AWSLambdaRole', '/service-role/'), 'lambda:InvokeFunction', `arn:aws:lambda:us-east-1:${A}:function:f`)).toBe('allow');
    expect(can(parsed('AWSLambdaBasicExecutionRole', '/service-role/'), 'logs:PutLogEvents')).toBe('allow');
  });
});
