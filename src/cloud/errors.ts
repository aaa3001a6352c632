/**
 * Domain errors carry an AWS error code from one of the catalogues (src/cloud/errors/: EC2, Lambda, STS, IAM), so a code
 * outside them does not type-check; the wire layer reads each code's HTTP status from the catalogue and serializes it
 * in the protocol's own format (src/api/ec2/errors.ts, src/api/lambda/errors.ts, src/api/sts).
 */
import { ec2Errors, type Ec2Code } from './errors/ec2.js';
import { lambdaErrors, type LambdaCode } from './errors/lambda.js';
import { stsErrors, type StsCode } from './errors/sts.js';
import { iamErrors, type IamCode } from './errors/iam.js';
import type { ErrorSpec } from './errors/spec.js';

export { ec2Errors, lambdaErrors, stsErrors, iamErrors, type Ec2Code, type LambdaCode, type StsCode, type IamCode, type ErrorSpec };

/** Every code a domain error may carry. */
export type ErrorCode = Ec2Code | LambdaCode | StsCode | IamCode;

export class CloudError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** The EC2 codes AWS words the same way each time (a resource that does not exist, an id of the wrong form). */
type WordedCode = { [K in Ec2Code]: (typeof ec2Errors)[K] extends { message: (id: string) => string } ? K : never }[Ec2Code];

/** The error for a resource that does not exist, in AWS's words (e.g. `notFound('InvalidVpcID.NotFound', id)`). */
export const notFound = (code: WordedCode & `${string}.NotFound`, id: string) => new CloudError(code, ec2Errors[code].message(id));
/** The error for an id of the wrong form, in AWS's words (e.g. `malformed('InvalidVolumeID.Malformed', id)`). */
export const malformed = (code: WordedCode & `${string}.Malformed`, id: string) => new CloudError(code, ec2Errors[code].message(id));
export const invalidParam = (message: string) => new CloudError('InvalidParameterValue', message);
export const missingParam = (name: string) =>
  new CloudError('MissingParameter', `The request must contain the parameter ${name}`);

/** DryRun's answer: the request was valid and would have been carried out. The one place it is built. */
export const dryRunOperation = () => new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');

/** Stop here when DryRun is set: called after validating, before changing anything. */
export function passDryRun(dryRun: boolean | undefined): void {
  if (dryRun) throw dryRunOperation();
}

/** A catalogue's entry for `code`, if it has one of its own (never an Object.prototype member). */
export function specOf(catalogue: Readonly<Record<string, ErrorSpec>>, code: string): ErrorSpec | undefined {
  return Object.hasOwn(catalogue, code) ? catalogue[code] : undefined;
}
