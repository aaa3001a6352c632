/**
 * Members of the bodies of aliases', policies' and concurrency's operations, typed at the edge as body.ts types the
 * function operations' (a wrong type is InvalidRequestContentException; `null` is an absent member). Only own
 * properties of the parsed object are read: no member comes from a prototype.
 */
import { CloudError } from '../../cloud/errors.js';

const bad = (path: string, want: string) =>
  new CloudError('InvalidRequestContentException', `Could not parse request body into json: ${path} must be ${want}`);

export type Members = Map<string, unknown>;

/** The body's members (an empty body has none). */
export function members(body: Buffer): Members {
  if (!body.length) return new Map();
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: the body is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: the body must be a JSON object');
  }
  return new Map(Object.entries(raw).filter(([, v]) => v !== null && v !== undefined));
}

export function str(m: Members, k: string): string | undefined {
  const v = m.get(k);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(k, 'a string');
  return v;
}

export function int(m: Members, k: string): number | undefined {
  const v = m.get(k);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(k, 'an integer');
  return v;
}

/** A structure member's own members. */
export function struct(m: Members, k: string): Members | undefined {
  const v = m.get(k);
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(k, 'a structure');
  return new Map(Object.entries(v).filter(([, x]) => x !== null && x !== undefined));
}
