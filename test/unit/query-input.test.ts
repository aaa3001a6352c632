/** The Query protocol's input (IAM, STS) read along the model's input shapes: typed, nested, hostile names inert. */
import { describe, expect, it } from 'vitest';
import { formParams, readInput } from '../../src/api/query/input.js';
import { inputNode } from '../../src/api/model/compile.js';
import { serviceModel } from '../../src/api/model/index.js';
import { CloudError } from '../../src/cloud/errors.js';

const iam = serviceModel('iam-2010-05-08');
const sts = serviceModel('sts-2011-06-15');
const shape = (model: typeof iam, op: string) => inputNode(model, model.operations.get(op)!);
const read = (model: typeof iam, op: string, body: string) => readInput(shape(model, op), formParams(body));

function refusal(fn: () => unknown): string {
  try { fn(); } catch (e) { if (e instanceof CloudError) return `${e.code}: ${e.message}`; throw e; }
  return 'accepted';
}

describe('Query protocol input', () => {
  it('reads scalars, lists of structures and integers by the model\'s member names', () => {
    const input = read(iam, 'CreateUser', 'Action=CreateUser&UserName=alice&Path=%2Fteam%2F&Tags.member.1.Key=env&Tags.member.1.Value=prod&Tags.member.2.Key=k&Tags.member.2.Value=');
    expect(input).toEqual({ UserName: 'alice', Path: '/team/', Tags: [{ Key: 'env', Value: 'prod' }, { Key: 'k', Value: '' }] });
    expect(read(iam, 'ListUsers', 'MaxItems=5')).toEqual({ MaxItems: 5 });
    const assume = read(sts, 'AssumeRole', 'RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=s&DurationSeconds=900&PolicyArns.member.1.arn=arn%3Ax');
    expect(assume).toEqual({ RoleArn: 'arn:aws:iam::1:role/r', RoleSessionName: 's', DurationSeconds: 900, PolicyArns: [{ arn: 'arn:x' }] });
  });

  it('takes `Name=` as the empty list', () => {
    expect(read(iam, 'CreateUser', 'UserName=a&Tags=')).toEqual({ UserName: 'a', Tags: [] });
  });

  it('refuses a missing required member, a value of the wrong type and a list with a gap, in AWS\'s words', () => {
    expect(refusal(() => read(iam, 'CreateUser', 'Path=/'))).toBe("ValidationError: 1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null");
    expect(refusal(() => read(iam, 'ListUsers', 'MaxItems=many'))).toMatch(/^ValidationError: .*'maxItems'.*integer/);
    expect(refusal(() => read(iam, 'CreateUser', 'UserName=a&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.3.Key=k'))).toMatch(/^ValidationError: .*tags/);
    expect(refusal(() => read(iam, 'CreateUser', 'UserName=a&Tags.member.1.Value=v'))).toMatch(/^ValidationError: .*'tags\.1\.member\.key'.*null/);
  });

  it('reads nothing the shape does not have: prototype names and unknown parameters are inert', () => {
    const input = read(iam, 'CreateUser', 'UserName=a&__proto__.polluted=1&constructor=x&Unknown.member.1=z');
    expect(input).toEqual({ UserName: 'a' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(input)).toEqual(['UserName']);
    // A list member not numbered from 1 is no list.
    expect(refusal(() => read(iam, 'CreateUser', 'UserName=a&Tags.member.__proto__=y'))).toMatch(/^ValidationError: .*'tags'/);
  });

  it('refuses characters XML cannot carry, in a name or a value', () => {
    expect(refusal(() => formParams('UserName=a%00b'))).toMatch(/^ValidationError/);
    expect(refusal(() => formParams('User%01Name=a'))).toMatch(/^ValidationError/);
  });
});
