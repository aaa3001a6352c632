/**
 * The model-driven validators refuse what a shape does not have (issue 15): EC2's serializer under strict shapes,
 * the XML check the API tests use, Lambda's JSON check (responses) and reader (requests), EC2's input check.
 */
import { describe, expect, it } from 'vitest';
import { successXml, ShapeMismatch } from '../../src/api/ec2/xml.js';
import { checkInput } from '../../src/api/ec2/input.js';
import { parseBody } from '../../src/api/lambda/body.js';
import { serviceModel } from '../../src/api/model/index.js';
import { inputNode, outputNode } from '../../src/api/model/compile.js';
import { bodyMembers, jsonMismatch } from '../../src/api/model/json.js';
import { CloudError } from '../../src/cloud/errors.js';
import { ec2XmlMismatch } from '../support/shape-check.js';

const ec2 = serviceModel('ec2-2016-11-15');
const lambda = serviceModel('lambda-2015-03-31');
const ec2Out = (action: string) => outputNode(ec2, ec2.operations.get(action)!);
const lambdaOut = (op: string) => outputNode(lambda, lambda.operations.get(op)!);

describe('EC2 answers under strict shapes', () => {
  const strict = (body: Record<string, unknown>) => () => successXml('DescribeVpcs', 'r', body, ec2Out('DescribeVpcs'), true);
  it('refuse a key the shape lacks, a wrong type, a list that is not a list, a structure that is not one', () => {
    expect(strict({ vpcSet: [{ vpcId: 'vpc-1', isDefault: false }] })).not.toThrow();
    expect(strict({ vpcSet: [{ vpcId: 'vpc-1', pcloudOwn: 'x' }] })).toThrow(new ShapeMismatch('DescribeVpcs.vpcSet[0].pcloudOwn', 'not a member of the output shape'));
    expect(strict({ vpcSet: [{ vpcId: 'vpc-1', isDefault: 'yes' }] })).toThrow('DescribeVpcs.vpcSet[0].isDefault: expected a boolean, got string');
    expect(strict({ vpcSet: { vpcId: 'vpc-1' } })).toThrow('DescribeVpcs.vpcSet: expected a list, got object');
    expect(strict({ vpcSet: ['vpc-1'] })).toThrow('DescribeVpcs.vpcSet[0]: expected a structure, got string');
    expect(strict({ vpcSet: [{ cidrBlockAssociationSet: [{ cidrBlockState: { state: 1 } }] }] })).toThrow('expected a string, got number');
    expect(() => successXml('DescribeVolumes', 'r', { volumeSet: [{ size: 1.5 }] }, ec2Out('DescribeVolumes'), true)).toThrow('expected an integer');
  });

  it('the independent XML check refuses an element the shape lacks, a list member not <item>, a boolean not true/false', async () => {
    const out = ec2Out('DescribeVpcs');
    const xml = (inner: string) => `<DescribeVpcsResponse><requestId>r</requestId>${inner}</DescribeVpcsResponse>`;
    expect(await ec2XmlMismatch('DescribeVpcs', out, xml('<vpcSet><item><vpcId>v</vpcId><isDefault>true</isDefault></item></vpcSet>'))).toBeUndefined();
    expect(await ec2XmlMismatch('DescribeVpcs', out, xml('<vpcSet><item><vpcID>v</vpcID></item></vpcSet>'))).toBe('DescribeVpcs.vpcSet[0].vpcID: not a member of the output shape');
    expect(await ec2XmlMismatch('DescribeVpcs', out, xml('<vpcSet><member><vpcId>v</vpcId></member></vpcSet>'))).toBe("DescribeVpcs.vpcSet.member: a list's members are <item>");
    expect(await ec2XmlMismatch('DescribeVpcs', out, xml('<vpcSet><item><isDefault>1</isDefault></item></vpcSet>'))).toBe("DescribeVpcs.vpcSet[0].isDefault: '1' is not a boolean");
    expect(await ec2XmlMismatch('DescribeVpcs', out, '<DescribeVpcsResponse><vpcSet/></DescribeVpcsResponse>')).toBe('no requestId');
  });
});

