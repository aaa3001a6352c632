/**
 * One endpoint for a Query-protocol service (IAM, STS): the action found in its table, its input read along the
 * model's input shape (input.ts), the handler's result written along the output shape inside AWS's envelope
 * (`<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>`), errors as `<ErrorResponse>` with the status
 * from the service's catalogue. Handlers only see typed input and return plain objects: the model does the rest.
 */
import type { Cloud } from '../../cloud/index.js';
import { CloudError, specOf, type ErrorSpec } from '../../cloud/errors.js';
import { requestId as newRequestId } from '../../cloud/ids.js';
import { log } from '../../log.js';
import { deniedMessage, type AccessRequest } from '../../cloud/iam/authorize.js';
import type { Principal } from '../auth/sigv4.js';
import { originContext, unknownOrigin, type Origin } from '../auth/origin.js';
import { inputNode, outputNode } from '../model/compile.js';
import type { Operation, ServiceModel } from '../model/index.js';
import { strictShapes } from '../model/strict.js';
import { ShapeMismatch, writeShape, xmlSafe } from '../model/xml.js';
import { xmlDocument } from '../model/xml-text.js';
import { formParams, readInput } from './input.js';
import type { CallFacts } from '../calls.js';

export interface QueryCtx {
  cloud: Cloud;
  principal: Principal;
  /** The operation's input, read along its shape: members by the model's names. */
  input: Record<string, unknown>;
  requestId: string;
  /** The client's address, as the server saw it (aws:SourceIp). */
  sourceIp?: string;
}

/**
 * What an action asks of IAM, from its input: undefined when it asks nothing (STS GetCallerIdentity, as on AWS); a list
 * when it asks more than one thing (AddRoleToInstanceProfile: the profile, and passing the role), each to be allowed.
 */
export type QueryAccess = (action: string, input: Record<string, unknown>, principal: Principal, cloud: Cloud) => Promise<AccessRequest | readonly AccessRequest[] | undefined> | AccessRequest | readonly AccessRequest[] | undefined;

export type QueryHandler = (ctx: QueryCtx) => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface QueryService {
  model: ServiceModel;
  /** The XML namespace of its answers (the model's xmlNamespace). */
  ns: string;
  /** Its actions: a Map, so no Action (`__proto__`) reaches anything but an action. */
  actions: ReadonlyMap<string, QueryHandler>;
  errors: Readonly<Record<string, ErrorSpec>>;
  /**
   * IAM's question for each action, asked right after the input is read: a refusal is AccessDenied in AWS's words.
   * Absent: every action is refused to anyone but root (closed by default).
   */
  access?: QueryAccess;
  /** Whether an action may change what someone is allowed (its success drops the documents IAM keeps in memory). */
  changes?: (action: string) => boolean;
}

const XML = { 'content-type': 'text/xml' };

/** The service's error XML; the status from its catalogue (a code it lacks is a 400). */
export function queryError(svc: Pick<QueryService, 'ns' | 'errors'>, code: string, message: string, status?: number, requestId = newRequestId()): Response {
  const s = status ?? specOf(svc.errors, code)?.status ?? 400;
  const xml = xmlDocument('ErrorResponse', {
    $: { xmlns: svc.ns }, Error: { Type: s >= 500 ? 'Receiver' : 'Sender', Code: xmlSafe(code), Message: xmlSafe(message) }, RequestId: requestId,
  });
  return new Response(xml, { status: s, headers: { ...XML, 'x-amzn-requestid': requestId } });
}

function successXml(svc: QueryService, action: string, op: Operation, result: Record<string, unknown>, requestId: string): string {
  const content = writeShape(outputNode(svc.model, op), result, action, strictShapes()) as Record<string, unknown> | undefined;
  const wrapper = op.output?.resultWrapper;
  return xmlDocument(`${action}Response`, {
    $: { xmlns: svc.ns },
    ...(wrapper ? { [wrapper]: content ?? '' } : {}),
    ResponseMetadata: { RequestId: requestId },
  });
}

/** Refuse the action (AccessDenied) unless the signer's policies allow what it asks; root may do anything. */
async function authorize(svc: QueryService, cloud: Cloud, principal: Principal, origin: Origin, action: string, input: Record<string, unknown>): Promise<void> {
  if (principal.identity.kind === 'root') return;
  const asked = svc.access ? await svc.access(action, input, principal, cloud) : { action: `${svc.model.uid.split('-')[0]}:${action}`, resources: [{ arn: '*' }] };
  if (!asked) return;
  for (const req of Array.isArray(asked) ? asked as readonly AccessRequest[] : [asked as AccessRequest]) {
    const context = originContext(principal, origin);
    if (req.context) for (const [k, v] of req.context) context.set(k, v);
    const d = await cloud.iam.authorize(principal.identity, { ...req, context });
    if (!d.allowed) throw new CloudError('AccessDenied', deniedMessage(d));
  }
}

/**
 * Answer one request: `body` is the form body (or a presigned request's query string). `facts` gets its action (one
 * the service has) and the error code answered, for the access log.
 */
export async function handleQuery(svc: QueryService, cloud: Cloud, principal: Principal, body: string, origin: Origin = unknownOrigin, facts: CallFacts = {}): Promise<Response> {
  const requestId = newRequestId();
  let action = '';
  const fail = (code: string, message: string, status?: number) => {
    facts.errorCode = code;
    return queryError(svc, code, message, status, requestId);
  };
  try {
    const params = formParams(body);
    action = params.get('Action') ?? '';
    const handler = svc.actions.get(action);
    const op = svc.model.operations.get(action);
    if (!handler || !op) return fail('InvalidAction', `Could not find operation ${action.slice(0, 128)} for version ${svc.model.apiVersion}`, 400);
    facts.action = action;
    const input = readInput(inputNode(svc.model, op), params);
    await authorize(svc, cloud, principal, origin, action, input);
    let result;
    try {
      result = await handler({ cloud, principal, input, requestId, sourceIp: origin.sourceIp });
    } finally {
      // A write that failed half-way changed nothing (transactions), but dropping the cache is never wrong.
      if (svc.changes?.(action)) await cloud.iam.changed(principal.accountId);
    }
    return new Response(successXml(svc, action, op, result, requestId), { status: 200, headers: { ...XML, 'x-amzn-requestid': requestId } });
  } catch (err) {
    if (err instanceof ShapeMismatch) {
      log.error(`${svc.model.uid} ${action}: the handler's result does not fit the output shape: ${err.message}`);
    } else if (err instanceof CloudError) {
      log.debug(`${svc.model.uid} ${action || '-'}: ${err.code}: ${err.message}`);
      return fail(err.code, err.message);
    } else {
      log.error(`${svc.model.uid} ${action || '-'} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
    const internal = specOf(svc.errors, 'ServiceFailure') ? 'ServiceFailure' : 'InternalError';
    return fail(internal, 'An internal error has occurred', 500);
  }
}
