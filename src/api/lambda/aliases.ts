/** Lambda's alias operations (Create/Get/Update/Delete/ListAliases) over the domain's aliases (src/cloud/functions/aliases.ts). */
import { CloudError } from '../../cloud/errors.js';
import type { AliasInput, AliasView } from '../../cloud/functions/index.js';
import { pageOf } from '../../cloud/paging.js';
import { parseBody, type Body } from './body.js';
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
function routing(b: Body): AliasInput['routing'] {
  const rc = b.RoutingConfig as { AdditionalVersionWeights?: Map<string, number> } | undefined;
  if (!rc) return undefined;
  const w = rc.AdditionalVersionWeights;
  if (!w || w.size === 0) return null;
  if (w.size > 1) {
    throw new CloudError('ValidationException', "1 validation error detected: Value at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Member must have length less than or equal to 1");
  }
  const [version, weight] = [...w][0]!;
  return { version, weight };
}

function input(b: Body): AliasInput {
  return { version: b.FunctionVersion as string | undefined, description: b.Description, routing: routing(b) };
}

export const aliasOps: Operations = {
  CreateAlias: async ({ cloud, accountId, p, body }) => {
    const b = parseBody('CreateAlias', body);
    return json(aliasShape(await cloud.functions.createAlias(accountId, p('FunctionName'), (b.Name as string | undefined) ?? '', input(b))), 201);
  },
  GetAlias: async ({ cloud, accountId, p }) => json(aliasShape(await cloud.functions.aliases.get(accountId, p('FunctionName'), p('Name')))),
  UpdateAlias: async ({ cloud, accountId, p, body }) => {
    const b = parseBody('UpdateAlias', body);
    return json(aliasShape(await cloud.functions.updateAlias(accountId, p('FunctionName'), p('Name'), input(b), b.RevisionId as string | undefined)));
  },
  DeleteAlias: async ({ cloud, accountId, p }) => {
    await cloud.functions.deleteAlias(accountId, p('FunctionName'), p('Name'));
    return new Response(null, { status: 204 });
  },
  ListAliases: async ({ cloud, accountId, p, q }) => {
    const page = pageOf(await cloud.functions.aliases.list(accountId, p('FunctionName'), q.get('FunctionVersion') ?? undefined), pageRequest(q), 'InvalidParameterValueException');
    return json({ Aliases: page.items.map(aliasShape), NextMarker: page.nextToken });
  },
};
