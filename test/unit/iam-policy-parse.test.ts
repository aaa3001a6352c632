import { describe, expect, it } from 'vitest';
import { parsePolicy, namedPrincipals, policySize, POLICY_SIZE, knownAction, catalogueActions, type PolicyKind } from '../../src/cloud/iam/policy/index.js';
import { CloudError } from '../../src/cloud/errors.js';

const doc = (statement: unknown, extra: Record<string, unknown> = { Version: '2012-10-17' }) => JSON.stringify({ ...extra, Statement: statement });
const allow = (more: Record<string, unknown> = {}) => ({ Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*', ...more });
const trust = (more: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole', ...more });

function refusal(json: string, kind: PolicyKind = 'identity', managed = false): string {
  try {
    parsePolicy(json, kind, { managed });
  } catch (e) {
    expect(e).toBeInstanceOf(CloudError);
    expect((e as CloudError).code).toBe('MalformedPolicyDocument');
    return (e as CloudError).message;
  }
  throw new Error(`accepted: ${json}`);
}

describe('parsePolicy: what AWS refuses, in its words', () => {
  it('refuses what is not a policy document as a syntax error', () => {
    for (const bad of ['', 'null', '[]', '"x"', '{', '{"Version":"2012-10-17"}', doc([]), doc([1]), doc(allow(), { Version: '2013-01-01' }),
      doc(allow(), { Version: '2012-10-17', Extra: 1 }), doc([allow({ Bogus: 1 })]), doc([allow({ Effect: 'Maybe' })]), doc([{ Action: 'ec2:*', Resource: '*' }]),
      doc([allow({ NotAction: 'ec2:*' })]), doc([allow({ NotResource: '*' })]), doc([allow({ Action: ['ec2:*', 3] })]), doc([allow({ Resource: { a: 1 } })]),
      doc([allow({ Sid: 5 })]), doc([allow({ Condition: 'x' })]), doc([allow({ Condition: { StringEquals: 'x' } })]),
      doc([allow({ Condition: { StringEqualz: { 'aws:username': 'a' } } })]), doc([allow({ Condition: { StringEquals: { 'aws:username': { a: 1 } } } })]),
      doc([allow({ Condition: { NullIfExists: { 'aws:username': 'true' } } })]), doc([allow({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } })]),
      doc([allow({ Condition: { IpAddress: { 'aws:SourceIp': 'ten' } } })]),
      '[' .repeat(100_000)]) {
      expect(refusal(bad), bad.slice(0, 80)).toBe('Syntax errors in policy.');
    }
  });

  it('accepts a Statement object or list, Version 2008-10-17 or none, and JSON numbers and booleans as condition values', () => {
    expect(parsePolicy(doc(allow()), 'identity').statements).toHaveLength(1);
    expect(parsePolicy(doc([allow(), allow({ Effect: 'Deny' })], {}), 'identity').version).toBeUndefined();
    expect(parsePolicy(doc(allow(), { Version: '2008-10-17' }), 'identity').version).toBe('2008-10-17');
    expect(parsePolicy(doc([allow({ Condition: { Bool: { 'aws:SecureTransport': false }, NumericLessThan: { 'aws:MultiFactorAuthAge': 3600 } } })]), 'identity')
      .statements[0]!.conditions.map((c) => c.key)).toEqual(['aws:securetransport', 'aws:multifactorauthage']);
  });

  it('managed policies must be Version 2012-10-17', () => {
    expect(refusal(doc(allow(), {}), 'identity', true)).toBe('Policy document must be version 2012-10-17 or greater.');
    expect(refusal(doc(allow(), { Version: '2008-10-17' }), 'identity', true)).toBe('Policy document must be version 2012-10-17 or greater.');
    expect(parsePolicy(doc(allow()), 'identity', { managed: true }).version).toBe('2012-10-17');
  });

  it('fails legacy parsing on an Effect in the wrong case, a date that is none, a short ARN', () => {
    expect(refusal(doc([allow({ Effect: 'allow' })]))).toBe('The policy failed legacy parsing');
    expect(refusal(doc([allow({ Condition: { DateLessThan: { 'aws:CurrentTime': '2020-13-01' } } })]))).toBe('The policy failed legacy parsing');
    expect(refusal(doc([allow({ Resource: 'arn:aws:s3::bucket' })]))).toBe('The policy failed legacy parsing');
    expect(parsePolicy(doc([allow({ Condition: { DateLessThan: { 'aws:CurrentTime': ['2020-12-01T00:00:00Z', '2020-12-01', '1606780800'] } } })]), 'identity')).toBeTruthy();
  });

  it('Sids: unique, alphanumeric', () => {
    expect(refusal(doc([allow({ Sid: 'A' }), allow({ Sid: 'A' })]))).toBe('Statement IDs (SID) in a single policy must be unique.');
    expect(refusal(doc([allow({ Sid: 'a-b' })]))).toBe('Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*');
    expect(parsePolicy(doc([allow({ Sid: '' }), allow({ Sid: '' }), allow({ Sid: 'Ab1' })]), 'identity').statements.map((s) => s.sid)).toEqual(['', '', 'Ab1']);
  });

  it('actions and resources must be there (identity), resources must be ARNs or *', () => {
    expect(refusal(doc([{ Effect: 'Allow', Resource: '*' }]))).toBe('Policy statement must contain actions.');
    expect(refusal(doc([allow({ Action: [] })]))).toBe('Policy statement must contain actions.');
    expect(refusal(doc([{ Effect: 'Allow', Action: 'ec2:*' }]))).toBe('Policy statement must contain resources.');
    expect(refusal(doc([allow({ Resource: [] })]))).toBe('Policy statement must contain resources.');
    expect(refusal(doc([allow({ Resource: 'my-bucket' })]))).toBe('Resource my-bucket must be in ARN format or "*".');
    expect(refusal(doc([allow({ Resource: 'arn:azure:ec2:a:b:c' })]))).toBe('Partition "azure" is not valid for resource "arn:azure:ec2:a:b:c".');
    expect(refusal(doc([allow({ Resource: 'arn:aws:iam:us-east-1:123456789012:user/x' })]))).toBe('IAM resource arn:aws:iam:us-east-1:123456789012:user/x cannot contain region information.');
    expect(refusal(doc([allow({ Resource: 'x'.repeat(100_000) })]))).toMatch(/^Resource x{512}… must be in ARN format or "\*"\.$/);
  });

  it('actions: a vendor, one colon, a valid vendor, and a known action of the services pcloud serves', () => {
    expect(refusal(doc([allow({ Action: 'DescribeInstances' })]))).toBe('Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.');
    expect(refusal(doc([allow({ Action: 'ec2:a:b' })]))).toBe('Actions/Condition can contain only one colon.');
    expect(refusal(doc([allow({ Action: 'e c2:Describe' })]))).toBe('Vendor e c2 is not valid');
    expect(refusal(doc([allow({ Action: 'ec2:DescribeEverything' })]))).toBe('Policy has invalid action');
    expect(refusal(doc([{ Effect: 'Allow', NotAction: 'lambda:Invoke2', Resource: '*' }]))).toBe('Policy has invalid action');
    expect(refusal(doc([allow({ Condition: { StringEquals: { username: 'a' } } })]))).toBe('Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.');
    // Any case; wildcards; IAM-only actions; other services as written.
    expect(parsePolicy(doc([allow({ Action: ['EC2:describeinstances', 'ec2:Describe*', 'ec2:*Foo?', 'lambda:InvokeFunction', 'iam:PassRole', 'sts:TagSession', 's3:GetObject', 'logs:Nope', '*'] })]), 'identity')).toBeTruthy();
    expect(knownAction('sts:AssumeRole')).toBe(true);
    expect(knownAction('iam:CreateRole')).toBe(true);
    expect(knownAction('iam:CreateRoles')).toBe(false);
    expect(catalogueActions('ec2').length).toBeGreaterThan(500);
  });

  it('principals: refused in identity policies, required and valid in trust policies, no Resource there', () => {
    expect(refusal(doc([allow({ Principal: '*' })]))).toBe('Policy document should not specify a principal.');
    expect(refusal(doc([allow({ NotPrincipal: { AWS: '123456789012' } })]))).toBe('Policy document should not specify a principal.');
    expect(refusal(doc([{ Effect: 'Allow', Action: 'sts:AssumeRole' }]), 'trust')).toBe('Missing required field Principal');
    expect(refusal(doc([trust({ Resource: '*' })]), 'trust')).toBe('Has prohibited field Resource');
    expect(refusal(doc([trust({ NotResource: '*' })]), 'trust')).toBe('Has prohibited field NotResource');
    expect(refusal(doc([trust({ Action: 'ec2:RunInstances' })]), 'trust')).toBe('AssumeRole policy may only specify STS AssumeRole actions.');
    expect(refusal(doc([trust({ Principal: { AWS: 'bob' } })]), 'trust')).toBe('Invalid principal in policy: "AWS":"bob"');
    expect(refusal(doc([trust({ Principal: { AWS: 'arn:aws:iam::123456789012:role/*' } })]), 'trust')).toBe('Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"');
    expect(refusal(doc([trust({ Principal: { Service: 'lambda' } })]), 'trust')).toBe('Invalid principal in policy: "SERVICE":"lambda"');
    expect(refusal(doc([trust({ Principal: { Robot: 'x' } })]), 'trust')).toBe('Syntax errors in policy.');
    expect(refusal(doc([trust({ Principal: 'someone' })]), 'trust')).toBe('Syntax errors in policy.');
    const p = parsePolicy(doc([trust({ Principal: { AWS: ['123456789012', 'arn:aws:iam::210987654321:root', 'arn:aws:iam::123456789012:role/path/r', 'arn:aws:iam::123456789012:user/u'], Service: ['EC2.amazonaws.com'.toLowerCase()] }, Action: ['sts:AssumeRole', 'sts:TagSession'] })], { Version: '2008-10-17' }), 'trust');
    expect(p.statements[0]!.principal).toEqual({ any: false, aws: ['123456789012', '210987654321', 'arn:aws:iam::123456789012:role/path/r', 'arn:aws:iam::123456789012:user/u'], service: ['ec2.amazonaws.com'], federated: [], canonicalUser: [] });
    expect(parsePolicy(doc([trust({ Principal: { AWS: '*' } })]), 'trust').statements[0]!.principal!.any).toBe(true);
    expect(refusal(doc([trust({ Principal: { AWS: [] } })]), 'trust')).toBe('Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!');
    // The users and roles named, for the caller to check they exist (IAM refuses one that does not).
    expect(namedPrincipals(p)).toEqual(['arn:aws:iam::123456789012:role/path/r', 'arn:aws:iam::123456789012:user/u']);
  });

  it('keys named __proto__ and friends are only ever unknown fields', () => {
    expect(refusal('{"Version":"2012-10-17","__proto__":{"x":1},"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}')).toBe('Syntax errors in policy.');
    expect(refusal(doc([{ ...allow(), constructor: 'x' }]))).toBe('Syntax errors in policy.');
    const p = parsePolicy(doc([allow({ Condition: { StringEquals: { 'aws:__proto__': 'x' } } })]), 'identity');
    expect(p.statements[0]!.conditions[0]!.key).toBe('aws:__proto__');
  });
});

describe('policy sizes', () => {
  it('counts characters other than whitespace, as AWS does, against the exported quotas', () => {
    expect(policySize('{ "a" :\n\t"b c" }\r')).toBe(10);
    expect(POLICY_SIZE).toEqual({ managed: 6144, roleInline: 10240, userInline: 2048, trust: 2048 });
  });
});

describe('hostile documents', () => {
  it('reads NUL, newlines, braces, dollars, percents and quotes as text; a 100 KB document parses or is refused, never crashes', () => {
    const weird = 'a\u0000b\n;{}$%"\'`';
    const p = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${weird}`, Condition: { StringEquals: { [`aws:PrincipalTag/${weird}`]: weird } } } }), 'identity');
    expect(p.statements[0]!.conditions[0]!.key).toBe(`aws:principaltag/${weird}`.toLowerCase());
    const big = JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'x'.repeat(100_000)}` } });
    expect(parsePolicy(big, 'identity').statements).toHaveLength(1);
    const many = JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: 2000 }, () => ({ Effect: 'Allow', Action: '*', Resource: '*' })) });
    expect(parsePolicy(many, 'identity').statements).toHaveLength(2000);
    const deep = '{"Version":"2012-10-17","Statement":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}';
    expect(refusal(deep)).toBe('Syntax errors in policy.');
    expect(refusal(doc([allow({ Resource: '${' + '{'.repeat(1000) })]))).toBe('Resource ${' + '{'.repeat(510) + '… must be in ARN format or "*".');
  });

  it('cachedPolicy gives the same parsed policy for the same text and kind, and keeps no failure', async () => {
    const { cachedPolicy } = await import('../../src/cloud/iam/policy/index.js');
    const text = doc(allow());
    expect(cachedPolicy(text, 'identity')).toBe(cachedPolicy(text, 'identity'));
    expect(cachedPolicy(text, 'identity')).not.toBe(cachedPolicy(text, 'identity', { managed: true }));
    expect(() => cachedPolicy('{', 'identity')).toThrow(CloudError);
  });

  it('actionFor names Lambda operations by their IAM actions', async () => {
    const { actionFor } = await import('../../src/cloud/iam/policy/index.js');
    expect(actionFor('lambda', 'Invoke')).toBe('lambda:InvokeFunction');
    expect(actionFor('lambda', 'InvokeWithResponseStream')).toBe('lambda:InvokeFunction');
    expect(actionFor('lambda', 'CreateFunction')).toBe('lambda:CreateFunction');
    expect(actionFor('ec2', 'RunInstances')).toBe('ec2:RunInstances');
    expect(knownAction(actionFor('lambda', 'Invoke'))).toBe(true);
  });
});