describe('Lambda JSON against the model', () => {
  const out = lambdaOut('GetFunction');
  const check = (v: unknown) => jsonMismatch(out, v, '', bodyMembers(out));
  it('answers: a key the shape lacks, a wrong type, a list that is not a list, a map value of the wrong type are each refused', () => {
    expect(check({ Configuration: { FunctionName: 'f', MemorySize: 128, Architectures: ['x86_64'] }, Tags: { a: 'b' } })).toBeUndefined();
    expect(check({ Configuration: { FunctionName: 'f', Bogus: 1 } })).toBe('Configuration.Bogus: not a member of the output shape');
    expect(check({ Configuration: { MemorySize: '128' } })).toBe('Configuration.MemorySize: expected an integer, got string');
    expect(check({ Configuration: { Architectures: 'x86_64' } })).toBe('Configuration.Architectures: expected a list, got string');
    expect(check({ Tags: { a: 1 } })).toBe('Tags.a: expected a string, got number');
    expect(check({ Configuration: ['f'] })).toBe('Configuration: expected a structure, got a list');
  });

  const body = (v: unknown) => Buffer.from(JSON.stringify(v));
  const full = { FunctionName: 'f', Role: 'arn:aws:iam::111111111111:role/r', Code: { ZipFile: 'UEsDBA==' } };
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof CloudError) return [err.code, err.message];
      throw err;
    }
    return undefined;
  };
  it('requests: typed by the input shape, maps as Maps (__proto__ only a key), wrong types and missing members refused', () => {
    const raw = JSON.stringify({ ...full, MemorySize: 256, Environment: { Variables: { B: 'y' } }, Tags: { t: 'v' }, Unknown: 1 })
      .replace('{"B"', '{"__proto__":"x","B"');
    const b = parseBody('CreateFunction', Buffer.from(raw));
    expect(b.MemorySize).toBe(256);
    expect(b.Environment?.Variables).toEqual(new Map([['__proto__', 'x'], ['B', 'y']]));
    expect(b.Tags).toEqual(new Map([['t', 'v']]));
    expect(Object.hasOwn(b, 'Unknown')).toBe(false);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(refusal(() => parseBody('CreateFunction', body({ ...full, MemorySize: '256' })))).toEqual(['InvalidRequestContentException', 'Could not parse request body into json: MemorySize must be an integer']);
    expect(refusal(() => parseBody('CreateFunction', body({ ...full, Architectures: 'x86_64' })))).toEqual(['InvalidRequestContentException', 'Could not parse request body into json: Architectures must be a list']);
    expect(refusal(() => parseBody('CreateFunction', body({ ...full, Tags: ['t'] })))).toEqual(['InvalidRequestContentException', 'Could not parse request body into json: Tags must be a map']);
    expect(refusal(() => parseBody('CreateFunction', body({ FunctionName: 'f', Code: {} })))).toEqual(['InvalidParameterValueException',
      "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"]);
    expect(refusal(() => parseBody('CreateFunction', body({ ...full, Role: null })))?.[0]).toBe('InvalidParameterValueException');
    expect(refusal(() => parseBody('CreateFunction', Buffer.from('[1]')))?.[0]).toBe('InvalidRequestContentException');
  });
});

describe('EC2 requests against the input shape', () => {
  const input = (action: string) => inputNode(ec2, ec2.operations.get(action)!);
  const refusal = (action: string, params: [string, string][]) => {
    try {
      checkInput(input(action), params);
    } catch (err) {
      if (err instanceof CloudError) return [err.code, err.message];
      throw err;
    }
    return undefined;
  };
  it('takes the model\'s query names, refuses others, missing required members and unparsable scalars', () => {
    expect(refusal('DescribeInstances', [['Action', 'DescribeInstances'], ['Version', '2016-11-15'], ['InstanceId.1', 'i-1'], ['Filter.1.Name', 'x'], ['Filter.1.Value.2', 'y'], ['MaxResults', '5']])).toBeUndefined();
    expect(refusal('RunInstances', [['ImageId', 'ami-1'], ['MinCount', '1'], ['MaxCount', '1'], ['TagSpecification.1.Tag.1.Key', 'k'], ['BlockDeviceMapping.1.Ebs.VolumeSize', '8']])).toBeUndefined();
    expect(refusal('DescribeInstances', [['InstanceIds.1', 'i-1']])).toEqual(['UnknownParameter', 'The parameter InstanceIds.1 is not recognized']);
    expect(refusal('DescribeInstances', [['Filter.1.Value', 'x']])?.[0]).toBe('UnknownParameter');
    expect(refusal('RunInstances', [['ImageId', 'ami-1'], ['MaxCount', '1']])).toEqual(['MissingParameter', 'The request must contain the parameter MinCount']);
    expect(refusal('RunInstances', [['ImageId', 'ami-1'], ['MinCount', 'one'], ['MaxCount', '1']])?.[0]).toBe('InvalidParameterValue');
    expect(refusal('RunInstances', [['ImageId', 'ami-1'], ['MinCount', '1'], ['MaxCount', '1'], ['EbsOptimized', 'yes']])).toEqual(['InvalidParameterValue', 'Value (yes) for parameter EbsOptimized is invalid. Expected a boolean.']);
  });
});
