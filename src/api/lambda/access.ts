/**
 * What a Lambda request asks of IAM: `lambda:Action` (IAM's name for the operation: Invoke is lambda:InvokeFunction) on
 * the function its path names (its ARN, with the qualifier given), the layer (version), the event source mapping, the
 * tagged ARN; `*` for what names none. A function of another account is still the caller's identity policies' to
 * allow (its resource policy is the function's side, checked where the function is reached).
 */
import type { AccessRequest } from '../../cloud/iam/authorize.js';
import type { Principal } from '../auth/sigv4.js';

/** Operations IAM names otherwise. */
const IAM_ACTIONS = new Map([
  ['Invoke', 'InvokeFunction'], ['InvokeWithResponseStream', 'InvokeFunction'], ['GetLayerVersionByArn', 'GetLayerVersion'],
]);

const NAME = /^[a-zA-Z0-9_-]{1,140}$/;
const QUALIFIER = /^[a-zA-Z0-9$_-]{1,128}$/;
const ACCOUNT = /^\d{12}$/;
/** An ARN as given (tags' ARN, GetLayerVersionByArn's): bounded, printable, no spaces. */
const GIVEN_ARN = /^arn:aws[a-zA-Z-]*:lambda:[\x21-\x7e]{1,256}$/;
const UUID = /^[0-9a-f-]{36}$/;

/** The IAM action of a Lambda operation (by the model's name). */
export const lambdaAction = (op: string) => `lambda:${IAM_ACTIONS.get(op) ?? op}`;

/**
 * FunctionName in its forms (name, `name:qualifier`, `ACCOUNT:function:NAME[:Q]`, the full ARN) as the function's ARN;
 * undefined for anything else (the operation refuses it).
 */
export function functionArn(region: string, caller: string, ref: string, qualifier?: string): string | undefined {
  if (ref.length > 256) return undefined;
  const p = ref.split(':');
  let account = caller;
  let name: string | undefined;
  let q: string | undefined;
  if (p[0] === 'arn' && p.length >= 7 && p.length <= 8 && p[2] === 'lambda' && p[5] === 'function') [account, name, q] = [p[4]!, p[6], p[7]];
  else if (p.length >= 3 && p.length <= 4 && p[1] === 'function') [account, name, q] = [p[0]!, p[2], p[3]];
  else if (p.length <= 2) [name, q] = [p[0], p[1]];
  q ??= qualifier;
  if (!name || !NAME.test(name) || !ACCOUNT.test(account) || (q !== undefined && !QUALIFIER.test(q))) return undefined;
  return `arn:aws:lambda:${region}:${account}:function:${name}${q ? `:${q}` : ''}`;
}

/** The resource the operation acts on, from its path labels and query string. */
function resourceOf(principal: Principal, op: string, label: (l: string) => string, q: URLSearchParams, body: () => Record<string, unknown> | undefined): string {
  const { region, accountId } = principal;
  const fn = label('FunctionName');
  // Aliases' operations act on their function, not on a qualified ARN.
  if (fn) return functionArn(region, accountId, fn, op.includes('Alias') ? undefined : q.get('Qualifier') ?? undefined) ?? '*';
  if (op === 'CreateFunction') {
    const name = body()?.FunctionName;
    return (typeof name === 'string' && functionArn(region, accountId, name)) || '*';
  }
  const arn = label('ARN') || (op === 'GetLayerVersionByArn' ? q.get('Arn') ?? '' : '');
  if (arn) return GIVEN_ARN.test(arn) ? arn : '*';
  const layer = label('LayerName');
  if (layer) {
    if (GIVEN_ARN.test(layer)) return layer;
    if (!NAME.test(layer)) return '*';
    const version = label('VersionNumber');
    return `arn:aws:lambda:${region}:${accountId}:layer:${layer}${/^\d{1,12}$/.test(version) ? `:${version}` : ''}`;
  }
  const uuid = label('UUID');
  if (uuid) return UUID.test(uuid) ? `arn:aws:lambda:${region}:${accountId}:event-source-mapping:${uuid}` : '*';
  return '*';
}

/** The IAM request of one Lambda operation. `body` parses the JSON body, asked only where the resource is in it. */
export function lambdaAccessRequest(principal: Principal, op: string, label: (l: string) => string, q: URLSearchParams, body: () => Record<string, unknown> | undefined): AccessRequest {
  return { action: lambdaAction(op), resources: [{ arn: resourceOf(principal, op, label, q, body) }] };
}
