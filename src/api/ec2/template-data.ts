/**
 * A launch template's data on the wire, read and written by walking the EC2 model: RequestLaunchTemplateData in (the
 * Query's flattened names, `LaunchTemplateData.NetworkInterface.1.SecurityGroupId.2`), stored by the model's member
 * names (never the tenant's keys), and ResponseLaunchTemplateData out (the members' locationNames). Types are checked
 * as the model gives them (integers, booleans, enums, lengths); what each value means is the domain's to check.
 */
import { invalidParam } from '../../cloud/errors.js';
import type { LaunchTemplateData } from '../../db/schema.js';
import { serviceModel, type Shape } from '../model/index.js';
import type { Query } from './query.js';

const model = serviceModel('ec2-2016-11-15');

function member(op: string, io: 'input' | 'output', ...path: string[]): Shape {
  let s = model.resolve(model.operations.get(op)![io]!);
  for (const p of path) s = model.resolve(p === '[]' ? s.member! : s.members![p]!);
  return s;
}

const REQUEST = member('CreateLaunchTemplate', 'input', 'LaunchTemplateData');
const RESPONSE = member('DescribeLaunchTemplateVersions', 'output', 'LaunchTemplateVersions', '[]', 'LaunchTemplateData');

/** The longest string a template keeps (user data has its own limit, checked by the domain). */
const MAX_STRING = 1024;
const MAX_USER_DATA = 22_000;

/** The EC2 Query protocol's name of a member: queryName, else its locationName capitalized, else its name. */
function queryName(name: string, s: Shape): string {
  if (s.queryName) return s.queryName;
  if (s.locationName) return s.locationName[0]!.toUpperCase() + s.locationName.slice(1);
  return name;
}

function readValue(q: Query, key: string, s: Shape, path: string): unknown {
  switch (s.type ?? 'string') {
    case 'structure': {
      if (!q.has(key)) return undefined;
      const out = readStruct(q.sub(key), s, path);
      return Object.keys(out).length ? out : undefined;
    }
    case 'list': {
      const m = model.resolve(s.member!);
      const items = (m.type ?? 'string') === 'structure'
        ? q.structs(key).map((sub, i) => readStruct(sub, m, `${path}.${i + 1}`))
        : q.list(key).map((v, i) => scalar(v, m, `${path}.${i + 1}`));
      return items.length ? items : undefined;
    }
    default: {
      const v = q.str(key);
      return v === undefined ? undefined : scalar(v, s, path);
    }
  }
}

function readStruct(q: Query, s: Shape, path: string): LaunchTemplateData {
  // Keyed by the model's member names only (never the tenant's), so a plain object.
  const out: LaunchTemplateData = {};
  for (const [name, raw] of Object.entries(s.members ?? {})) {
    const m = model.resolve(raw);
    const key = queryName(name, raw);
    const v = readValue(q, key, m, path ? `${path}.${key}` : key);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function scalar(v: string, s: Shape, path: string): string | number | boolean {
  switch (s.type ?? 'string') {
    case 'integer':
    case 'long': {
      if (!/^-?\d{1,15}$/.test(v)) throw invalidParam(`Value (${v.slice(0, 40)}) for parameter ${path} is invalid. Expected an integer.`);
      return Number(v);
    }
    case 'double':
    case 'float': {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw invalidParam(`Value (${v.slice(0, 40)}) for parameter ${path} is invalid. Expected a number.`);
      return n;
    }
    case 'boolean': {
      if (!/^(true|false)$/i.test(v)) throw invalidParam(`Value (${v.slice(0, 40)}) for parameter ${path} is invalid. Expected a boolean.`);
      return v.toLowerCase() === 'true';
    }
    default: {
      const max = path.endsWith('UserData') ? MAX_USER_DATA : MAX_STRING;
      if (v.length > max) throw invalidParam(`Value for parameter ${path} is too long (at most ${max} characters).`);
      if (s.enum && !s.enum.includes(v)) throw invalidParam(`Value (${v.slice(0, 64)}) for parameter ${path} is invalid.`);
      return v;
    }
  }
}

/** `LaunchTemplateData.*` of a request: the members it gives, by model member name. */
export function readTemplateData(q: Query, prefix = 'LaunchTemplateData'): LaunchTemplateData {
  return q.has(prefix) ? readStruct(q.sub(prefix), REQUEST, prefix) : {};
}

function writeValue(v: unknown, s: Shape): unknown {
  switch (s.type ?? 'string') {
    case 'structure':
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? writeStruct(v as LaunchTemplateData, s) : undefined;
    case 'list': {
      if (!Array.isArray(v)) return undefined;
      const m = model.resolve(s.member!);
      return v.map((x) => writeValue(x, m)).filter((x) => x !== undefined);
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
      return typeof v === 'number' ? v : undefined;
    default:
      return typeof v === 'string' ? v : undefined;
  }
}

function writeStruct(data: LaunchTemplateData, s: Shape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(s.members ?? {})) {
    if (!Object.hasOwn(data, name)) continue;
    const v = writeValue(data[name], model.resolve(raw));
    if (v !== undefined) out[raw.locationName ?? name[0]!.toLowerCase() + name.slice(1)] = v;
  }
  return out;
}

/** The stored data as ResponseLaunchTemplateData (by locationName); members the response has no place for are left out. */
export function templateDataShape(data: LaunchTemplateData): Record<string, unknown> {
  return writeStruct(data, RESPONSE);
}
