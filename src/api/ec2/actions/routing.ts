import type { Tag } from '../../../cloud/tags.js';
import { CloudError } from '../../../cloud/errors.js';
import { byIds, filterRows } from '../../../cloud/filters.js';
import type { InternetGateway, NetworkAcl, RouteTable } from '../../../cloud/network.js';
import { internetGatewayFields, networkAclFields, networkInterfaceFields, networkInterfacesOf, routeTableFields } from '../../../cloud/network-filters.js';
import type { RouteTarget } from '../../../cloud/route-tables.js';
import { dryRunCheck, tagOnCreate, type Action, type Actions, type Ctx } from '../context.js';
import { syncEdges } from './addresses.js';
import { once, tokenRequest } from '../client-token.js';
import { groupNames, networkInterfaceShape, tagSet } from '../shapes.js';

function igwShape(g: InternetGateway, tags: Tag[] | undefined) {
  return { internetGatewayId: g.id, ownerId: g.accountId, attachmentSet: g.vpcId ? [{ vpcId: g.vpcId, state: 'available' }] : [], tagSet: tagSet(tags) };
}

export function routeTableShape(t: RouteTable, tags: Tag[] | undefined) {
  return {
    routeTableId: t.id, vpcId: t.vpcId, ownerId: t.accountId,
    routeSet: t.routes.map((r) => ({
      destinationCidrBlock: r.destination, gatewayId: r.gatewayId, natGatewayId: r.natGatewayId,
      instanceId: r.instanceId, instanceOwnerId: r.instanceId ? t.accountId : undefined, networkInterfaceId: r.networkInterfaceId,
      state: r.state, origin: r.origin,
    })),
    associationSet: t.associations.map((a) => ({
      main: a.main, routeTableAssociationId: a.id, routeTableId: t.id, subnetId: a.subnetId, associationState: { state: 'associated' },
    })),
    propagatingVgwSet: [], tagSet: tagSet(tags),
  };
}

function aclShape(a: NetworkAcl, tags: Tag[] | undefined) {
  const entry = (ruleNumber: number, egress: boolean, ruleAction: string) => ({ ruleNumber, protocol: '-1', ruleAction, egress, cidrBlock: '0.0.0.0/0' });
  return {
    networkAclId: a.id, vpcId: a.vpcId, default: true, ownerId: a.accountId,
    entrySet: [entry(100, true, 'allow'), entry(32767, true, 'deny'), entry(100, false, 'allow'), entry(32767, false, 'deny')],
    associationSet: a.subnets.map((s) => ({ networkAclAssociationId: s.associationId, networkAclId: a.id, subnetId: s.subnetId })),
    tagSet: tagSet(tags),
  };
}

/** AttachInternetGateway / DetachInternetGateway: the same call, turning the VPC's NAT on or off. */
function internetSwitch(attach: boolean): Action {
  return {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('InternetGatewayId');
      const vpcId = ctx.q.req('VpcId');
      dryRunCheck(ctx);
      await ctx.cloud.switchInternet(ctx.accountId, id, vpcId, attach);
      return { return: true };
    },
  };
}

/** CreateRoute's and ReplaceRoute's target: the one of GatewayId, NatGatewayId, InstanceId, NetworkInterfaceId given. */
function routeTarget(ctx: Ctx): RouteTarget {
  for (const unsupported of ['EgressOnlyInternetGatewayId', 'TransitGatewayId', 'LocalGatewayId', 'CarrierGatewayId', 'VpcPeeringConnectionId', 'VpcEndpointId', 'CoreNetworkArn', 'DestinationIpv6CidrBlock', 'DestinationPrefixListId']) {
    if (ctx.q.str(unsupported) !== undefined) throw new CloudError('InvalidParameterValue', `${unsupported} is not supported by this cloud: route IPv4 CIDR blocks to an internet gateway, a NAT gateway, an instance or a network interface`);
  }
  return { gatewayId: ctx.q.str('GatewayId'), natGatewayId: ctx.q.str('NatGatewayId'), instanceId: ctx.q.str('InstanceId'), networkInterfaceId: ctx.q.str('NetworkInterfaceId') };
}

/** A change to a table: its VPC's router follows. */
async function routed(ctx: Ctx, tableId: string): Promise<void> {
  const t = await ctx.cloud.network.routing.table(ctx.accountId, tableId);
  await syncEdges(ctx, [t.vpcId]);
}

function putRoute(replace: boolean): Action {
  return {
    dryRun: 'self',
    handler: async (ctx) => {
      const tableId = ctx.q.req('RouteTableId');
      const dest = ctx.q.req('DestinationCidrBlock');
      const target = routeTarget(ctx);
      dryRunCheck(ctx);
      await ctx.cloud.network.routing.putRoute(ctx.accountId, tableId, dest, target, replace);
      await routed(ctx, tableId);
      return { return: true };
    },
  };
}

