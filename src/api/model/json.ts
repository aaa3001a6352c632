/**
 * JSON (REST-JSON, Lambda) against a compiled shape, both ways: a request body read into typed values (maps as Maps,
 * structures by the model's member names only, never keyed by what the request chose), and a response body checked
 * member by member (a key the shape lacks, a wrong type, a list that is not a list: the first problem, by its path).
 * A request value outside its member's enum is Lambda's ValidationException.
 */
import { CloudError } from '../../cloud/errors.js';
import type { Member, Node } from './compile.js';

/** A JSON value that does not fit its shape: where, and what was due. */
export class JsonShapeError extends Error {
  constructor(readonly path: string, readonly want: string) {
    super(`${path || 'the body'} must be ${want}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const WANT: Record<string, string> = {
  structure: 'a structure', list: 'a list', map: 'a map', string: 'a string', blob: 'a base64 string', integer: 'an integer',
  long: 'an integer', boolean: 'a boolean', double: 'a number', float: 'a number', timestamp: 'a timestamp',
};

const join = (path: string, name: string) => (path ? `${path}.${name}` : name);

/** `Code.ZipFile` as Lambda's validation messages spell a member path (`code.zipFile`). */
export const camelPath = (path: string) => path.split('.').map((p) => p.charAt(0).toLowerCase() + p.slice(1)).join('.');

/** Lambda's answer to a value outside a member's enum (botocore's values, in their order). */
function enumError(path: string, shown: string, values: ReadonlySet<string>, inList: boolean): CloudError {
  const set = `Member must satisfy enum value set: [${[...values].join(', ')}]`;
  return new CloudError('ValidationException', `1 validation error detected: Value '${shown.slice(0, 200)}' at '${camelPath(path)}' failed to satisfy constraint: ${
    inList ? `Member must satisfy constraint: [${set}]` : set}`);
}

/** The JSON body's members: those without an HTTP location (path, query string, headers travel elsewhere). */
export const bodyMembers = (node: Node & { type: 'structure' }): Member[] => node.members.filter((m) => !m.location);

/**
 * A request value read along its shape. `null` is an absent member (undefined); a member the shape lacks is ignored
 * (as Lambda ignores it); a wrong type is a JsonShapeError. Required members are the caller's (missingMember).
 */
export function readJson(node: Node, v: unknown, path = '', members?: Member[]): unknown {
  if (v === null || v === undefined) return undefined;
  const bad = () => new JsonShapeError(path, WANT[node.type] ?? 'a value');
  switch (node.type) {
    case 'structure': {
      if (!isObject(v)) throw bad();
      const out = new Map<string, unknown>();
      for (const m of members ?? node.members) {
        if (!Object.hasOwn(v, m.name)) continue;
        const x = readJson(m.node, v[m.name], join(path, m.name));
        if (x !== undefined) out.set(m.name, x);
      }
      // Keys are the model's member names only: `__proto__` can never be one.
      return Object.fromEntries(out);
    }
    case 'list': {
      if (!Array.isArray(v)) throw bad();
      // Lambda words a list's enum as the list's constraint (its type checked first, item by item, below).
      const values = node.member.type === 'string' ? node.member.enum : undefined;
      if (values && v.some((x) => typeof x === 'string' && !values.has(x))) {
        throw enumError(path, `[${v.slice(0, 32).map((x) => String(x).slice(0, 64)).join(', ')}]`, values, true);
      }
      return v.map((x, i) => readJson(node.member, x, `${path}[${i}]`));
    }
    case 'map': {
      if (!isObject(v)) throw bad();
      const out = new Map<string, unknown>();
      for (const [k, x] of Object.entries(v)) out.set(k, readJson(node.value, x, `${path}.${k.slice(0, 64)}`));
      return out;
    }
    case 'integer': case 'long':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad();
      return v;
    case 'double': case 'float':
      if (typeof v !== 'number') throw bad();
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad();
      return v;
    case 'timestamp':
      if (typeof v !== 'number' && typeof v !== 'string') throw bad();
      return v;
    default:
      if (typeof v !== 'string') throw bad();
      if (node.type === 'string' && node.enum && !node.enum.has(v)) throw enumError(path, v, node.enum, false);
      return v;
  }
}

/**
 * A REST request's query-string and header members checked against their enums (ListFunctions' FunctionVersion,
 * Invoke's X-Amz-Invocation-Type…): Lambda's ValidationException for the first value outside one, else undefined.
 */
export function locatedEnumError(node: Node & { type: 'structure' }, query: URLSearchParams, headers: Headers): CloudError | undefined {
  for (const m of node.members) {
    const values = m.node.type === 'string' ? m.node.enum : undefined;
    if (!values || !m.locationName) continue;
    const v = m.location === 'querystring' ? query.get(m.locationName) : m.location === 'header' ? headers.get(m.locationName) : null;
    if (v !== null && !values.has(v)) return enumError(m.name, v, values, false);
  }
  return undefined;
}

/** The first required member (of the structure and of each structure inside what was given) that is missing. */
export function missingMember(node: Node, v: unknown, path = '', members?: Member[]): string | undefined {
  if (node.type === 'structure' && isObject(v)) {
    const own = members ?? node.members;
    for (const r of node.required) {
      const m = own.find((x) => x.name === r);
      if (m && (v[r] === undefined || v[r] === null)) return join(path, r);
    }
    for (const m of own) {
      const hit = Object.hasOwn(v, m.name) ? missingMember(m.node, v[m.name], join(path, m.name)) : undefined;
      if (hit) return hit;
    }
  } else if (node.type === 'list' && Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const hit = missingMember(node.member, v[i], `${path}[${i}]`);
      if (hit) return hit;
    }
  }
  return undefined;
}

/**
 * A response value checked along its shape: the first problem (a key the shape lacks, a wrong type) or undefined.
 * `null` stands for absent (JSON.stringify writes undefined members not at all).
 */
export function jsonMismatch(node: Node, v: unknown, path = '', members?: Member[]): string | undefined {
  if (v === null || v === undefined) return undefined;
  const bad = () => `${path || 'the body'}: expected ${WANT[node.type] ?? 'a value'}, got ${Array.isArray(v) ? 'a list' : typeof v}`;
  switch (node.type) {
    case 'structure': {
      if (!isObject(v)) return bad();
      const own = members ?? node.members;
      for (const k of Object.keys(v)) {
        const m = own.find((x) => x.name === k);
        if (!m) return `${join(path, k)}: not a member of the output shape`;
        const hit = jsonMismatch(m.node, v[k], join(path, k));
        if (hit) return hit;
      }
      return undefined;
    }
    case 'list':
      if (!Array.isArray(v)) return bad();
      for (let i = 0; i < v.length; i++) {
        const hit = jsonMismatch(node.member, v[i], `${path}[${i}]`);
        if (hit) return hit;
      }
      return undefined;
    case 'map':
      if (!isObject(v)) return bad();
      for (const [k, x] of Object.entries(v)) {
        const hit = jsonMismatch(node.value, x, `${path}.${k}`);
        if (hit) return hit;
      }
      return undefined;
    case 'integer': case 'long':
      return typeof v === 'number' && Number.isInteger(v) ? undefined : bad();
    case 'double': case 'float':
      return typeof v === 'number' ? undefined : bad();
    case 'boolean':
      return typeof v === 'boolean' ? undefined : bad();
    case 'timestamp':
      return typeof v === 'number' || typeof v === 'string' ? undefined : bad();
    default:
      return typeof v === 'string' ? undefined : bad();
  }
}
