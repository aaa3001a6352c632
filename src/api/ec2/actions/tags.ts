import { CloudError, invalidParam } from '../../../cloud/errors.js';
import { resourceType } from '../../../cloud/tags.js';
import { dryRunCheck, type Actions, type Ctx } from '../context.js';

/** Tags may be put only on resources that exist in the caller's account. */
function checkResources(ctx: Ctx, ids: string[]): void {
  if (!ids.length) throw new CloudError('MissingParameter', 'The request must contain the parameter ResourceId');
  const instanceIds = ids.filter((id) => id.startsWith('i-'));
  if (instanceIds.length) ctx.cloud.instances.getMany(ctx.accountId, instanceIds);
  for (const id of ids) {
    const type = resourceType(id);
    if (!type) throw new CloudError('InvalidID', `The ID '${id}' is not valid`);
    if (type === 'image') ctx.cloud.images.get(id);
    if (type === 'key-pair') ctx.cloud.keyPairs.list(ctx.accountId, [], [id]);
    if (type === 'vpc' && !ctx.cloud.network.vpcs(ctx.accountId).some((v) => v.id === id)) {
      throw new CloudError('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
    }
    if (type === 'subnet' && !ctx.cloud.network.subnets(ctx.accountId).some((v) => v.id === id)) {
      throw new CloudError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
    }
    if (type === 'security-group' && !ctx.cloud.network.securityGroups(ctx.accountId).some((v) => v.id === id)) {
      throw new CloudError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    }
  }
}

export const tagActions: Actions = {
  CreateTags: {
    dryRun: 'self',
    handler: async (ctx) => {
      const ids = ctx.q.list('ResourceId');
      const tags = ctx.q.structs('Tag').map((t) => ({ key: t.str('Key') ?? '', value: t.str('Value') ?? '' }));
      if (!tags.length) throw new CloudError('MissingParameter', 'The request must contain the parameter Tag');
      checkResources(ctx, ids);
      dryRunCheck(ctx);
      await ctx.cloud.retag(ctx.accountId, ids, { put: tags });
      return { return: true };
    },
  },

  DeleteTags: {
    dryRun: 'self',
    handler: async (ctx) => {
      const ids = ctx.q.list('ResourceId');
      const tags = ctx.q.structs('Tag').map((t) => ({ key: t.req('Key'), value: t.str('Value') }));
      checkResources(ctx, ids);
      dryRunCheck(ctx);
      await ctx.cloud.retag(ctx.accountId, ids, { remove: tags });
      return { return: true };
    },
  },

  DescribeTags: {
    handler: (ctx) => {
      const max = ctx.q.int('MaxResults');
      if (max !== undefined && (max < 5 || max > 1000)) throw invalidParam('MaxResults must be between 5 and 1000');
      const rows = ctx.cloud.tags.describe(ctx.accountId, ctx.q.filters());
      const token = ctx.q.str('NextToken');
      const offset = token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
      if (!Number.isInteger(offset) || offset < 0) throw new CloudError('InvalidPaginationToken', 'Invalid pagination token');
      const page = max ? rows.slice(offset, offset + max) : rows.slice(offset);
      const next = max && offset + max < rows.length ? Buffer.from(String(offset + max)).toString('base64url') : undefined;
      return {
        tagSet: page.map((r) => ({ resourceId: r.resourceId, resourceType: r.resourceType, key: r.key, value: r.value })),
        nextToken: next,
      };
    },
  },
};
