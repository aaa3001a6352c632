import type { Cloud } from '../../cloud/index.js';
import { passDryRun } from '../../cloud/errors.js';
import type { Identity } from '../../cloud/iam/identity.js';
import type { Query } from './query.js';

export interface Ctx {
  cloud: Cloud;
  accountId: string;
  /** Who signed the request (root, a user, a role session). */
  identity: Identity;
  region: string;
  q: Query;
  requestId: string;
  dryRun: boolean;
}

export type Handler = (ctx: Ctx) => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface Action {
  handler: Handler;
  /** 'early': DryRun answers before the handler runs; 'self': the handler validates first, then checks DryRun. */
  dryRun?: 'early' | 'self';
}

export type Actions = Record<string, Action>;

/** Tags given at creation (TagSpecification), put on the new resource. */
export async function tagOnCreate(ctx: Ctx, id: string): Promise<void> {
  for (const spec of ctx.q.tagSpecifications()) if (spec.tags.length) await ctx.cloud.tags.put(ctx.accountId, [id], spec.tags);
}

/** For handlers that validate before honouring DryRun. */
export function dryRunCheck(ctx: Ctx): void {
  passDryRun(ctx.dryRun);
}
