/** The EC2 endpoint: Query protocol in, XML out. */
import type { Cloud } from '../../cloud/index.js';
import { CloudError, passDryRun } from '../../cloud/errors.js';
import { requestId as newRequestId } from '../../cloud/ids.js';
import { withFilterBudget } from '../../cloud/filter-budget.js';
import { log } from '../../log.js';
import type { Principal } from '../auth/sigv4.js';
import { unknownOrigin, type Origin } from '../auth/origin.js';
import { authorizeEc2 } from './access.js';
import type { Actions, Ctx } from './context.js';
import { statusFor } from './errors.js';
import { Query } from './query.js';
import { errorXml, ShapeMismatch, successXml } from './xml.js';
import { checkInput } from './input.js';
import { validateTags } from '../../cloud/tags.js';
import { serviceModel, type Operation } from '../model/index.js';
import { inputNode, outputNode } from '../model/compile.js';
import { instanceActions } from './actions/instances.js';
import { imageActions } from './actions/images.js';
import { keyPairActions } from './actions/keypairs.js';
import { tagActions } from './actions/tags.js';
import { vpcActions } from './actions/vpcs.js';
import { securityGroupActions } from './actions/security-groups.js';
import { routingActions } from './actions/routing.js';
import { regionActions } from './actions/regions.js';
import { volumeActions } from './actions/volumes.js';
import { addressActions } from './actions/addresses.js';
import { natGatewayActions } from './actions/nat-gateways.js';
import { launchTemplateActions } from './actions/launch-templates.js';
import { unofferedActions } from './actions/unoffered.js';
import { iamProfileActions } from './actions/iam-profiles.js';
import type { CallFacts } from '../calls.js';

/** Every action by name: a Map, so that no Action (`__proto__`, `constructor`) can reach anything but an action. */
export const actions = new Map(Object.entries({
  ...instanceActions, ...imageActions, ...keyPairActions, ...tagActions, ...vpcActions, ...securityGroupActions, ...routingActions, ...regionActions, ...volumeActions, ...launchTemplateActions, ...addressActions, ...natGatewayActions, ...iamProfileActions, ...unofferedActions,
} satisfies Actions));

/** The actions answered as AWS answers where a feature is not offered (the coverage table tells them apart). */
export const unofferedNames: ReadonlySet<string> = new Set(Object.keys(unofferedActions));

const model = serviceModel('ec2-2016-11-15');

/** The model's operation for an action pcloud implements (every one is in the model: test/unit/model-coverage.test.ts). */
function operation(action: string): Operation {
  const op = model.operations.get(action);
  if (!op) throw new Error(`EC2 action ${action} is not in the EC2 model`);
  return op;
}

const XML = { 'content-type': 'text/xml;charset=UTF-8' };

export function ec2Error(code: string, message: string, requestId = newRequestId()): Response {
  return new Response(errorXml(code, message, requestId), { status: statusFor(code), headers: { ...XML, 'x-amzn-requestid': requestId } });
}

function checkVersion(v: string | undefined): void {
  if (v === undefined || v === '') throw new CloudError('MissingParameter', 'The request must contain the parameter Version');
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  const t = m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!) : NaN;
  if (!m || Number.isNaN(t) || t < Date.UTC(2006, 5, 26) || t > Date.now()) {
    throw new CloudError('NoSuchVersion', `The requested version (${v}) of service AmazonEC2 does not exist`);
  }
}

/** Answer one request; `facts` gets its action (one EC2 has) and the error code answered, for the access log. */
export async function handleEc2(cloud: Cloud, principal: Principal, body: string, urlQuery: URLSearchParams, origin: Origin = unknownOrigin, facts: CallFacts = {}): Promise<Response> {
  const requestId = newRequestId();
  let action = '';
  const fail = (code: string, message: string) => {
    facts.errorCode = code;
    return ec2Error(code, message, requestId);
  };
  try {
    const q = Query.parse(body).withDefaults(urlQuery);
    action = q.str('Action') ?? '';
    if (!action) throw new CloudError('MissingAction', 'The request must contain the parameter Action');
    const def = actions.get(action);
    if (!def) throw new CloudError('InvalidAction', `The action ${action} is not valid for this web service.`);
    facts.action = action;
    checkVersion(q.str('Version'));
    const op = operation(action);
    checkInput(inputNode(model, op), q.entries());
    // IAM's decision comes before anything else is looked at: a DryRun of a refused request is UnauthorizedOperation.
    await authorizeEc2(cloud, principal, origin, action, q);
    const ctx: Ctx = { cloud, accountId: principal.accountId, identity: principal.identity, region: principal.region, q, requestId, dryRun: q.bool('DryRun') ?? false };
    // Tags given at creation are checked before anything is made: a bad one leaves no resource behind.
    for (const spec of q.tagSpecifications()) validateTags(spec.tags);
    if (def.dryRun !== 'self') passDryRun(ctx.dryRun);
    const result = await withFilterBudget(async () => await def.handler(ctx));
    log.debug(`ec2 ${action}`);
    return new Response(successXml(action, requestId, result, outputNode(model, op)), { status: 200, headers: { ...XML, 'x-amzn-requestid': requestId } });
  } catch (err) {
    if (err instanceof ShapeMismatch) {
      log.error(`ec2 ${action}: the handler's result does not fit the output shape: ${err.message}`);
      return fail('InternalError', 'An internal error has occurred');
    }
    if (err instanceof CloudError) {
      log.debug(`ec2 ${action || '-'}: ${err.code}: ${err.message}`);
      return fail(err.code, err.message);
    }
    log.error(`ec2 ${action || '-'} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    return fail('InternalError', 'An internal error has occurred');
  }
}
