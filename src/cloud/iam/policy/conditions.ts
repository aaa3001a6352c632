/**
 * Condition operators: String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress / NotIpAddress, Arn*, Null, each with
 * …IfExists and the ForAnyValue: / ForAllValues: set prefixes. A condition holds when the request's value matches any
 * of its values (a negated operator: none); the keys of a block, and the blocks, are AND'd (evaluate.ts). Keys are
 * case-insensitive (kept lower-cased), values are compared as each operator says.
 */
import { BlockList, isIP } from 'node:net';
import { arnGlob, arnMatch, arnParts } from './arn.js';
import { globMatch } from './glob.js';
import { resolve, template, type Lookup, type Template } from './template.js';

type Base =
  | 'StringEquals' | 'StringEqualsIgnoreCase' | 'StringLike'
  | 'NumericEquals' | 'NumericLessThan' | 'NumericLessThanEquals' | 'NumericGreaterThan' | 'NumericGreaterThanEquals'
  | 'DateEquals' | 'DateLessThan' | 'DateLessThanEquals' | 'DateGreaterThan' | 'DateGreaterThanEquals'
  | 'Bool' | 'BinaryEquals' | 'IpAddress' | 'ArnLike' | 'Null';

/** Every operator AWS has: its positive base, and whether it is the negation of it. */
const OPERATORS = new Map<string, [Base, boolean]>([
  ['StringEquals', ['StringEquals', false]], ['StringNotEquals', ['StringEquals', true]],
  ['StringEqualsIgnoreCase', ['StringEqualsIgnoreCase', false]], ['StringNotEqualsIgnoreCase', ['StringEqualsIgnoreCase', true]],
  ['StringLike', ['StringLike', false]], ['StringNotLike', ['StringLike', true]],
  ['NumericEquals', ['NumericEquals', false]], ['NumericNotEquals', ['NumericEquals', true]],
  ['NumericLessThan', ['NumericLessThan', false]], ['NumericLessThanEquals', ['NumericLessThanEquals', false]],
  ['NumericGreaterThan', ['NumericGreaterThan', false]], ['NumericGreaterThanEquals', ['NumericGreaterThanEquals', false]],
  ['DateEquals', ['DateEquals', false]], ['DateNotEquals', ['DateEquals', true]],
  ['DateLessThan', ['DateLessThan', false]], ['DateLessThanEquals', ['DateLessThanEquals', false]],
  ['DateGreaterThan', ['DateGreaterThan', false]], ['DateGreaterThanEquals', ['DateGreaterThanEquals', false]],
  ['Bool', ['Bool', false]], ['BinaryEquals', ['BinaryEquals', false]],
  ['IpAddress', ['IpAddress', false]], ['NotIpAddress', ['IpAddress', true]],
  ['ArnEquals', ['ArnLike', false]], ['ArnLike', ['ArnLike', false]], ['ArnNotEquals', ['ArnLike', true]], ['ArnNotLike', ['ArnLike', true]],
  ['Null', ['Null', false]],
]);

/** One key under one operator, compiled. */
export interface Condition {
  /** The operator as written (`ForAnyValue:StringLikeIfExists`). */
  readonly operator: string;
  readonly base: Base;
  readonly negated: boolean;
  readonly set?: 'any' | 'all';
  readonly ifExists: boolean;
  /** Lower-cased condition key. */
  readonly key: string;
  readonly test: (value: string, lookup: Lookup) => boolean;
}

/** Why a condition block cannot be compiled: the parser words it as AWS does. */
export class ConditionError extends Error {
  constructor(readonly kind: 'syntax' | 'legacy' | 'vendor') {
    super(kind);
  }
}

/** The operator's parts, or undefined when AWS has no such operator. */
export function parseOperator(op: string): { base: Base; negated: boolean; set?: 'any' | 'all'; ifExists: boolean } | undefined {
  let rest = op;
  let set: 'any' | 'all' | undefined;
  if (rest.startsWith('ForAnyValue:')) { set = 'any'; rest = rest.slice(12); } else if (rest.startsWith('ForAllValues:')) { set = 'all'; rest = rest.slice(13); }
  let ifExists = false;
  if (rest.endsWith('IfExists') && rest !== 'IfExists') { ifExists = true; rest = rest.slice(0, -8); }
  const found = OPERATORS.get(rest);
  if (!found) return undefined;
  const [base, negated] = found;
  if (base === 'Null' && (ifExists || set)) return undefined;
  return { base, negated, set, ifExists };
}

