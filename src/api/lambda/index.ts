/**
 * Lambda's REST-JSON API (`/2015-03-31`, `/2020-06-30`, `/2021-10-31`): the operations' table (routes.ts) over the
 * domain (src/cloud/functions), errors in Lambda's JSON (shapes.ts), and nginx's authorizer (authorize.ts).
 */
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import type { Principal } from '../auth/sigv4.js';
import { log } from '../../log.js';
import { routes } from './routes.js';
import { lambdaError } from './shapes.js';

export { authorizeForNginx } from './authorize.js';
export { lambdaError } from './shapes.js';

/** Domain errors shared with EC2 (tags), in Lambda's words. */
const lambdaCodes = new Map([['InvalidParameterValue', 'InvalidParameterValueException'], ['TagLimitExceeded', 'InvalidParameterValueException']]);

/** A path segment, percent-decoded; bad %-encoding is the caller's error. */
function segment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new CloudError('InvalidParameterValueException', 'The request path is not validly percent-encoded.');
  }
}

export async function handleLambda(cloud: Cloud, principal: Principal, method: string, url: URL, headers: Headers, body: Buffer): Promise<Response> {
  for (const [verb, re, handler] of routes) {
    const m = re.exec(url.pathname);
    if (!m || verb !== method) continue;
    try {
      return await handler({ cloud, accountId: principal.accountId, m: [m[0], ...m.slice(1).map((x) => segment(x ?? ''))], q: url.searchParams, body, headers });
    } catch (err) {
      if (err instanceof CloudError) return lambdaError(lambdaCodes.get(err.code) ?? err.code, err.message);
      log.error(`lambda ${method} ${url.pathname}: ${(err as Error).stack}`);
      return lambdaError('ServiceException', 'An internal error has occurred');
    }
  }
  return lambdaError('UnknownOperationException', `No route for ${method} ${url.pathname}`);
}
