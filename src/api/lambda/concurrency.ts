/** Lambda's reserved-concurrency operations (Put/Get/DeleteFunctionConcurrency) over src/cloud/functions/concurrency.ts. */
import { parseBody } from './body.js';
import type { Operations } from './routes.js';
import { json } from './shapes.js';

export const concurrencyOps: Operations = {
  PutFunctionConcurrency: async ({ cloud, accountId, p, body }) =>
    json({ ReservedConcurrentExecutions: await cloud.functions.putConcurrency(accountId, p('FunctionName'), parseBody('PutFunctionConcurrency', body).ReservedConcurrentExecutions as number | undefined) }),
  // Without a reservation, Lambda answers an empty object.
  GetFunctionConcurrency: async ({ cloud, accountId, p }) =>
    json({ ReservedConcurrentExecutions: await cloud.functions.concurrency.get(accountId, p('FunctionName')) }),
  DeleteFunctionConcurrency: async ({ cloud, accountId, p }) => {
    await cloud.functions.deleteConcurrency(accountId, p('FunctionName'));
    return new Response(null, { status: 204 });
  },
};
