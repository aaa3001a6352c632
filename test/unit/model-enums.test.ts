/**
 * Request members with an enum (generated from botocore's models into src/api/model/enums.json) are checked at the
 * edge: EC2 answers InvalidParameterValue, Lambda ValidationException with the value set; a valid value passes on
 * to the domain (which may still refuse what this cloud does not run). The generated file is what the generator
 * makes now.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkInput } from '../../src/api/ec2/input.js';
import { parseBody } from '../../src/api/lambda/body.js';
import { inputNode } from '../../src/api/model/compile.js';
import { locatedEnumError } from '../../src/api/model/json.js';
import { botocoreData, enumsPath, renderEnums } from '../../src/api/model/enums-files.js';
import { generateEnums } from '../../src/api/model/enums-gen.js';
import { serviceModel } from '../../src/api/model/index.js';
import { CloudError } from '../../src/cloud/errors.js';

const ec2 = serviceModel('ec2-2016-11-15');
const refusal = (f: () => unknown): { code: string; message: string } | 'ok' => {
  try {
    f();
    return 'ok';
  } catch (err) {
    if (err instanceof CloudError) return { code: err.code, message: err.message };
    throw err;
  }
};
const query = (op: string, params: [string, string][]) => refusal(() => checkInput(inputNode(ec2, ec2.operations.get(op)!), params));
const lambda = (op: string, body: unknown) => refusal(() => parseBody(op, Buffer.from(JSON.stringify(body))));
const HOSTILE = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(100_000), 'instance\n', "t2.micro'; --", ''];

const data = botocoreData();

describe('the generated enum file', () => {
  it.skipIf(!data)('is what `npm run enums` makes from botocore now (skipped: python3 with botocore is not on this machine)', () => {
    expect(renderEnums(data!)).toBe(readFileSync(enumsPath(), 'utf8'));
  });

  it('walks a renamed, inlined min model beside botocore\'s by member name (lists, named shapes, conflicts left unchecked)', () => {
    const min = {
      operations: {
        Op: { input: { type: 'structure', members: { Kind: {}, Tags: { shape: 'S1' }, Other: { shape: 'S2' } } } },
        Op2: { input: { type: 'structure', members: { One: { shape: 'S3' }, Two: { shape: 'S3' } } } },
      },
      shapes: {
        S1: { type: 'list', member: { shape: 'S2' } }, S2: { type: 'structure', members: { Type: {} } },
        S3: { type: 'structure', members: { Type: {}, Size: { type: 'integer' } } },
      },
    };
    const boto = {
      operations: { Op: { input: { shape: 'OpRequest' } }, Op2: { input: { shape: 'Op2Request' } } },
      shapes: {
        Op2Request: { type: 'structure', members: { One: { shape: 'WithEnum' }, Two: { shape: 'WithString' } } },
        WithEnum: { type: 'structure', members: { Type: { shape: 'Kind' }, Size: { shape: 'Integer' } } },
        WithString: { type: 'structure', members: { Type: { shape: 'String' }, Size: { shape: 'Integer' } } },
        String: { type: 'string' },
        Integer: { type: 'integer' },
        OpRequest: { type: 'structure', members: { Kind: { shape: 'Kind' }, Tags: { shape: 'TagList' }, Other: { shape: 'Other' } } },
        Kind: { type: 'string', enum: ['a', 'b', 'a'] },
        TagList: { type: 'list', member: { shape: 'Tag' } },
        Tag: { type: 'structure', members: { Type: { shape: 'Kind' } } },
        Other: { type: 'structure', members: { Type: { shape: 'OtherKind' } } },
        OtherKind: { type: 'string', enum: ['z'] },
      },
    };
    // S2.Type stands for two different enums, S3.Type for an enum and a plain string (the min model merged two
    // shapes each time): left unchecked, never wrongly refused.
    expect(generateEnums(min, boto)).toEqual({ values: { Kind: ['a', 'b'] }, at: { '@Op.Kind': 'Kind' } });
  });
});

describe('EC2 enums', () => {
  const base: [string, string][] = [['ImageId', 'ami-1'], ['MinCount', '1'], ['MaxCount', '1']];

  it('take AWS\'s values (including ones this cloud does not run: those are the domain\'s to refuse)', () => {
    expect(query('RunInstances', [...base, ['InstanceType', 't2.micro']])).toBe('ok');
    expect(query('RunInstances', [...base, ['InstanceType', 'p5.48xlarge']])).toBe('ok');
    expect(query('RunInstances', [...base, ['TagSpecification.1.ResourceType', 'instance'], ['TagSpecification.1.Tag.1.Key', 'k']])).toBe('ok');
    expect(query('RunInstances', [...base, ['MetadataOptions.HttpTokens', 'required']])).toBe('ok');
    expect(query('AllocateAddress', [['Domain', 'vpc']])).toBe('ok');
    expect(query('CreateNatGateway', [['SubnetId', 'subnet-1'], ['ConnectivityType', 'private']])).toBe('ok');
    expect(query('CreateVpc', [['CidrBlock', '10.0.0.0/16'], ['TagSpecification.1.ResourceType', 'vpc']])).toBe('ok');
  });

  it('refuse anything else with InvalidParameterValue in AWS\'s words, the value cut short', () => {
    expect(query('RunInstances', [...base, ['InstanceType', 'x9.huge']])).toEqual({ code: 'InvalidParameterValue', message: "Invalid value 'x9.huge' for InstanceType." });
    expect(query('RunInstances', [...base, ['TagSpecification.1.ResourceType', 'bogus']])).toEqual({
      code: 'InvalidParameterValue', message: "Invalid value 'bogus' for TagSpecification.1.ResourceType.",
    });
    for (const v of HOSTILE.filter((x) => x !== '')) {
      for (const [op, params] of [
        ['RunInstances', [...base, ['InstanceType', v]]], ['RunInstances', [...base, ['MetadataOptions.HttpTokens', v]]],
        ['AllocateAddress', [['Domain', v]]], ['CreateNatGateway', [['SubnetId', 'subnet-1'], ['ConnectivityType', v]]],
      ] as const) {
        const r = query(op, params as unknown as [string, string][]);
        expect(r, `${op} ${v.slice(0, 20)}`).not.toBe('ok');
        if (r !== 'ok') {
          expect(r.code).toBe('InvalidParameterValue');
          expect(r.message.length).toBeLessThan(300);
        }
      }
    }
  });

  it('read an empty value as an absent one, as every other Query member', () => {
    expect(query('RunInstances', [...base, ['InstanceType', '']])).toBe('ok');
  });
});

describe('Lambda enums', () => {
  const fn = { FunctionName: 'f', Role: 'arn:aws:iam::123456789012:role/r', Code: { ZipFile: 'UEs=' } };

  it('take AWS\'s values (a runtime this cloud lacks passes to the domain)', () => {
    expect(lambda('CreateFunction', { ...fn, Runtime: 'python3.12', PackageType: 'Zip', Architectures: ['x86_64'] })).toBe('ok');
    expect(lambda('CreateFunction', { ...fn, Runtime: 'java21', Architectures: ['arm64'] })).toBe('ok');
    expect(lambda('CreateFunctionUrlConfig', { AuthType: 'NONE' })).toBe('ok');
    expect(lambda('UpdateFunctionConfiguration', { Runtime: 'nodejs20.x' })).toBe('ok');
  });

  it('refuse anything else with ValidationException naming the camelCase member and the value set', () => {
    const r = lambda('CreateFunction', { ...fn, Runtime: 'cobol' });
    expect(r).not.toBe('ok');
    if (r !== 'ok') {
      expect(r.code).toBe('ValidationException');
      expect(r.message).toMatch(/^1 validation error detected: Value 'cobol' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: \[.*python3\.12.*\]$/);
    }
    expect(lambda('CreateFunction', { ...fn, Architectures: ['x86'] })).toEqual({
      code: 'ValidationException',
      message: "1 validation error detected: Value '[x86]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
    });
    expect(lambda('CreateFunctionUrlConfig', { AuthType: 'none' })).toMatchObject({ code: 'ValidationException' });
    const tracing = lambda('CreateFunction', { ...fn, TracingConfig: { Mode: 'Loud' } });
    expect(tracing !== 'ok' && tracing.code).toBe('ValidationException');
    expect(tracing !== 'ok' && tracing.message).toContain("Value 'Loud' at 'tracingConfig.mode'");
  });

  it('refuse hostile values (never looked up on a plain object), the value cut short', () => {
    for (const v of HOSTILE) {
      for (const body of [{ ...fn, Runtime: v }, { ...fn, PackageType: v }, { ...fn, Architectures: [v] }]) {
        const r = lambda('CreateFunction', body);
        expect(r, v.slice(0, 20)).not.toBe('ok');
        if (r !== 'ok') {
          expect(r.code).toBe('ValidationException');
          expect(r.message.length).toBeLessThan(2000);
        }
      }
    }
  });
});

describe('Lambda query-string and header enums', () => {
  const lambdaModel = serviceModel('lambda-2015-03-31');
  const check = (op: string, query: string, headers: Record<string, string> = {}) =>
    locatedEnumError(inputNode(lambdaModel, lambdaModel.operations.get(op)!), new URLSearchParams(query), new Headers(headers));

  it('take AWS\'s values and absent members', () => {
    expect(check('ListFunctions', 'FunctionVersion=ALL')).toBeUndefined();
    expect(check('ListFunctions', '')).toBeUndefined();
    expect(check('Invoke', '', { 'X-Amz-Invocation-Type': 'Event', 'X-Amz-Log-Type': 'Tail' })).toBeUndefined();
  });

  it('refuse anything else with ValidationException at the camelCase member', () => {
    const e = check('ListFunctions', 'FunctionVersion=__proto__');
    expect(e?.code).toBe('ValidationException');
    expect(e?.message).toBe("1 validation error detected: Value '__proto__' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]");
    expect(check('Invoke', '', { 'X-Amz-Invocation-Type': 'constructor' })?.message).toContain("at 'invocationType'");
    expect(check('ListLayers', `CompatibleRuntime=${'x'.repeat(100_000)}`)?.message.length).toBeLessThan(2000);
  });
});
