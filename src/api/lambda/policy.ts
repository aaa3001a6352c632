/** Lambda's resource-policy operations (AddPermission, RemovePermission, GetPolicy) over src/cloud/functions/policy.ts. */
import { parseBody } from './body.js';
import type { Operations } from './routes.js';
import { json } from './shapes.js';

const qualifier = (q: URLSearchParams) => q.get('Qualifier') ?? undefined;

export const policyOps: Operations = {
  AddPermission: async ({ cloud, accountId, p, q, body }) => {
    const b = parseBody('AddPermission', body);
    // The model typed every member: these are strings or absent.
    const str = (k: string) => b[k] as string | undefined;
    const statement = await cloud.functions.addPermission(accountId, p('FunctionName'), qualifier(q), {
      statementId: str('StatementId') ?? '', action: str('Action') ?? '', principal: str('Principal') ?? '', sourceArn: str('SourceArn'),
      sourceAccount: str('SourceAccount'), functionUrlAuthType: str('FunctionUrlAuthType'), principalOrgId: str('PrincipalOrgID'),
      revisionId: str('RevisionId'),
    });
    // Lambda answers the statement as a JSON string.
    return json({ Statement: JSON.stringify(statement) }, 201);
  },
  RemovePermission: async ({ cloud, accountId, p, q }) => {
    await cloud.functions.policies.remove(accountId, p('FunctionName'), qualifier(q), p('StatementId'), q.get('RevisionId') ?? undefined);
    return new Response(null, { status: 204 });
  },
  GetPolicy: async ({ cloud, accountId, p, q }) => {
    const { policy, revision } = await cloud.functions.policies.get(accountId, p('FunctionName'), qualifier(q));
    return json({ Policy: policy, RevisionId: revision });
  },
};
