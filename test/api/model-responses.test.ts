/**
 * Real answers of the in-process API validated against the models' output shapes (issue 15), independently of the
 * serializer: EC2's XML parsed back and walked along the operation's output shape (test/support/shape-check.ts), and
 * Lambda's JSON checked member by member (src/api/model/json.ts), for a few representative operations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startApi, type TestApi } from '../support/api.js';
import { ec2XmlMismatch } from '../support/shape-check.js';
import { serviceModel } from '../../src/api/model/index.js';
import { outputNode } from '../../src/api/model/compile.js';
import { bodyMembers, jsonMismatch } from '../../src/api/model/json.js';
import { strictShapes } from '../../src/api/model/strict.js';
import { lambdaRole } from '../support/roles.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

const V = 'Version=2016-11-15';
/** A zip of index.py (the fake host does not unzip it). */
const ZIP = 'UEsDBBQAAAAAAFqGgV2XmWIwIAAAACAAAAAIAAAAaW5kZXgucHlkZWYgaGFuZGxlcihlLCBjKToKICAgIHJldHVybiBlClBLAQIUAxQAAAAAAFqGgV2XmWIwIAAAACAAAAAIAAAAAAAAAAAAAACAAQAAAABpbmRleC5weVBLBQYAAAAAAQABADYAAABGAAAAAAA=';
const ec2 = serviceModel('ec2-2016-11-15');
const lambda = serviceModel('lambda-2015-03-31');

describe('EC2 answers fit their output shapes', () => {
  it('runs under strict shapes (the vitest setup), so a member the model lacks would have failed the request', () => {
    expect(strictShapes()).toBe(true);
  });

  it('instances, volumes, VPCs, subnets, groups, images, key pairs, types, zones and the unoffered answers', async () => {
    const run = await api.ec2.send(new RunInstancesCommand({
      ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'shape' }] }],
    }));
    const id = run.Instances![0]!.InstanceId!;
    const requests: [string, string][] = [
      ['CreateKeyPair', 'KeyName=shape'], ['CreateVolume', 'AvailabilityZone=us-east-1a&Size=1'], ['DescribeInstances', `InstanceId.1=${id}`],
      ['DescribeInstanceStatus', 'IncludeAllInstances=true'], ['DescribeInstanceAttribute', `InstanceId=${id}&Attribute=instanceType`],
      ['DescribeVolumes', ''], ['DescribeVpcs', ''], ['DescribeSubnets', ''], ['DescribeSecurityGroups', ''], ['DescribeSecurityGroupRules', ''],
      ['DescribeImages', `ImageId.1=${api.imageId}`], ['DescribeKeyPairs', ''], ['DescribeInstanceTypes', 'InstanceType.1=t3.micro'],
      ['DescribeAvailabilityZones', ''], ['DescribeRegions', ''], ['DescribeAccountAttributes', ''], ['DescribeNetworkInterfaces', ''],
      ['DescribeRouteTables', ''], ['DescribeNetworkAcls', ''], ['DescribeInternetGateways', ''], ['DescribeTags', ''],
      ['DescribeVpcClassicLink', ''], ['DescribeVpcClassicLinkDnsSupport', ''], ['DescribeVpcEndpoints', ''], ['TerminateInstances', `InstanceId.1=${id}`],
    ];
    for (const [action, params] of requests) {
      const res = await api.post(`Action=${action}&${V}${params ? `&${params}` : ''}`);
      expect(res.status, `${action}: ${res.text.slice(0, 300)}`).toBe(200);
      expect(await ec2XmlMismatch(action, outputNode(ec2, ec2.operations.get(action)!), res.text), action).toBeUndefined();
    }
  });
});

describe('Lambda answers fit their output shapes', () => {
  it('CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, PublishVersion, function URLs, tags, account settings', async () => {
    const send = async (method: string, path: string, body?: unknown) => {
      const res = await api.send({ method, path, service: 'lambda', body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: res.status, json: res.text ? JSON.parse(res.text) as unknown : undefined };
    };
    const calls: [string, string, string, unknown?][] = [
      ['CreateFunction', 'POST', '/2015-03-31/functions', {
        FunctionName: 'shaped', Runtime: 'python3.11', Handler: 'index.handler', Role: await lambdaRole(api.endpoint, api.key), Code: { ZipFile: ZIP },
        Environment: { Variables: { GREETING: 'hi' } }, Tags: { team: 'x' },
      }],
      ['GetFunction', 'GET', '/2015-03-31/functions/shaped'],
      ['GetFunctionConfiguration', 'GET', '/2015-03-31/functions/shaped/configuration'],
      ['ListFunctions', 'GET', '/2015-03-31/functions'],
      ['PublishVersion', 'POST', '/2015-03-31/functions/shaped/versions', {}],
      ['ListVersionsByFunction', 'GET', '/2015-03-31/functions/shaped/versions'],
      ['CreateFunctionUrlConfig', 'POST', '/2021-10-31/functions/shaped/url', { AuthType: 'NONE' }],
      ['GetFunctionUrlConfig', 'GET', '/2021-10-31/functions/shaped/url'],
      ['GetAccountSettings', 'GET', '/2016-08-19/account-settings'],
    ];
    for (const [op, method, path, body] of calls) {
      const res = await send(method, path, body);
      expect(res.status, `${op}: ${JSON.stringify(res.json)}`).toBeLessThan(300);
      const output = outputNode(lambda, lambda.operations.get(op)!);
      expect(jsonMismatch(output, res.json, '', bodyMembers(output)), op).toBeUndefined();
    }
  });
});
