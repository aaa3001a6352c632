import { CloudError } from '../../../cloud/errors.js';
import { dryRunCheck, type Actions } from '../context.js';

export const tagActions: Actions = {
  CreateTags: {
    dryRun: 'self',
    handler: async (ctx) => {
      const ids = ctx.q.list('ResourceId');
      const tags = ctx.q.structs('Tag').map((t) => ({ key: t.str('Key') ?? '', value: t.str('Value') ?? '' }));
      if (!tags.length) throw new CloudError('MissingParameter', 'The request must contain the parameter Tag');
      await ctx.cloud.resources.checkExist(ctx.accountId, ids);
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
      await ctx.cloud.resources.checkExist(ctx.accountId, ids);
      dryRunCheck(ctx);
      await ctx.cloud.retag(ctx.accountId, ids, { remove: tags });
      return { return: true };
    },
  },

  DescribeTags: {
    handler: async (ctx) => {
      const page = await ctx.cloud.tags.describe(ctx.accountId, ctx.q.filters(), { max: ctx.q.int('MaxResults'), token: ctx.q.str('NextToken') || undefined });
      return {
        tagSet: page.items.map((r) => ({ resourceId: r.resourceId, resourceType: r.resourceType, key: r.key, value: r.value })),
        nextToken: page.nextToken,
      };
    },
  },
};