export const routingActions: Actions = {
  CreateRouteTable: {
    dryRun: 'self',
    handler: async (ctx) => {
      const vpcId = ctx.q.req('VpcId');
      const req = tokenRequest(ctx, 'CreateRouteTable');
      dryRunCheck(ctx);
      await ctx.cloud.network.vpc(ctx.accountId, vpcId);
      const routing = ctx.cloud.network.routing;
      const t = await once(ctx, req, async () => {
              const made = await routing.create(ctx.accountId, vpcId);
              await tagOnCreate(ctx, made.id);
        return { id: made.id, value: made };
            }, async (id) => await routing.table(ctx.accountId, id));
      return { routeTable: routeTableShape(t, (await ctx.cloud.tags.of([t.id])).get(t.id)), clientToken: req.token };
    },
  },

  DeleteRouteTable: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('RouteTableId');
      dryRunCheck(ctx);
      await ctx.cloud.network.routing.delete(ctx.accountId, id);
      await ctx.cloud.tags.removeAll([id]);
      return { return: true };
    },
  },

  CreateRoute: putRoute(false),

  ReplaceRoute: putRoute(true),

  DeleteRoute: {
    dryRun: 'self',
    handler: async (ctx) => {
      const tableId = ctx.q.req('RouteTableId');
      const dest = ctx.q.req('DestinationCidrBlock');
      dryRunCheck(ctx);
      await ctx.cloud.network.routing.deleteRoute(ctx.accountId, tableId, dest);
      await routed(ctx, tableId);
      return { return: true };
    },
  },

  AssociateRouteTable: {
    dryRun: 'self',
    handler: async (ctx) => {
      const tableId = ctx.q.req('RouteTableId');
      if (ctx.q.str('GatewayId') !== undefined) throw new CloudError('InvalidParameterValue', 'This cloud associates route tables with subnets only: give SubnetId');
      const subnetId = ctx.q.req('SubnetId');
      dryRunCheck(ctx);
      const associationId = await ctx.cloud.network.routing.associate(ctx.accountId, tableId, subnetId);
      await routed(ctx, tableId);
      return { associationId, associationState: { state: 'associated' } };
    },
  },

  DisassociateRouteTable: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('AssociationId');
      dryRunCheck(ctx);
      const vpcId = await ctx.cloud.network.routing.disassociate(ctx.accountId, id);
      await syncEdges(ctx, [vpcId]);
      return { return: true };
    },
  },

  ReplaceRouteTableAssociation: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('AssociationId');
      const tableId = ctx.q.req('RouteTableId');
      dryRunCheck(ctx);
      const newAssociationId = await ctx.cloud.network.routing.replaceAssociation(ctx.accountId, id, tableId);
      await routed(ctx, tableId);
      return { newAssociationId, associationState: { state: 'associated' } };
    },
  },

  CreateInternetGateway: {
    dryRun: 'self',
    handler: async (ctx) => {
      dryRunCheck(ctx);
      const g = await ctx.cloud.network.createInternetGateway(ctx.accountId);
      await tagOnCreate(ctx, g.id);
      return { internetGateway: igwShape(g, (await ctx.cloud.tags.of([g.id])).get(g.id)) };
    },
  },

  AttachInternetGateway: internetSwitch(true),

  DetachInternetGateway: internetSwitch(false),

  DeleteInternetGateway: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('InternetGatewayId');
      dryRunCheck(ctx);
      await ctx.cloud.network.deleteInternetGateway(ctx.accountId, id);
      await ctx.cloud.tags.removeAll([id]);
      return { return: true };
    },
  },

  DescribeInternetGateways: {
    handler: async (ctx) => {
      const all = byIds(await ctx.cloud.network.internetGateways(ctx.accountId), ctx.q.list('InternetGatewayId'), 'InvalidInternetGatewayID.NotFound', 'internetGateway ID');
      const tags = await ctx.cloud.tags.of(all.map((g) => g.id));
      const rows = filterRows(all, ctx.q.filters(), internetGatewayFields, tags);
      return { internetGatewaySet: rows.map((g) => igwShape(g, tags.get(g.id))) };
    },
  },

  DescribeNetworkInterfaces: {
    handler: async (ctx) => {
      const byEni = networkInterfacesOf((await ctx.cloud.instances.describe(ctx.accountId, { ids: [], filters: [] })).instances);
      const all = byIds(byEni, ctx.q.list('NetworkInterfaceId'), 'InvalidNetworkInterfaceID.NotFound', 'network interface');
      const tags = await ctx.cloud.tags.of(all.map((e) => e.id));
      const rows = filterRows(all, ctx.q.filters(), networkInterfaceFields, tags);
      const [names, eips] = await Promise.all([groupNames(ctx.cloud, ctx.accountId, rows), ctx.cloud.network.addresses.ofInstances(rows.map((e) => e.instanceId))]);
      return { networkInterfaceSet: rows.map((e) => networkInterfaceShape(ctx.cloud, { ...e, id: e.instanceId }, names, eips.get(e.instanceId), tags.get(e.id))) };
    },
  },

  DescribeRouteTables: {
    handler: async (ctx) => {
      const all = byIds(await ctx.cloud.network.routeTables(ctx.accountId), ctx.q.list('RouteTableId'), 'InvalidRouteTableID.NotFound', 'route table ID');
      const tags = await ctx.cloud.tags.of(all.map((t) => t.id));
      const rows = filterRows(all, ctx.q.filters(), routeTableFields, tags);
      return { routeTableSet: rows.map((t) => routeTableShape(t, tags.get(t.id))) };
    },
  },

  DescribeNetworkAcls: {
    handler: async (ctx) => {
      const all = byIds(await ctx.cloud.network.networkAcls(ctx.accountId), ctx.q.list('NetworkAclId'), 'InvalidNetworkAclID.NotFound', 'network ACL ID');
      const tags = await ctx.cloud.tags.of(all.map((a) => a.id));
      const rows = filterRows(all, ctx.q.filters(), networkAclFields, tags);
      return { networkAclSet: rows.map((a) => aclShape(a, tags.get(a.id))) };
    },
  },
};
