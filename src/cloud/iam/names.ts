/**
 * What IAM accepts as names, paths, descriptions and tags, checked at the edge in AWS's words (ValidationError with
 * the member's name, as the Query services write it), and the ids and ARNs of IAM's entities.
 */
import { randomBytes } from 'node:crypto';
import { CloudError } from '../errors.js';

/** How much of a refused value an error message repeats. */
const ECHO = 64;

const echo = (v: string) => (v.length > ECHO ? `${v.slice(0, ECHO)}…` : v);

export const invalid = (member: string, value: string, constraint: string) =>
  new CloudError('ValidationError', `1 validation error detected: Value '${echo(value)}' at '${member}' failed to satisfy constraint: ${constraint}`);

function length(member: string, v: string, min: number, max: number): void {
  if (v.length < min) throw invalid(member, v, `Member must have length greater than or equal to ${min}`);
  if (v.length > max) throw invalid(member, v, `Member must have length less than or equal to ${max}`);
}

const NAME = /^[\w+=,.@-]+$/;

/** Whether `v` could be an IAM name (`[\w+=,.@-]+`, 1..max characters): for reading a name without refusing it. */
export const isIamName = (v: string, max = 128) => v.length >= 1 && v.length <= max && NAME.test(v);

/** A user, role, instance profile or policy name: `[\w+=,.@-]+`, 1..max characters. */
export function checkName(member: string, v: string, max: number): string {
  length(member, v, 1, max);
  if (!NAME.test(v)) throw invalid(member, v, 'Member must satisfy regular expression pattern: [\\w+=,.@-]+');
  return v;
}

/** A path: `/` or `/a/b/` of printable ASCII, up to 512 characters. */
export function checkPath(member: string, v: string | undefined): string {
  if (v === undefined) return '/';
  length(member, v, 1, 512);
  if (!/^\/(?:[\x21-\x7e]*\/)?$/.test(v)) throw invalid(member, v, 'Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)');
  return v;
}

/** A PathPrefix of a List call: `/` then printable ASCII. */
export function checkPathPrefix(v: string | undefined): string {
  if (v === undefined) return '/';
  length('pathPrefix', v, 1, 512);
  if (!/^\/[\x21-\x7f]*$/.test(v)) throw invalid('pathPrefix', v, 'Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*');
  return v;
}

/** A role's description: up to 1000 characters, Latin-1 printable (and tab, newlines). */
export function checkDescription(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  length('description', v, 0, 1000);
  if (!/^[\t\n\r\x20-\x7e\xa1-\xff]*$/.test(v)) {
    throw invalid('description', v, 'Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*');
  }
  return v;
}

/** A policy document's text (trust or permissions): what the model allows before the policy language looks at it. */
export function checkDocumentText(member: string, v: string): string {
  length(member, v, 1, 131072);
  if (!/^[\t\n\r\x20-\xff]+$/.test(v)) throw invalid(member, v, 'Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+');
  return v;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An IAM unique id or access key id: the prefix (AIDA, AROA, AIPA, ANPA, AKIA, ASIA) and 16 of [A-Z2-7]. */
export function iamId(prefix: string): string {
  return prefix + Array.from(randomBytes(16), (b) => ID_ALPHABET[b % 32]).join('');
}

/** `arn:aws:iam::ACCOUNT:KIND/PATH/NAME` (kind: user, role, instance-profile, policy). */
export const iamArn = (accountId: string, kind: string, path: string, name: string) => `arn:aws:iam::${accountId}:${kind}${path}${name}`;

/**
 * The name an ARN of this account and kind names (`arn:aws:iam::ACCOUNT:instance-profile/PATH/NAME`), or undefined if
 * it is no such ARN (another account's, another kind's).
 */
export function nameInArn(arn: string, accountId: string, kind: string): string | undefined {
  const head = `arn:aws:iam::${accountId}:${kind}/`;
  if (!arn.startsWith(head)) return undefined;
  const name = arn.slice(arn.lastIndexOf('/') + 1);
  return NAME.test(name) ? name : undefined;
}
