/**
 * EC2's instance profile associations: AssociateIamInstanceProfile, DisassociateIamInstanceProfile,
 * ReplaceIamInstanceProfileAssociation, DescribeIamInstanceProfileAssociations. The domain is cloud/iam-associations.ts;
 * RunInstances' IamInstanceProfile is read in instances.ts.
 */
import type { Association, ProfileRef } from '../../../cloud/iam-associations.js';
import { invalidParam } from '../../../cloud/errors.js';
import type { Actions, Ctx } from '../context.js';
import type { Query } from '../query.js';

/** `IamInstanceProfile.Arn` / `.Name` of a request (RunInstances, Associate, Replace), if it gives either. */
export function profileRef(q: Query): ProfileRef | undefined {
  const arn = q.str('IamInstanceProfile.Arn') || undefined;
  const name = q.str('IamInstanceProfile.Name') || undefined;
  return arn || name ? { ...(arn ? { arn } : {}), ...(name ? { name } : {}) } : undefined;
}

/** The profile the request names, checked (it exists, holds a role the caller may pass), before anything changes. */
async function namedProfile(ctx: Ctx) {
  return await ctx.cloud.iamAssociations.resolve(ctx.accountId, profileRef(ctx.q) ?? {});
}

/** An association as EC2's IamInstanceProfileAssociation. */
export function associationShape(a: Association) {
  return {
    associationId: a.id,
    instanceId: a.instanceId,
    iamInstanceProfile: { arn: a.profile.arn, id: a.profile.id },
    state: a.state,
    timestamp: new Date(a.createdAt),
  };
}

/** DescribeIamInstanceProfileAssociations' MaxResults: 5 to 1000, as EC2 takes it. */
function maxResults(q: Query): number | undefined {
  const n = q.int('MaxResults');
  if (n !== undefined && (n < 5 || n > 1000)) throw invalidParam(`Value (${n}) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
  return n;
}

export const iamProfileActions: Actions = {
  AssociateIamInstanceProfile: {
    handler: async (ctx) => {
      const instanceId = ctx.q.req('InstanceId');
      await ctx.cloud.instances.get(ctx.accountId, instanceId);
      const profile = await namedProfile(ctx);
      return { iamInstanceProfileAssociation: associationShape(await ctx.cloud.iamAssociations.associate(ctx.accountId, instanceId, profile)) };
    },
  },

  DisassociateIamInstanceProfile: {
    handler: async (ctx) => {
      const id = ctx.q.req('AssociationId');
      return { iamInstanceProfileAssociation: associationShape(await ctx.cloud.iamAssociations.disassociate(ctx.accountId, id)) };
    },
  },

  ReplaceIamInstanceProfileAssociation: {
    handler: async (ctx) => {
      const id = ctx.q.req('AssociationId');
      await ctx.cloud.iamAssociations.get(ctx.accountId, id);
      const profile = await namedProfile(ctx);
      return { iamInstanceProfileAssociation: associationShape(await ctx.cloud.iamAssociations.replace(ctx.accountId, id, profile)) };
    },
  },

  DescribeIamInstanceProfileAssociations: {
    handler: async (ctx) => {
      const page = await ctx.cloud.iamAssociations.describe(ctx.accountId, {
        ids: ctx.q.list('AssociationId'), filters: ctx.q.filters(), max: maxResults(ctx.q), token: ctx.q.str('NextToken') || undefined,
      });
      return { iamInstanceProfileAssociationSet: page.items.map(associationShape), nextToken: page.nextToken };
    },
  },
};
