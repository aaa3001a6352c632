/** Lambda's resource-policy operations (AddPermission, RemovePermission, GetPolicy) over src/cloud/functions/policy.ts. */
import { members, str } from './members.js';
import type { Operations } from './routes.js';
import { json } from './shapes.js';

const qualifier = (q: URLSearchParams) => q.get('Qualifier') ?? undefined;

export const policyOps: Operations = {
  AddPermission: ({ cloud, accountId, p, q, body }) => {
    const m = members(body);
    const statement = cloud.functions.addPermission(accountId, p('FunctionName'), qualifier(q), {
      statementId: str(m, 'StatementId') ?? '', action: str(m, 'Action') ?? '', principal: str(m, 'Principal') ?? '', sourceArn: str(m, 'SourceArn'),
      sourceAccount: str(m, 'SourceAccount'), functionUrlAuthType: str(m, 'FunctionUrlAuthType'), revisionId: str(m, 'RevisionId'),
    });
    // Lambda answers the statement as a JSON string.
    return json({ Statement: JSON.stringify(statement) }, 201);
  },
  RemovePermission: ({ cloud, accountId, p, q }) => {
    cloud.functions.policies.remove(accountId, p('FunctionName'), qualifier(q), p('StatementId'), q.get('RevisionId') ?? undefined);
    return new Response(null, { status: 204 });
  },
  GetPolicy: ({ cloud, accountId, p, q }) => {
    const { policy, revision } = cloud.functions.policies.get(accountId, p('FunctionName'), qualifier(q));
    return json({ Policy: policy, RevisionId: revision });
  },
};
