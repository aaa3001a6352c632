/**
 * The edge of EC2's ClientToken (src/cloud/idempotency.ts): the token checked as EC2 does, and the request's
 * parameters as it gave them (its action, version, token, DryRun and any presigning aside), for the hash.
 */
import { checkClientToken, ClientTokens, TOKEN_MAX, type TokenRequest } from '../../cloud/idempotency.js';
import type { Ctx } from './context.js';

const NOT_THE_REQUEST = new Set(['Action', 'Version', 'ClientToken', 'DryRun']);

/** The request `ctx` as an idempotent `operation`: its token (checked: at most `max` ASCII characters). */
export function tokenRequest(ctx: Ctx, operation: string, max = TOKEN_MAX): TokenRequest {
  const token = ctx.q.str('ClientToken') || undefined;
  checkClientToken(token, max);
  const params = ctx.q.entries().filter(([k]) => !NOT_THE_REQUEST.has(k) && !k.startsWith('X-Amz-'));
  return { accountId: ctx.accountId, operation, token, params };
}

/**
 * A create (or change) made at most once per token: `make` runs in the transaction that remembers the
 * token, and returns the id of what it made with the answer; a request made again gets `replay` of that id.
 */
export async function once<T>(ctx: Ctx, req: TokenRequest, make: () => Promise<{ id: string; value: T }>, replay: (id: string) => T | Promise<T>): Promise<T> {
  return await new ClientTokens(ctx.cloud.db).once(req, replay, make);
}
