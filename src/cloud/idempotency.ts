/**
 * EC2's ClientToken (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): a request made again
 * with the token of one before answers as that one did and makes nothing twice; the same token with other parameters
 * is IdempotentParameterMismatch. Tokens are per account and action, kept TOKEN_TTL_MS (swept as new ones are written).
 *
 * One table (client_tokens) for every action, written in the transaction that makes (or changes) the resource: two
 * servers on one database agree, as the transaction is BEGIN IMMEDIATE (src/db/index.ts) and the row's key unique.
 * The request is kept as a hash of its parameters (what the edge read, the token and DryRun aside), the answer as the
 * id of what it made: the action builds its answer again from that (the resource as it is now, as EC2 does).
 */
import { createHash } from 'node:crypto';
import { and, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { clientTokens } from '../db/tables.js';
import { CloudError, invalidParam } from './errors.js';
import { write } from '../db/store.js';

/** How long a token is remembered: EC2 keeps them "at least 24 hours"; a day and a bit more here. */
export const TOKEN_TTL_MS = 25 * 3600_000;
/** EC2's limit on most actions ("Maximum 64 ASCII characters"); launch templates take 128. */
export const TOKEN_MAX = 64;

/** One idempotent request: whose, which action, its token (none: not idempotent) and its parameters. */
export interface TokenRequest {
  accountId: string;
  operation: string;
  token: string | undefined;
  /** The parameters that make it this request (names and values as given); hashed, never stored. */
  params: readonly (readonly [string, string])[] | Record<string, unknown>;
}

/** A token EC2 would take: at most `max` printable ASCII characters (an empty one is no token). */
export function checkClientToken(token: string | undefined, max = TOKEN_MAX): void {
  if (token === undefined) return;
  if (token.length > max || !/^[\x20-\x7e]*$/.test(token)) {
    throw invalidParam(`Value for parameter ClientToken is invalid: a client token is at most ${max} ASCII characters.`);
  }
}

export const idempotentMismatch = (token: string) => new CloudError('IdempotentParameterMismatch',
  `Arguments on this idempotent request are inconsistent with arguments used in previous request(s) with client token '${token}'.`);

/** sha256 of the parameters in one order (by name), so the order a client sends them in does not matter. */
export function requestHash(params: TokenRequest['params']): string {
  const pairs = Array.isArray(params)
    ? [...params as readonly (readonly [string, string])[]].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    : params;
  return createHash('sha256').update(JSON.stringify(pairs)).digest('hex');
}

export class ClientTokens {
  constructor(private readonly db: Db, private readonly ttlMs = TOKEN_TTL_MS) {}

  /**
   * What the request made before under its token (the resource id), or undefined: no token, or none remembered.
   * IdempotentParameterMismatch when the token was used with other parameters.
   */
  async prior(req: TokenRequest): Promise<string | undefined> {
    if (!req.token) return undefined;
    const row = (await this.db.select().from(clientTokens)
      .where(and(eq(clientTokens.accountId, req.accountId), eq(clientTokens.operation, req.operation), eq(clientTokens.token, req.token))).limit(1))[0];
    if (!row || row.createdAt < Date.now() - this.ttlMs) return undefined;
    if (row.requestHash !== requestHash(req.params)) throw idempotentMismatch(req.token);
    return row.resourceId;
  }

  /** Remember the request's token for `resourceId`, in the caller's transaction (a forgotten, expired one replaced). */
  async record(req: TokenRequest, resourceId: string): Promise<void> {
    if (!req.token) return;
    // Tokens only pile up as they are written: the expired ones go here (the created_at index finds them).
    await this.sweep();
    const row = { accountId: req.accountId, operation: req.operation, token: req.token, requestHash: requestHash(req.params), resourceId, createdAt: Date.now() };
    // Only an expired row is replaced: a live one means the caller skipped prior() in its transaction (a bug, not a retry).
    const written = await this.db.insert(clientTokens).values(row).onConflictDoUpdate({
      target: [clientTokens.accountId, clientTokens.operation, clientTokens.token], set: row,
      setWhere: lt(clientTokens.createdAt, row.createdAt - this.ttlMs),
    }).returning({ token: clientTokens.token });
    if (written.length !== 1) throw new Error(`client token of ${req.operation} recorded twice`);
  }

  /**
   * In one transaction: the prior request's answer (`replay` of its resource id), or `make`'s (its resource id
   * remembered under the token). A request without a token just makes.
   */
  async once<T>(req: TokenRequest, replay: (resourceId: string) => T | Promise<T>, make: () => Promise<{ id: string; value: T }> | { id: string; value: T }): Promise<T> {
    return await write(this.db, async () => {
      const prior = await this.prior(req);
      if (prior !== undefined) return await replay(prior);
      const { id, value } = await make();
      await this.record(req, id);
      return value;
    });
  }

  /** Forget tokens past their time; how many. */
  async sweep(now = Date.now()): Promise<number> {
    return (await this.db.delete(clientTokens).where(lt(clientTokens.createdAt, now - this.ttlMs)).returning({ token: clientTokens.token })).length;
  }
}
