/** Lambda's errors as JSON: codes and HTTP statuses from the domain's catalogue (src/cloud/errors/lambda.ts). */
import { ec2Errors, lambdaErrors, specOf, type ErrorCode } from '../../cloud/errors.js';

/** The domain codes Lambda names otherwise (InvalidParameterValue → InvalidParameterValueException), from the catalogue. */
export const lambdaCodes: ReadonlyMap<string, string> = new Map(Object.keys(ec2Errors).flatMap((c) => {
  const name = specOf(ec2Errors, c)?.lambda;
  return name ? [[c, name] as const] : [];
}));

/** A domain error's code in Lambda's words: its own, or the Lambda name the catalogue gives a code shared with EC2. */
export const lambdaCode = (code: ErrorCode): string => lambdaCodes.get(code) ?? code;

/** Lambda's error JSON; `extra` are the members some errors carry besides (TooManyRequestsException's Reason and Type). */
export function lambdaError(code: string, message: string, status = specOf(lambdaErrors, code)?.status ?? 400, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ ...extra, __type: code, message, Message: message }), {
    status, headers: { 'content-type': 'application/json', 'x-amzn-errortype': code },
  });
}
