/**
 * Lambda's JSON request bodies, typed at the edge: each member is checked against its shape (as Lambda's deserializer
 * does) before anything reads it. `null` is an absent member; a wrong type is InvalidRequestContentException; maps
 * from JSON (Tags, Environment.Variables) come out as Maps, never as objects keyed by user input.
 */
import { CloudError } from '../../cloud/errors.js';

type Shape = 'string' | 'integer' | 'boolean' | 'stringList' | 'stringMap' | { [member: string]: Shape };

const bad = (path: string, want: string) =>
  new CloudError('InvalidRequestContentException', `Could not parse request body into json: ${path} must be ${want}`);

/** A string member; what each may hold (a NUL, a length, a pattern) is the domain's rule, with Lambda's code for it. */
function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw bad(path, 'a string');
  return v;
}

function read(v: unknown, shape: Shape, path: string): unknown {
  if (v === null || v === undefined) return undefined;
  switch (shape) {
    case 'string': return str(v, path);
    case 'integer':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(path, 'an integer');
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad(path, 'a boolean');
      return v;
    case 'stringList':
      if (!Array.isArray(v)) throw bad(path, 'a list of strings');
      return v.map((x, i) => str(x, `${path}[${i}]`));
    case 'stringMap': {
      if (typeof v !== 'object' || Array.isArray(v)) throw bad(path, 'a map of strings');
      const out = new Map<string, string>();
      for (const [k, x] of Object.entries(v)) out.set(str(k, `${path} key`), str(x, `${path}.${k.slice(0, 64)}`));
      return out;
    }
    default: {
      if (typeof v !== 'object' || Array.isArray(v)) throw bad(path, 'a structure');
      const src = v as Record<string, unknown>;
      const out = new Map<string, unknown>();
      for (const [member, sub] of Object.entries(shape)) {
        if (!Object.hasOwn(src, member)) continue;
        const x = read(src[member], sub, path ? `${path}.${member}` : member);
        if (x !== undefined) out.set(member, x);
      }
      return Object.fromEntries(out);
    }
  }
}

/** The request bodies pcloud reads, by the members it reads; other members are ignored, as unknown ones are. */
const shapes = {
  CreateFunction: {
    FunctionName: 'string', Runtime: 'string', Handler: 'string', Role: 'string', Description: 'string', MemorySize: 'integer',
    Timeout: 'integer', Environment: { Variables: 'stringMap' }, Code: { ZipFile: 'string', S3Bucket: 'string', ImageUri: 'string' },
    Publish: 'boolean', Tags: 'stringMap', PackageType: 'string', Architectures: 'stringList', Layers: 'stringList',
  },
  UpdateFunctionConfiguration: {
    Runtime: 'string', Handler: 'string', Role: 'string', Description: 'string', MemorySize: 'integer', Timeout: 'integer',
    Environment: { Variables: 'stringMap' }, Layers: 'stringList',
  },
  UpdateFunctionCode: { ZipFile: 'string', Publish: 'boolean', ImageUri: 'string', S3Bucket: 'string' },
  PublishVersion: { Description: 'string' },
  CreateFunctionUrlConfig: { AuthType: 'string' },
  TagResource: { Tags: 'stringMap' },
  PublishLayerVersion: {
    Description: 'string', Content: { ZipFile: 'string', S3Bucket: 'string', S3Key: 'string' }, CompatibleRuntimes: 'stringList',
    CompatibleArchitectures: 'stringList', LicenseInfo: 'string',
  },
} as const satisfies Record<string, Shape>;

export interface Body {
  FunctionName?: string;
  Runtime?: string;
  Handler?: string;
  Role?: string;
  Description?: string;
  MemorySize?: number;
  Timeout?: number;
  Environment?: { Variables?: Map<string, string> };
  Code?: { ZipFile?: string; S3Bucket?: string; ImageUri?: string };
  ZipFile?: string;
  ImageUri?: string;
  S3Bucket?: string;
  Publish?: boolean;
  Tags?: Map<string, string>;
  AuthType?: string;
  PackageType?: string;
  Architectures?: string[];
  Layers?: string[];
  Content?: { ZipFile?: string; S3Bucket?: string; S3Key?: string };
  CompatibleRuntimes?: string[];
  CompatibleArchitectures?: string[];
  LicenseInfo?: string;
}

/** Parse and type an operation's JSON body (an empty body is `{}`). */
export function parseBody(operation: keyof typeof shapes, body: Buffer): Body {
  if (!body.length) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: the body is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: the body must be a JSON object');
  }
  return read(raw, shapes[operation], '') as Body;
}

/** A base64 member (a zip), refused when it is not base64 rather than decoded into garbage. */
export function base64(v: string | undefined, member: string): Buffer | undefined {
  if (!v) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 === 1) {
    throw new CloudError('InvalidParameterValueException', `${member} must be base64-encoded`);
  }
  return Buffer.from(v, 'base64');
}
