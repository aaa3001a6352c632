/**
 * The Query protocol's input (IAM, STS): a form body of flattened parameters (`UserName`, `Tags.member.1.Key`,
 * `PolicyArns.member.2.arn`, `Attributes.entry.1.key`), read along the operation's input shape into a plain value:
 * structures as objects keyed by the model's member names (never by a client's), lists as arrays, maps as Maps,
 * integers and booleans typed, timestamps as Dates. A required member missing, or a value of the wrong type, is a
 * ValidationError in AWS's words; parameters the shape does not know are not read (nothing of them is kept).
 */
import { CloudError } from '../../cloud/errors.js';
import { unservable } from '../../cloud/text.js';
import type { Node } from '../model/compile.js';

/** The most members one list may have (no IAM or STS list comes near). */
export const MAX_QUERY_LIST = 1000;

/** The parameters as a tree by their dotted names, built once per request (no parameter is walked twice). */
interface Tree {
  value?: string;
  kids?: Map<string, Tree>;
}

/** The form body's parameters (each name once, the last value winning), refusing what XML could not serve back. */
export function formParams(body: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(body)) {
    if (unservable(k) || unservable(v)) {
      throw new CloudError('ValidationError', 'A parameter contains characters that are not allowed (control characters or unpaired surrogates).');
    }
    params.set(k, v);
  }
  return params;
}

function treeOf(params: ReadonlyMap<string, string>): Tree {
  const root: Tree = {};
  for (const [name, value] of params) {
    let at = root;
    for (const part of name.split('.')) {
      at.kids ??= new Map();
      let next = at.kids.get(part);
      if (!next) at.kids.set(part, (next = {}));
      at = next;
    }
    at.value = value;
  }
  return root;
}

/** AWS's words for a validation failure, with the member's path as the Query services name it (lower camel). */
const invalid = (path: string, value: string, constraint: string) =>
  new CloudError('ValidationError', `1 validation error detected: Value ${value} at '${path}' failed to satisfy constraint: ${constraint}`);

const camel = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** The 1-based indices under a list or map node, in order (gaps refused: `member.1`, `member.3` is not a list). */
function indices(t: Tree | undefined, path: string): Tree[] {
  if (!t?.kids) return [];
  const out: Tree[] = [];
  for (let i = 1; i <= t.kids.size; i++) {
    const kid = t.kids.get(String(i));
    if (!kid) throw invalid(path, 'with a gap', `Member must be numbered from 1 without gaps`);
    out.push(kid);
  }
  if (out.length > MAX_QUERY_LIST) throw invalid(path, `of ${out.length} members`, `Member must have length less than or equal to ${MAX_QUERY_LIST}`);
  return out;
}

function scalar(node: Node, v: string, path: string): unknown {
  switch (node.type) {
    case 'integer': case 'long': {
      if (!/^-?\d{1,15}$/.test(v)) throw invalid(path, `'${v.slice(0, 64)}'`, 'Member must be an integer');
      return Number(v);
    }
    case 'double': case 'float': {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw invalid(path, `'${v.slice(0, 64)}'`, 'Member must be a number');
      return n;
    }
    case 'boolean':
      if (!/^(true|false)$/i.test(v)) throw invalid(path, `'${v.slice(0, 64)}'`, 'Member must be a boolean');
      return v.toLowerCase() === 'true';
    case 'timestamp': {
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw invalid(path, `'${v.slice(0, 64)}'`, 'Member must be an ISO 8601 timestamp');
      return new Date(t);
    }
    case 'string':
      if (node.enum && !node.enum.has(v)) {
        throw invalid(path, `'${v.slice(0, 64)}'`, `Member must satisfy enum value set: [${[...node.enum].join(', ')}]`);
      }
      return v;
    default:
      return v;
  }
}

function read(node: Node, t: Tree | undefined, path: string): unknown {
  if (!t) return undefined;
  switch (node.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      for (const m of node.members) {
        const v = read(m.node, t.kids?.get(m.locationName ?? m.name), path ? `${path}.${camel(m.name)}` : camel(m.name));
        if (v !== undefined) out[m.name] = v;
      }
      for (const r of node.required) {
        if (out[r] === undefined) throw invalid(path ? `${path}.${camel(r)}` : camel(r), 'null', 'Member must not be null');
      }
      return out;
    }
    case 'list':
      // `Name=` (no members) is the empty list, as the SDKs send one.
      if (t.value === '' && !t.kids) return [];
      return indices(t.kids?.get(node.element), path).map((kid, i) => read(node.member, kid, `${path}.${i + 1}.member`));
    case 'map': {
      const out = new Map<string, unknown>();
      for (const [i, entry] of indices(t.kids?.get('entry'), path).entries()) {
        const key = entry.kids?.get('key')?.value;
        if (key === undefined) throw invalid(`${path}.${i + 1}.key`, 'null', 'Member must not be null');
        out.set(key, read(node.value, entry.kids?.get('value'), `${path}.${i + 1}.value`));
      }
      return out;
    }
    default:
      return t.value === undefined ? undefined : scalar(node, t.value, path);
  }
}

/** The operation's input read from the request's parameters along its input shape (see above). */
export function readInput(shape: Node & { type: 'structure' }, params: ReadonlyMap<string, string>): Record<string, unknown> {
  return read(shape, treeOf(params), '') as Record<string, unknown>;
}
