import { randomBytes } from 'node:crypto';

/** AWS-style resource ids: prefix + 17 lowercase hex digits (i-, r-, ami-, vol-, key-, vpc-, subnet-, sg-, eni-). */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

const ID_RE = /^[a-z]+-[0-9a-f]{8}([0-9a-f]{9})?$/;

export function isId(prefix: string, id: string): boolean {
  return id.startsWith(prefix + '-') && ID_RE.test(id);
}

export function requestId(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
