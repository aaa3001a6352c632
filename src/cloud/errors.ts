/**
 * Domain errors carry the AWS error code the client expects; the wire layer maps each code to its HTTP status
 * and serializes it in the protocol's own format (src/api/ec2/errors.ts).
 */
export class CloudError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export const notFound = (code: string, id: string, what: string) =>
  new CloudError(code, `The ${what} '${id}' does not exist`);
export const malformed = (code: string, id: string, what: string) =>
  new CloudError(code, `Invalid id: "${id}" (expecting "${what}")`);
export const invalidParam = (message: string) => new CloudError('InvalidParameterValue', message);
export const missingParam = (name: string) =>
  new CloudError('MissingParameter', `The request must contain the parameter ${name}`);

/** DryRun's answer: the request was valid and would have been carried out. The one place it is built. */
export const dryRunOperation = () => new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');

/** Stop here when DryRun is set: called after validating, before changing anything. */
export function passDryRun(dryRun: boolean | undefined): void {
  if (dryRun) throw dryRunOperation();
}
