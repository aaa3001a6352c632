/**
 * STS's input constraints (botocore's model: lengths, patterns, ranges), checked at the edge and refused in AWS's
 * words: `1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: …`.
 */
import { CloudError } from '../../cloud/errors.js';
import { TAG_KEY as IAM_TAG_KEY, TAG_VALUE as IAM_TAG_VALUE } from '../../cloud/iam/tags.js';

const refuse = (value: unknown, at: string, constraint: string) =>
  new CloudError('ValidationError', `1 validation error detected: Value '${String(value).slice(0, 256)}' at '${at}' failed to satisfy constraint: Member must ${constraint}`);

/** A string of `min`..`max` characters matching `pattern` (a fixed, anchored pattern: never built from input). */
export function text(value: string | undefined, at: string, c: { min: number; max: number; pattern?: RegExp; shown?: string }): void {
  if (value === undefined) return;
  if (value.length < c.min) throw refuse(value, at, `have length greater than or equal to ${c.min}`);
  if (value.length > c.max) throw refuse(value, at, `have length less than or equal to ${c.max}`);
  if (c.pattern && !c.pattern.test(value)) throw refuse(value, at, `satisfy regular expression pattern: ${c.shown ?? c.pattern.source}`);
}

/** An integer in [min, max]. */
export function range(value: number | undefined, at: string, min: number, max: number): void {
  if (value === undefined) return;
  if (value < min) throw refuse(value, at, `have value greater than or equal to ${min}`);
  if (value > max) throw refuse(value, at, `have value less than or equal to ${max}`);
}

/** A list of at most `max` members. */
export function count(list: readonly unknown[] | undefined, at: string, max: number): void {
  if (list && list.length > max) throw refuse(`[${list.length} members]`, at, `have length less than or equal to ${max}`);
}

/** Names: a role session name, a source identity (`[\w+=,.@-]*`). */
export const NAME = { min: 2, max: 64, pattern: /^[\w+=,.@-]*$/, shown: '[\\w+=,.@-]*' };
/** sts:ExternalId. */
export const EXTERNAL_ID = { min: 2, max: 1224, pattern: /^[\w+=,.@:/-]*$/, shown: '[\\w+=,.@:\\/-]*' };
/** An ARN (RoleArn, a session policy's arn): printable text of 20 to 2048 characters. */
export const ARN = { min: 20, max: 2048, pattern: /^[\t\n\r\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]+$/u, shown: '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+' };
/** A session policy document (at most 2048 characters once packed; AWS counts the plain text first). */
export const POLICY = { min: 1, max: 2048, pattern: /^[\t\n\r\x20-\xFF]+$/, shown: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+' };
/** Session tag keys and values (IAM's tag patterns). */
export const TAG_KEY = { min: 1, max: 128, pattern: IAM_TAG_KEY, shown: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+' };
export const TAG_VALUE = { min: 0, max: 256, pattern: IAM_TAG_VALUE, shown: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*' };
