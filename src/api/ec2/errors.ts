/** EC2's HTTP statuses, read from the domain's catalogue (src/cloud/errors/ec2.ts); a code it lacks is a client error (400). */
import { ec2Errors, specOf } from '../../cloud/errors.js';

export function statusFor(code: string): number {
  return specOf(ec2Errors, code)?.status ?? 400;
}
