/**
 * Lambda's JSON request bodies, typed at the edge against the operation's input shape in the Lambda model (as
 * Lambda's deserializer does) before anything reads them: `null` is an absent member; a wrong type is
 * InvalidRequestContentException; a required member missing is InvalidParameterValueException; maps (Tags,
 * Environment.Variables) come out as Maps, never as objects keyed by user input; members the model lacks are ignored.
 */
import { CloudError } from '../../cloud/errors.js';
import { serviceModel } from '../model/index.js';
import { bodyMembers, camelPath, JsonShapeError, missingMember, readJson } from '../model/json.js';
import { inputNode, type Member, type Node } from '../model/compile.js';

const model = serviceModel('lambda-2015-03-31');

/** Each operation's input node and its body members, compiled once. */
const inputs = new Map<string, { node: Node & { type: 'structure' }; members: Member[] }>();

function inputOf(operation: string) {
  let hit = inputs.get(operation);
  if (!hit) {
    const op = model.operations.get(operation);
    if (!op) throw new Error(`Lambda operation ${operation} is not in the Lambda model`);
    const node = inputNode(model, op);
    hit = { node, members: bodyMembers(node) };
    inputs.set(operation, hit);
  }
  return hit;
}

/** The members pcloud's handlers read, typed; any other member the model has is there too (unknown, for new handlers). */
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
  readonly [member: string]: unknown;
}

/** Parse and type an operation's JSON body against its input shape (an empty body is `{}`). */
export function parseBody(operation: string, body: Buffer): Body {
  const { node, members } = inputOf(operation);
  let raw: unknown = {};
  if (body.length) {
    try {
      raw = JSON.parse(body.toString('utf8'));
    } catch {
      throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: the body is not valid JSON');
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: the body must be a JSON object');
  }
  let parsed: unknown;
  try {
    parsed = readJson(node, raw, '', members);
  } catch (err) {
    if (err instanceof JsonShapeError) throw new CloudError('InvalidRequestContentException', `Could not parse request body into json: ${err.message}`);
    throw err;
  }
  const missing = missingMember(node, raw, '', members);
  if (missing) {
    throw new CloudError('InvalidParameterValueException',
      `1 validation error detected: Value null at '${camelPath(missing)}' failed to satisfy constraint: Member must not be null`);
  }
  return parsed as Body;
}

/** A base64 member (a zip), refused when it is not base64 rather than decoded into garbage. */
export function base64(v: string | undefined, member: string): Buffer | undefined {
  if (!v) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 === 1) {
    throw new CloudError('InvalidParameterValueException', `${member} must be base64-encoded`);
  }
  return Buffer.from(v, 'base64');
}
