/**
 * The shape walker every XML service shares (EC2's protocol, and the Query protocol of IAM and STS): a handler's plain
 * object in, the object xml-text.ts writes out, walked along the operation's output shape from the model
 * (src/api/model): keys are the members' element names (locationName); lists are the member's element (`<item>` in
 * EC2, `<member>` in the Query protocol); booleans `true`/`false`; timestamps ISO 8601; undefined and null are left
 * out. It never throws on data:
 * characters XML 1.0 cannot carry (which the edges refuse, but older records may hold) are written as U+FFFD.
 */
import { NOT_XML_CHAR, unservable } from '../../cloud/text.js';
import type { Node } from './compile.js';

const NOT_XML_ALL = new RegExp(NOT_XML_CHAR.source, 'gu');

/** The string with every character XML 1.0 cannot carry replaced by U+FFFD. */
export function xmlSafe(s: string): string {
  return unservable(s) ? s.replace(NOT_XML_ALL, '\uFFFD') : s;
}

/** A handler's result that does not fit its operation's output shape: a bug in pcloud, named by its path. */
export class ShapeMismatch extends Error {
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * The value as xml-text.ts writes it (as xml2js' Builder would), walked along its shape: structures by the members' element names, lists as the
 * member's element (`item`), booleans and numbers as text, timestamps ISO 8601; absent members left out. What the
 * shape does not have is a ShapeMismatch when `strict`, and left out (a scalar of the wrong type written as text)
 * otherwise: a client never sees a key AWS does not send.
 */
export function writeShape(node: Node, v: unknown, path: string, strict: boolean): unknown {
  if (v === null || v === undefined) return undefined;
  const wrong = (want: string) => {
    if (strict) throw new ShapeMismatch(path, `expected ${want}, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  };
  switch (node.type) {
    case 'structure': {
      if (!isRecord(v)) { wrong('a structure'); return undefined; }
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) {
        const m = node.byElement.get(k);
        if (!m) {
          if (strict) throw new ShapeMismatch(`${path}.${k}`, 'not a member of the output shape');
          continue;
        }
        const c = writeShape(m.node, v[k], `${path}.${k}`, strict);
        if (c !== undefined) out[k] = c;
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(v)) { wrong('a list'); return undefined; }
      if (!v.length) return '';
      const items: unknown[] = [];
      v.forEach((x, i) => {
        const c = writeShape(node.member, x, `${path}[${i}]`, strict);
        if (c !== undefined) items.push(c);
      });
      return { [node.element]: items };
    }
    case 'map': {
      if (!isRecord(v)) { wrong('a map'); return undefined; }
      return { entry: Object.entries(v).map(([k, x]) => ({ key: xmlSafe(k), value: writeShape(node.value, x, `${path}.${k}`, strict) })) };
    }
    case 'boolean':
      if (typeof v !== 'boolean') wrong('a boolean');
      return text(v);
    case 'integer': case 'long':
      if (typeof v !== 'number' || !Number.isInteger(v)) wrong('an integer');
      return text(v);
    case 'double': case 'float':
      if (typeof v !== 'number') wrong('a number');
      return text(v);
    case 'timestamp':
      if (v instanceof Date) return v.toISOString();
      if (typeof v === 'number') return new Date(v).toISOString();
      if (typeof v !== 'string') wrong('a timestamp');
      return text(v);
    default:
      if (v instanceof Date) return v.toISOString(); // a date the model types as a string (Image.CreationDate)
      if (typeof v !== 'string') wrong('a string');
      return text(v);
  }
}

/** A scalar as XML text (a structure or list where a scalar was due is left out). */
function text(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? xmlSafe(String(v)) : undefined;
}

