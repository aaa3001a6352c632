/** NAT gateways: CreateNatGateway, DescribeNatGateways, DeleteNatGateway. */
import { inOrder } from '../../../cloud/in-order.js';
import { CloudError } from '../../../cloud/errors.js';
import { filterRows } from '../../../cloud/filters.js';
import type { NatGateway } from '../../../cloud/nat-gateways.js';
import { natGatewayFields } from '../../../cloud/network-filters.js';
import { pageOf } from '../../../cloud/paging.js';
import type { Tag } from '../../../cloud/tags.js';
import { dryRunCheck, tagOnCreate, type Actions, type Ctx } from '../context.js';
import { tagSet } from '../shapes.js';
import { syncEdges } from './addresses.js';
import { once, tokenRequest } from '../client-token.js';

async function natShape(ctx: Ctx, n: NatGateway, tags: Tag[] | undefined) {
  const eip = n.allocationId ? (await ctx.cloud.network.addresses.list(ctx.accountId)).find((a) => a.allocationId === n.allocationId) : undefined;
  return {
    createTime: new Date(n.createdAt), deleteTime: n.deletedAt ? new Date(n.deletedAt) : undefined,
    natGatewayAddressSet: [{
      allocationId: n.allocationId ?? undefined, networkInterfaceId: n.networkInterfaceId, privateIp: n.privateIp,
      publicIp: eip?.publicIp, associationId: n.allocationId ? `eipassoc-${n.id.slice(4)}` : undefined, isPrimary: true,
      status: n.state === 'deleted' ? 'succeeded' : n.state === 'deleting' ? 'disassociating' : n.state === 'pending' ? 'associating' : 'succeeded',
    }],
    natGatewayId: n.id, state: n.state, subnetId: n.subnetId, vpcId: n.vpcId, tagSet: tagSet(tags), connectivityType: n.connectivityType,
  };
}

export const natGatewayActions: Actions = {
  CreateNatGateway: {
    dryRun: 'self',
    handler: async (ctx) => {
      const subnetId = ctx.q.req('SubnetId');
      if (ctx.q.list('SecondaryAllocationId').length || ctx.q.list('SecondaryPrivateIpAddress').length || ctx.q.int('SecondaryPrivateIpAddressCount')) {
        throw new CloudError('InvalidParameterValue', 'This cloud gives a NAT gateway one address: omit the secondary addresses');
      }
      if (ctx.q.str('PrivateIpAddress') !== undefined) throw new CloudError('InvalidParameterValue', 'This cloud picks the NAT gateway\'s private address: omit PrivateIpAddress');
      const req = tokenRequest(ctx, 'CreateNatGateway');
      dryRunCheck(ctx);
      const nats = ctx.cloud.network.natGateways;
      const n = await once(ctx, req, async () => {
              const made = await nats.create(ctx.accountId, subnetId, { allocationId: ctx.q.str('AllocationId'), connectivityType: ctx.q.str('ConnectivityType') });
              await tagOnCreate(ctx, made.id);
        return { id: made.id, value: made };
            }, async (id) => await nats.get(ctx.accountId, id));
      const shape = await natShape(ctx, n, (await ctx.cloud.tags.of([n.id])).get(n.id));
      await syncEdges(ctx, [n.vpcId]);
      // Without VPC networking on the host there is no router to wait for (else the edge sync settled it).
      if (!ctx.cloud.plane.enabled) await ctx.cloud.network.natGateways.settle(n.id);
      return { clientToken: req.token, natGateway: shape };
    },
  },

  DeleteNatGateway: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('NatGatewayId');
      dryRunCheck(ctx);
      const n = await ctx.cloud.network.natGateways.delete(ctx.accountId, id);
      await syncEdges(ctx, [n.vpcId]);
      if (!ctx.cloud.plane.enabled) await ctx.cloud.network.natGateways.settle(n.id);
      return { natGatewayId: n.id };
    },
  },

  DescribeNatGateways: {
    dryRun: 'self',
    handler: async (ctx) => {
      const all = await ctx.cloud.network.natGateways.list(ctx.accountId);
      const ids = ctx.q.list('NatGatewayId');
      for (const id of ids) if (!all.some((n) => n.id === id)) throw new CloudError('NatGatewayNotFound', `The Nat Gateway ${id} was not found`);
      dryRunCheck(ctx);
      const named = ids.length ? all.filter((n) => ids.includes(n.id)) : all;
      const tags = await ctx.cloud.tags.of(named.map((n) => n.id));
      const rows = filterRows(named, ctx.q.filters(), natGatewayFields, tags);
      const page = pageOf(rows, { max: ctx.q.int('MaxResults'), token: ctx.q.str('NextToken') });
      return { natGatewaySet: await inOrder(page.items, (n) => natShape(ctx, n, tags.get(n.id))), nextToken: page.nextToken };
    },
  },
};
