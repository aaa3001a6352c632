/** Lambda's alias operations (Create/Get/Update/Delete/ListAliases) over the domain's aliases (src/cloud/functions/aliases.ts). */
import { CloudError } from '../../cloud/errors.js';
import type { AliasInput, AliasView } from '../../cloud/functions/index.js';
import { pageOf } from '../../cloud/paging.js';
import { members, str, struct, type Members } from './members.js';
import { pageRequest } from './params.js';
import type { Operations } from './routes.js';
import { json } from './shapes.js';

/** AliasConfiguration, as Lambda answers it (RoutingConfig only where the alias has one). */
export function aliasShape(a: AliasView) {
  return {
    AliasArn: a.arn, Name: a.name, FunctionVersion: a.version, Description: a.description,
    RoutingConfig: a.routing ? { AdditionalVersionWeights: Object.fromEntries([[a.routing.version, a.routing.weight]]) } : undefined, RevisionId: a.revision,
  };
}

/** RoutingConfig.AdditionalVersionWeights: at most one version (Lambda's limit) and its weight; `{}` is none. */
function routing(m: Members): AliasInput['routing'] {
  const rc = struct(m, 'RoutingConfig');
  if (!rc) return undefined;
  const w = struct(rc, 'AdditionalVersionWeights');
  if (!w || w.size === 0) return null;
  if (w.size > 1) {
    throw new CloudError('ValidationException', "1 validation error detected: Value at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Member must have length less than or equal to 1");
  }
  const [version, weight] = [...w][0]!;
  if (typeof weight !== 'number') throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: RoutingConfig.AdditionalVersionWeights values must be numbers');
  return { version, weight };
}

function input(m: Members): AliasInput {
  return { version: str(m, 'FunctionVersion'), description: str(m, 'Description'), routing: routing(m) };
}

export const aliasOps: Operations = {
  CreateAlias: ({ cloud, accountId, p, body }) => {
    const m = members(body);
    return json(aliasShape(cloud.functions.createAlias(accountId, p('FunctionName'), str(m, 'Name') ?? '', input(m))), 201);
  },
  GetAlias: ({ cloud, accountId, p }) => json(aliasShape(cloud.functions.aliases.get(accountId, p('FunctionName'), p('Name')))),
  UpdateAlias: async ({ cloud, accountId, p, body }) => {
    const m = members(body);
    return json(aliasShape(await cloud.functions.updateAlias(accountId, p('FunctionName'), p('Name'), input(m), str(m, 'RevisionId'))));
  },
  DeleteAlias: async ({ cloud, accountId, p }) => {
    await cloud.functions.deleteAlias(accountId, p('FunctionName'), p('Name'));
    return new Response(null, { status: 204 });
  },
  ListAliases: ({ cloud, accountId, p, q }) => {
    const page = pageOf(cloud.functions.aliases.list(accountId, p('FunctionName'), q.get('FunctionVersion') ?? undefined), pageRequest(q), 'InvalidParameterValueException');
    return json({ Aliases: page.items.map(aliasShape), NextMarker: page.nextToken });
  },
};
