/**
 * The AWS service models (the JSON that the aws-sdk v2 package ships) as the source of truth for the wire:
 * operation names, their HTTP bindings, input members and output shapes. Loaded once per service, read-only.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** A shape as the models write it; a member without `type` (and without `shape`) is a string. */
export interface Shape {
  type?: 'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'boolean' | 'timestamp' | 'blob' | 'double' | 'float';
  shape?: string;
  members?: Record<string, Shape>;
  member?: Shape;
  key?: Shape;
  value?: Shape;
  required?: string[];
  enum?: string[];
  location?: 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode';
  locationName?: string;
  queryName?: string;
  flattened?: boolean;
  timestampFormat?: string;
  payload?: string;
  streaming?: boolean;
  min?: number;
  max?: number;
  pattern?: string;
  sensitive?: boolean;
  idempotencyToken?: boolean;
  /** The Query protocol's result element (`CreateUserResult`), on an operation's output. */
  resultWrapper?: string;
}

export interface Operation {
  name: string;
  http: { method: string; requestUri: string; responseCode?: number };
  input?: Shape;
  output?: Shape;
}

export interface ServiceModel {
  uid: string;
  protocol: string;
  apiVersion: string;
  /** Operations by name (a Map: a request's action never reaches anything but an operation). */
  operations: ReadonlyMap<string, Operation>;
  /** The shape itself, following `shape` references (members keep their own locationName). */
  resolve(s: Shape): Shape;
  /** The named shape a `shape` reference points at (the same object each time: compiled shapes are cached by it). */
  target(s: Shape): Shape;
}

export type ServiceUid = 'ec2-2016-11-15' | 'lambda-2015-03-31' | 'iam-2010-05-08' | 'sts-2011-06-15';

const require = createRequire(import.meta.url);
const loaded = new Map<ServiceUid, ServiceModel>();

interface RawModel {
  metadata: { protocol: string; apiVersion: string };
  operations: Record<string, { http?: { method?: string; requestUri?: string; responseCode?: number }; input?: Shape; output?: Shape }>;
  shapes: Record<string, Shape>;
}

export function serviceModel(uid: ServiceUid): ServiceModel {
  const hit = loaded.get(uid);
  if (hit) return hit;
  const raw = JSON.parse(readFileSync(require.resolve(`aws-sdk/apis/${uid}.min.json`), 'utf8')) as RawModel;
  const shapes = new Map(Object.entries(raw.shapes));
  const resolve = (s: Shape): Shape => {
    if (!s.shape) return s;
    const target = shapes.get(s.shape);
    if (!target) throw new Error(`model ${uid}: no shape ${s.shape}`);
    const { shape: _ref, ...own } = s;
    return { ...resolve(target), ...own };
  };
  const target = (s: Shape): Shape => {
    if (!s.shape) return s;
    const t = shapes.get(s.shape);
    if (!t) throw new Error(`model ${uid}: no shape ${s.shape}`);
    return target(t);
  };
  const operations = new Map<string, Operation>(Object.entries(raw.operations).map(([name, o]) => [name, {
    name,
    http: { method: o.http?.method ?? 'POST', requestUri: o.http?.requestUri ?? '/', responseCode: o.http?.responseCode },
    input: o.input, output: o.output,
  }]));
  const model: ServiceModel = { uid, protocol: raw.metadata.protocol, apiVersion: raw.metadata.apiVersion, operations, resolve, target };
  loaded.set(uid, model);
  return model;
}
