import type { Tag } from '../../../cloud/tags.js';
import { byIds, filterRows } from '../../../cloud/filters.js';
import type { InternetGateway, NetworkAcl, RouteTable } from '../../../cloud/network.js';
import { internetGatewayFields, networkAclFields, networkInterfaceFields, networkInterfacesOf, routeTableFields } from '../../../cloud/network-filters.js';
import { dryRunCheck, tagOnCreate, type Action, type Actions } from '../context.js';
import { groupNames, networkInterfaceShape, tagSet } from '../shapes.js';

function igwShape(g: InternetGateway, tags: Tag[] | undefined) {
  return { internetGatewayId: g.id, ownerId: g.accountId, attachmentSet: g.vpcId ? [{ vpcId: g.vpcId, state: 'available' }] : [], tagSet: tagSet(tags) };
}

function routeTableShape(t: RouteTable, tags: Tag[] | undefined) {
  return {
    routeTableId: t.id, vpcId: t.vpcId, ownerId: t.accountId,
    routeSet: t.routes.map((r) => ({
      destinationCidrBlock: r.destination, gatewayId: r.gatewayId, state: 'active',
      origin: r.gatewayId === 'local' ? 'CreateRouteTable' : 'CreateRoute',
    })),
    associationSet: [{ routeTableAssociationId: t.associationId, routeTableId: t.id, main: true, associationState: { state: 'associated' } }],
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

export const routingActions: Actions = {
  CreateInternetGateway: {
    dryRun: 'self',
    handler: (ctx) => {
      dryRunCheck(ctx);
      const g = ctx.cloud.network.createInternetGateway(ctx.accountId);
      tagOnCreate(ctx, g.id);
      return { internetGateway: igwShape(g, ctx.cloud.tags.of([g.id]).get(g.id)) };
    },
  },

  AttachInternetGateway: internetSwitch(true),

  DetachInternetGateway: internetSwitch(false),

  DeleteInternetGateway: {
    dryRun: 'self',
    handler: (ctx) => {
      const id = ctx.q.req('InternetGatewayId');
      dryRunCheck(ctx);
      ctx.cloud.network.deleteInternetGateway(ctx.accountId, id);
      ctx.cloud.tags.removeAll([id]);
      return { return: true };
    },
  },

  DescribeInternetGateways: {
    handler: (ctx) => {
      const all = byIds(ctx.cloud.network.internetGateways(ctx.accountId), ctx.q.list('InternetGatewayId'), 'InvalidInternetGatewayID.NotFound', 'internetGateway ID');
      const tags = ctx.cloud.tags.of(all.map((g) => g.id));
      const rows = filterRows(all, ctx.q.filters(), internetGatewayFields, tags);
      return { internetGatewaySet: rows.map((g) => igwShape(g, tags.get(g.id))) };
    },
  },

  DescribeNetworkInterfaces: {
    handler: (ctx) => {
      const byEni = networkInterfacesOf(ctx.cloud.instances.describe(ctx.accountId, { ids: [], filters: [] }).instances);
      const all = byIds(byEni, ctx.q.list('NetworkInterfaceId'), 'InvalidNetworkInterfaceID.NotFound', 'network interface');
      const tags = ctx.cloud.tags.of(all.map((e) => e.id));
      const rows = filterRows(all, ctx.q.filters(), networkInterfaceFields, tags);
      const names = groupNames(ctx.cloud, ctx.accountId);
      return { networkInterfaceSet: rows.map((e) => networkInterfaceShape(ctx.cloud, { ...e, id: e.instanceId }, names, tags.get(e.id))) };
    },
  },

  DescribeRouteTables: {
    handler: (ctx) => {
      const all = byIds(ctx.cloud.network.routeTables(ctx.accountId), ctx.q.list('RouteTableId'), 'InvalidRouteTableID.NotFound', 'route table ID');
      const tags = ctx.cloud.tags.of(all.map((t) => t.id));
      const rows = filterRows(all, ctx.q.filters(), routeTableFields, tags);
      return { routeTableSet: rows.map((t) => routeTableShape(t, tags.get(t.id))) };
    },
  },

  DescribeNetworkAcls: {
    handler: (ctx) => {
      const all = byIds(ctx.cloud.network.networkAcls(ctx.accountId), ctx.q.list('NetworkAclId'), 'InvalidNetworkAclID.NotFound', 'network ACL ID');
      const tags = ctx.cloud.tags.of(all.map((a) => a.id));
      const rows = filterRows(all, ctx.q.filters(), networkAclFields, tags);
      return { networkAclSet: rows.map((a) => aclShape(a, tags.get(a.id))) };
    },
  },
};