/** A condition value as JSON gives it (AWS takes numbers and booleans too, as their text). */
export function valueText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/** Epoch milliseconds of an ISO 8601 date or epoch seconds, as AWS reads condition dates; NaN if neither. */
export function dateValue(s: string): number {
  const t = s.trim();
  if (/^\d{1,19}$/.test(t)) return Number(t) * 1000;
  if (!/^\d{4}(-\d{2}(-\d{2}([Tt ]\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?)?)?$/.test(t)) return NaN;
  const ms = Date.parse(t.length === 4 ? `${t}-01-01T00:00:00Z` : t.length === 7 ? `${t}-01T00:00:00Z` : t.length === 10 ? `${t}T00:00:00Z` : /[Zz]|[+-]\d{2}:?\d{2}$/.test(t.slice(10)) ? t : `${t}Z`);
  return ms;
}

const numeric = (s: string): number => (s.trim() === '' ? NaN : Number(s));

/** Compile one key's values under one operator (values already checked to be strings). */
export function compileCondition(operator: string, rawKey: string, values: readonly string[], variables: boolean): Condition {
  const op = parseOperator(operator);
  if (!op) throw new ConditionError('syntax');
  if (!rawKey.includes(':')) throw new ConditionError('vendor');
  const key = rawKey.toLowerCase();
  const test = tester(op.base, values, variables);
  return { operator, ...op, key, test };
}

type Test = (value: string, lookup: Lookup) => boolean;

function tester(base: Base, values: readonly string[], variables: boolean): Test {
  switch (base) {
    case 'StringEquals': case 'StringEqualsIgnoreCase': case 'BinaryEquals': {
      const fold = base === 'StringEqualsIgnoreCase';
      const ts = values.map((v) => template(v, variables && base !== 'BinaryEquals'));
      if (ts.every((t) => t.fixed)) {
        const set = new Set(ts.map((t) => (fold ? t.fixed!.text.toLowerCase() : t.fixed!.text)));
        return (v) => set.has(fold ? v.toLowerCase() : v);
      }
      return (v, lookup) => ts.some((t) => {
        const g = resolve(t, lookup);
        return g !== undefined && (fold ? g.text.toLowerCase() === v.toLowerCase() : g.text === v);
      });
    }
    case 'StringLike': {
      const ts = values.map((v) => template(v, variables));
      return (v, lookup) => ts.some((t) => { const g = resolve(t, lookup); return g !== undefined && globMatch(g, v); });
    }
    case 'ArnLike': {
      const ts: Template[] = values.map((v) => template(v, variables));
      return (v, lookup) => {
        const parts = arnParts(v);
        return ts.some((t) => { const g = resolve(t, lookup); return g !== undefined && arnMatch(arnGlob(g), v, parts); });
      };
    }
    case 'NumericEquals': case 'NumericLessThan': case 'NumericLessThanEquals': case 'NumericGreaterThan': case 'NumericGreaterThanEquals':
      return compare(base.slice(7), values.map(numeric), numeric);
    case 'DateEquals': case 'DateLessThan': case 'DateLessThanEquals': case 'DateGreaterThan': case 'DateGreaterThanEquals': {
      const dates = values.map(dateValue);
      if (dates.some(Number.isNaN)) throw new ConditionError('legacy');
      return compare(base.slice(4), dates, dateValue);
    }
    case 'Bool': {
      const want = new Set(values.map((v) => v.toLowerCase()));
      return (v) => want.has(v.toLowerCase());
    }
    case 'IpAddress': {
      const list = new BlockList();
      for (const v of values) addCidr(list, v);
      return (v) => {
        const family = isIP(v);
        return family !== 0 && list.check(v, family === 4 ? 'ipv4' : 'ipv6');
      };
    }
    case 'Null': {
      const want = new Set(values.map((v) => v.toLowerCase()));
      if ([...want].some((w) => w !== 'true' && w !== 'false')) throw new ConditionError('syntax');
      return (v) => want.has(v); // v: 'true' when the request lacks the key, 'false' when it has it (holds())
    }
  }
}

function compare(how: string, wants: readonly number[], read: (s: string) => number): Test {
  const cmp: (a: number, b: number) => boolean =
    how === 'Equals' ? (a, b) => a === b : how === 'LessThan' ? (a, b) => a < b : how === 'LessThanEquals' ? (a, b) => a <= b
      : how === 'GreaterThan' ? (a, b) => a > b : (a, b) => a >= b;
  return (v) => {
    const x = read(v);
    return !Number.isNaN(x) && wants.some((w) => cmp(x, w));
  };
}

function addCidr(list: BlockList, v: string): void {
  const slash = v.indexOf('/');
  const ip = (slash < 0 ? v : v.slice(0, slash)).trim();
  const family = isIP(ip);
  if (!family) throw new ConditionError('syntax');
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (slash < 0) { list.addAddress(ip, type); return; }
  const bitsText = v.slice(slash + 1).trim();
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= (family === 4 ? 32 : 128))) throw new ConditionError('syntax');
  list.addSubnet(ip, bits, type);
}

/**
 * Whether the condition holds for the request: `values` are the request's for its key (undefined when it lacks the
 * key). Without a set prefix a negated operator holds when the key is missing; …IfExists holds then; ForAllValues
 * holds over no values, ForAnyValue does not.
 */
export function holds(c: Condition, values: string | readonly string[] | undefined, lookup: Lookup): boolean {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  if (c.base === 'Null') return c.test(list.length === 0 ? 'true' : 'false', lookup);
  if (list.length === 0) {
    if (c.ifExists) return true;
    if (c.set === 'all') return true;
    if (c.set === 'any') return false;
    return c.negated;
  }
  const one = (v: string) => c.test(v, lookup);
  if (c.set === 'all') return c.negated ? list.every((v) => !one(v)) : list.every(one);
  if (c.set === 'any') return c.negated ? list.some((v) => !one(v)) : list.some(one);
  const pos = list.some(one);
  return c.negated ? !pos : pos;
}
