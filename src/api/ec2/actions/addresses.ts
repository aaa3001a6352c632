/** Elastic IPs: AllocateAddress, AssociateAddress, DisassociateAddress, ReleaseAddress, DescribeAddresses. */
import { inOrder } from '../../../cloud/in-order.js';
import type { Address } from '../../../cloud/addresses.js';
import { filterRows } from '../../../cloud/filters.js';
import { CloudError } from '../../../cloud/errors.js';
import { addressFields } from '../../../cloud/network-filters.js';
import type { Tag } from '../../../cloud/tags.js';
import { dryRunCheck, tagOnCreate, type Actions, type Ctx } from '../context.js';
import { tagSet } from '../shapes.js';

/** After a change of what the router NATs: the VPCs' edges follow (a failure is logged by the plane and retried by the next sync). */
export async function syncEdges(ctx: Ctx, vpcIds: (string | undefined)[]): Promise<void> {
  await Promise.all([...new Set(vpcIds)].filter((v): v is string => Boolean(v)).map((v) => ctx.cloud.plane.syncEdge(v).catch(() => undefined)));
}

async function addressShape(ctx: Ctx, a: Address, tags: Tag[] | undefined) {
  const nat = a.natGatewayId ? (await ctx.cloud.network.natGateways.list(ctx.accountId)).find((n) => n.id === a.natGatewayId) : undefined;
  return {
    instanceId: a.instanceId ?? undefined, publicIp: a.publicIp, allocationId: a.allocationId,
    associationId: a.associationId ?? (nat ? `eipassoc-${nat.id.slice(4)}` : undefined), domain: 'vpc',
    networkInterfaceId: a.networkInterfaceId ?? nat?.networkInterfaceId, networkInterfaceOwnerId: a.networkInterfaceId || nat ? a.accountId : undefined,
    privateIpAddress: a.privateIp ?? nat?.privateIp, tagSet: tagSet(tags), publicIpv4Pool: 'amazon', networkBorderGroup: ctx.region,
  };
}

/** The address a call names: AllocationId, or PublicIp. */
function ref(ctx: Ctx) {
  return { allocationId: ctx.q.str('AllocationId'), publicIp: ctx.q.str('PublicIp') };
}

export const addressActions: Actions = {
  AllocateAddress: {
    dryRun: 'self',
    handler: async (ctx) => {
      const domain = ctx.q.str('Domain');
      if (domain !== undefined && domain !== 'vpc' && domain !== 'standard') {
        throw new CloudError('InvalidParameterValue', `Value (${domain}) for parameter domain is invalid. Valid values: vpc, standard`);
      }
      if (ctx.q.str('Address') !== undefined || ctx.q.str('PublicIpv4Pool') !== undefined || ctx.q.str('CustomerOwnedIpv4Pool') !== undefined) {
        throw new CloudError('InvalidParameterValue', 'This cloud allocates addresses from its own pool only: omit Address, PublicIpv4Pool and CustomerOwnedIpv4Pool');
      }
      dryRunCheck(ctx);
      const a = await ctx.cloud.network.addresses.allocate(ctx.accountId);
      await tagOnCreate(ctx, a.allocationId);
      return { publicIp: a.publicIp, allocationId: a.allocationId, publicIpv4Pool: 'amazon', networkBorderGroup: ctx.region, domain: 'vpc' };
    },
  },

  AssociateAddress: {
    dryRun: 'self',
    handler: async (ctx) => {
      const r = ref(ctx);
      const to = {
        instanceId: ctx.q.str('InstanceId'), networkInterfaceId: ctx.q.str('NetworkInterfaceId'), privateIp: ctx.q.str('PrivateIpAddress'),
        allowReassociation: ctx.q.bool('AllowReassociation') ?? false,
      };
      dryRunCheck(ctx);
      const { associationId, vpcIds } = await ctx.cloud.network.addresses.associate(ctx.accountId, r, to);
      await syncEdges(ctx, vpcIds);
      return { associationId };
    },
  },

  DisassociateAddress: {
    dryRun: 'self',
    handler: async (ctx) => {
      const by = { associationId: ctx.q.str('AssociationId'), publicIp: ctx.q.str('PublicIp') };
      if (!by.associationId && !by.publicIp) throw new CloudError('MissingParameter', 'The request must contain the parameter AssociationId');
      dryRunCheck(ctx);
      const vpcId = await ctx.cloud.network.addresses.disassociate(ctx.accountId, by);
      await syncEdges(ctx, [vpcId]);
      return { return: true };
    },
  },

  ReleaseAddress: {
    dryRun: 'self',
    handler: async (ctx) => {
      const r = ref(ctx);
      dryRunCheck(ctx);
      // Its tags go with it, whichever way it was named (PublicIp or AllocationId).
      await ctx.cloud.tags.removeAll([await ctx.cloud.network.addresses.release(ctx.accountId, r)]);
      return { return: true };
    },
  },

  DescribeAddresses: {
    handler: async (ctx) => {
      const all = await ctx.cloud.network.addresses.list(ctx.accountId);
      const ids = ctx.q.list('AllocationId');
      const ips = ctx.q.list('PublicIp');
      for (const id of ids) if (!all.some((a) => a.allocationId === id)) throw new CloudError('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`);
      for (const ip of ips) if (!all.some((a) => a.publicIp === ip)) throw new CloudError('InvalidAddress.NotFound', `Address '${ip}' not found.`);
      const named = all.filter((a) => (!ids.length || ids.includes(a.allocationId)) && (!ips.length || ips.includes(a.publicIp)));
      const tags = await ctx.cloud.tags.of(named.map((a) => a.allocationId));
      const rows = filterRows(named, ctx.q.filters(), addressFields, tags);
      return { addressesSet: await inOrder(rows, (a) => addressShape(ctx, a, tags.get(a.allocationId))) };
    },
  },
};
