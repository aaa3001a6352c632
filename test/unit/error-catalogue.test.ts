/**
 * The error catalogues (src/cloud/errors/): each code's HTTP status is what the wire answers it with, a domain error
 * shared with Lambda is named in Lambda's words, AWS's fixed wordings are built from the catalogue, entries stay sorted
 * (one line each, so helpers adding codes in parallel do not collide), and a code outside them does not type-check.
 */
import { describe, expect, it } from 'vitest';
import { CloudError, ec2Errors, iamErrors, lambdaErrors, malformed, notFound, stsErrors, type ErrorSpec } from '../../src/cloud/errors.js';
import { ec2Error } from '../../src/api/ec2/index.js';
import { lambdaCode, lambdaCodes, lambdaError } from '../../src/api/lambda/errors.js';
import { lambdaError as lambdaErrorFromShapes } from '../../src/api/lambda/shapes.js';
import { sts } from '../../src/api/sts/index.js';
import { iam } from '../../src/api/iam/index.js';
import { queryError } from '../../src/api/query/endpoint.js';
import { byIds } from '../../src/cloud/filters.js';

const entries = (c: Record<string, ErrorSpec>) => Object.entries(c);

describe('error catalogues', () => {
  it('every EC2 code answers with its catalogue status, in EC2 XML', async () => {
    for (const [code, spec] of entries(ec2Errors)) {
      const res = ec2Error(code, 'm');
      expect([code, res.status]).toEqual([code, spec.status]);
      expect(await res.text()).toContain(`<Code>${code}</Code>`);
    }
    // A few that AWS answers other than 400, by name: a typo in the catalogue cannot pass.
    expect([ec2Error('DryRunOperation', '').status, ec2Error('AuthFailure', '').status, ec2Error('UnauthorizedOperation', '').status]).toEqual([412, 401, 403]);
    expect([ec2Error('InternalError', '').status, ec2Error('RequestLimitExceeded', '').status, ec2Error('InvalidVpcID.NotFound', '').status]).toEqual([500, 503, 400]);
    expect(ec2Error('constructor', '').status).toBe(400);
  });

  it('every Lambda code answers with its catalogue status, in Lambda JSON', async () => {
    for (const [code, spec] of entries(lambdaErrors)) {
      const res = lambdaError(code, 'm');
      expect([code, res.status, res.headers.get('x-amzn-errortype')]).toEqual([code, spec.status, code]);
      expect(await res.json()).toEqual({ __type: code, message: 'm', Message: 'm' });
    }
    expect(lambdaErrorFromShapes).toBe(lambdaError);
    expect([lambdaError('ResourceNotFoundException', '').status, lambdaError('ResourceConflictException', '').status, lambdaError('ServiceException', '').status,
      lambdaError('TooManyRequestsException', '').status, lambdaError('RequestTooLargeException', '').status]).toEqual([404, 409, 500, 429, 413]);
    expect(lambdaError('__proto__', '').status).toBe(400);
  });

  it('every STS and IAM code answers with its catalogue status, a server error as the Receiver', async () => {
    for (const [svc, catalogue] of [[sts, stsErrors], [iam, iamErrors]] as const) {
      for (const [code, spec] of entries(catalogue)) {
        const res = queryError(svc, code, 'm');
        expect([code, res.status]).toEqual([code, spec.status]);
        expect(await res.text()).toContain(`<Type>${spec.status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code>`);
      }
    }
    expect([queryError(iam, 'NoSuchEntity', '').status, queryError(iam, 'EntityAlreadyExists', '').status, queryError(iam, 'toString', '').status]).toEqual([404, 409, 400]);
  });

  it('names a domain error shared with EC2 in Lambda\'s words, from the catalogue', () => {
    expect(lambdaCode('InvalidParameterValue')).toBe('InvalidParameterValueException');
    expect(lambdaCode('TagLimitExceeded')).toBe('InvalidParameterValueException');
    expect(lambdaCode('ResourceNotFoundException')).toBe('ResourceNotFoundException');
    expect([...lambdaCodes]).toEqual([['InvalidParameterValue', 'InvalidParameterValueException'], ['TagLimitExceeded', 'InvalidParameterValueException']]);
    for (const [, name] of lambdaCodes) expect(Object.hasOwn(lambdaErrors, name)).toBe(true);
  });

  it('builds AWS\'s fixed wordings', () => {
    const e = notFound('InvalidVpcID.NotFound', 'vpc-0123');
    expect([e.code, e.message]).toEqual(['InvalidVpcID.NotFound', "The vpc ID 'vpc-0123' does not exist"]);
    expect(notFound('InvalidAMIID.NotFound', 'ami-1').message).toBe("The image id '[ami-1]' does not exist");
    expect(notFound('InvalidVolume.NotFound', 'vol-1').message).toBe("The volume 'vol-1' does not exist.");
    expect(malformed('InvalidVolumeID.Malformed', 'x').message).toBe('Invalid id: "x" (expecting "vol-...")');
    expect(malformed('InvalidInstanceID.Malformed', 'x').message).toBe('Invalid id: "x"');
    // A Describe naming ids that do not exist says so in AWS's words, whatever its caller calls the resource.
    const missing = (code: 'InvalidNetworkInterfaceID.NotFound' | 'InvalidNetworkAclID.NotFound' | 'InvalidSnapshot.NotFound') => {
      try { byIds([{ id: 'a' }], ['a', 'x-1'], code, 'thing'); } catch (err) { return (err as Error).message; }
      return 'found';
    };
    expect(missing('InvalidNetworkInterfaceID.NotFound')).toBe("The networkInterface ID 'x-1' does not exist");
    expect(missing('InvalidNetworkAclID.NotFound')).toBe("The networkAcl ID 'x-1' does not exist");
    expect(missing('InvalidSnapshot.NotFound')).toBe("The snapshot 'x-1' does not exist.");
  });

  it('keeps each catalogue sorted, one entry per code', () => {
    for (const c of [ec2Errors, lambdaErrors, stsErrors]) {
      const codes = Object.keys(c);
      expect(codes).toEqual([...codes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
  });

  it('takes only catalogued codes (a type error otherwise)', () => {
    // @ts-expect-error a code outside every catalogue does not compile
    expect(new CloudError('InvalidVpcId.NotFound', 'm').code).toBe('InvalidVpcId.NotFound');
    // @ts-expect-error notFound() takes only codes AWS words as not found
    expect(() => notFound('IncorrectState', 'x')).toThrow();
    expect(new CloudError('IncorrectState', 'm')).toBeInstanceOf(Error);
  });
});
