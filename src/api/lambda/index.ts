/**
 * Lambda's REST-JSON API: the operations by the model's names (routes.ts), found by the router compiled from the
 * Lambda model's HTTP bindings (src/api/model), over the domain (src/cloud/functions); errors in Lambda's JSON
 * (shapes.ts); nginx's authorizer (authorize.ts).
 */
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import type { Principal } from '../auth/sigv4.js';
import { originContext, unknownOrigin, type Origin } from '../auth/origin.js';
import { deniedMessage, type AccessRequest } from '../../cloud/iam/authorize.js';
import { lambdaAccessRequest } from './access.js';
import { log } from '../../log.js';
import { serviceModel, type Operation } from '../model/index.js';
import { inputNode, outputNode } from '../model/compile.js';
import { bodyMembers, jsonMismatch, locatedEnumError } from '../model/json.js';
import { strictShapes } from '../model/strict.js';
import { BadPathEncoding, RestRouter } from '../model/rest-router.js';
import { layerOps } from './layers.js';
import { functionOps, type Operations } from './routes.js';
import { aliasOps } from './aliases.js';
import { concurrencyOps } from './concurrency.js';
import { eventSourceOps } from './event-sources.js';
import { policyOps } from './policy.js';
import { lambdaCodes } from './errors.js';
import { lambdaError } from './shapes.js';
import type { CallFacts } from '../calls.js';

export { authorizeForNginx } from './authorize.js';
export { relayUrlForNginx } from './url-relay.js';
export { lambdaError } from './shapes.js';

const model = serviceModel('lambda-2015-03-31');
const router = new RestRouter(model);
/** Implemented operations by the model's names: a Map, so no path can reach anything but a handler. */
export const operations = new Map(Object.entries({ ...functionOps, ...aliasOps, ...policyOps, ...concurrencyOps, ...eventSourceOps, ...layerOps } satisfies Operations));

/** The first path segments of Lambda's operations (`2015-03-31`, `2018-10-31`, …): how an unsigned request is told apart. */
export const lambdaPathPrefixes = router.prefixes;

/**
 * Strict shapes (tests): a JSON answer whose members or types the operation's output shape does not have fails with
 * ServiceException, and the log names the member. An operation whose output is its payload (Invoke) is not JSON to check.
 */
async function checked(op: Operation, res: Response): Promise<Response> {
  if (res.status >= 300 || !res.headers.get('content-type')?.startsWith('application/json')) return res;
  if (op.output && model.resolve(op.output).payload) return res;
  const output = outputNode(model, op);
  const text = await res.clone().text();
  if (!text) return res;
  const problem = jsonMismatch(output, JSON.parse(text), '', bodyMembers(output));
  if (!problem) return res;
  log.error(`lambda ${op.name}: the handler's answer does not fit the output shape: ${problem}`);
  return lambdaError('ServiceException', 'An internal error has occurred');
}

/** The request's JSON body as an object, if it is one (CreateFunction's FunctionName is in it). */
function jsonBody(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** fn's value, computed on the first call only. */
function once<T>(fn: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) [value, done] = [fn(), true];
    return value;
  };
}

/** Refuse (AccessDeniedException, in AWS's words) unless the signer's identity policies allow it. */
async function authorize(cloud: Cloud, principal: Principal, origin: Origin, req: AccessRequest): Promise<void> {
  const context = originContext(principal, origin);
  for (const [k, v] of req.context ?? []) context.set(k, v);
  const d = await cloud.iam.authorize(principal.identity, { ...req, context });
  if (!d.allowed) throw new CloudError('AccessDeniedException', deniedMessage(d));
}

/**
 * Answer one request. `facts` gets its operation (one the Lambda model has); the error code answered is on the answer
 * itself (x-amzn-errortype), as Lambda's are.
 */
export async function handleLambda(cloud: Cloud, principal: Principal, method: string, url: URL, headers: Headers, body: Buffer, origin: Origin = unknownOrigin, facts: CallFacts = {}): Promise<Response> {
  let op = '';
  try {
    const match = router.match(method, url);
    if (!match) return lambdaError('UnknownOperationException', `No route for ${method} ${url.pathname}`);
    op = match.operation.name;
    facts.action = op;
    const handler = operations.get(op);
    if (!handler) return lambdaError('UnknownOperationException', `pcloud does not implement the Lambda operation ${op}.`);
    const p = (label: string) => match.labels.get(label) ?? '';
    // Query-string and header members outside their enum (X-Amz-Invocation-Type, FunctionVersion…): refused at the edge.
    const badEnum = locatedEnumError(inputNode(model, match.operation), url.searchParams, headers);
    if (badEnum) throw badEnum;
    // IAM's decision (root may do anything: nothing to build for it).
    if (principal.identity.kind !== 'root') {
      const parsed = once(() => jsonBody(body));
      await authorize(cloud, principal, origin, lambdaAccessRequest(principal, op, p, url.searchParams, parsed));
      // A function's role is passed to Lambda (iam:PassRole, iam:PassedToService lambda.amazonaws.com), as AWS checks.
      const role = op === 'CreateFunction' || op === 'UpdateFunctionConfiguration' ? parsed()?.Role : undefined;
      if (typeof role === 'string' && role.length <= 2048 && role.startsWith('arn:')) {
        await authorize(cloud, principal, origin, { action: 'iam:PassRole', resources: [{ arn: role }], context: new Map([['iam:PassedToService', 'lambda.amazonaws.com']]) });
      }
    }
    const res = await handler({ cloud, accountId: principal.accountId, p, q: url.searchParams, body, headers });
    return strictShapes() ? await checked(match.operation, res) : res;
  } catch (err) {
    if (err instanceof BadPathEncoding) return lambdaError('InvalidParameterValueException', err.message);
    if (err instanceof CloudError) return lambdaError(lambdaCodes.get(err.code) ?? err.code, err.message);
    log.error(`lambda ${op || method}: ${(err as Error).stack}`);
    return lambdaError('ServiceException', 'An internal error has occurred');
  }
}
