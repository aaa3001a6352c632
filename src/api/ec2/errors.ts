/** The one table from error codes to HTTP statuses for EC2; anything not listed is a client error (400). */
export const ec2Status: Record<string, number> = {
  AuthFailure: 401,
  UnauthorizedOperation: 403,
  DryRunOperation: 412,
  InternalError: 500,
  RequestEntityTooLarge: 413,
  ServiceUnavailable: 503,
  RequestLimitExceeded: 503,
};

export function statusFor(code: string): number {
  return Object.hasOwn(ec2Status, code) ? ec2Status[code]! : 400;
}
