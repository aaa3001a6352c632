import { inOrder } from '../../../cloud/in-order.js';
import { CloudError, invalidParam } from '../../../cloud/errors.js';
import { byIds, filterRows } from '../../../cloud/filters.js';
import type { Tag } from '../../../cloud/tags.js';
import type { Subnet, Vpc } from '../../../cloud/network.js';
import { subnetFields, vpcFields } from '../../../cloud/network-filters.js';
import { availabilityZoneId } from '../../../cloud/region-filters.js';
import { dryRunCheck, tagOnCreate, type Actions, type Ctx } from '../context.js';
import { tagSet } from '../shapes.js';

function vpcShape(v: Vpc, tags: Tag[] | undefined) {
  return {
    vpcId: v.id, ownerId: v.accountId, state: 'available', cidrBlock: v.cidr,
    cidrBlockAssociationSet: [{ cidrBlock: v.cidr, associationId: `vpc-cidr-assoc-${v.id.slice(4)}`, cidrBlockState: { state: 'associated' } }],
    ipv6CidrBlockAssociationSet: [], dhcpOptionsId: 'default', instanceTenancy: 'default', isDefault: v.isDefault,
    tagSet: tagSet(tags),
  };
}

async function subnetShape(ctx: Ctx, s: Subnet, tags: Tag[] | undefined) {
  return {
    subnetId: s.id, subnetArn: `arn:aws:ec2:${ctx.region}:${s.accountId}:subnet/${s.id}`, state: 'available',
    ownerId: s.accountId, vpcId: s.vpcId, cidrBlock: s.cidr,
    availableIpAddressCount: await ctx.cloud.network.freeAddresses(s),
    availabilityZone: s.availabilityZone, availabilityZoneId: availabilityZoneId(ctx.cloud.config.availabilityZones, s.availabilityZone),
    defaultForAz: s.isDefault, mapPublicIpOnLaunch: s.mapPublicIp, mapCustomerOwnedIpOnLaunch: false,
    assignIpv6AddressOnCreation: false, ipv6CidrBlockAssociationSet: [], enableDns64: false, ipv6Native: false,
    privateDnsNameOptionsOnLaunch: { hostnameType: 'ip-name', enableResourceNameDnsARecord: false, enableResourceNameDnsAAAARecord: false },
    tagSet: tagSet(tags),
  };
}

/** The VPC attributes by their API names (DescribeVpcAttribute's Attribute, ModifyVpcAttribute's parameters). */
const vpcAttributes = {
  enableDnsSupport: 'dnsSupport', enableDnsHostnames: 'dnsHostnames', enableNetworkAddressUsageMetrics: 'addressUsageMetrics',
} as const;

/** Subnet attributes pcloud can take; those it cannot act on are accepted only at their default value. */
const subnetDefaults: Record<string, boolean> = {
  AssignIpv6AddressOnCreation: false, EnableDns64: false, EnableResourceNameDnsARecordOnLaunch: false,
  EnableResourceNameDnsAAAARecordOnLaunch: false, MapCustomerOwnedIpOnLaunch: false, EnableLniAtDeviceIndex: false,
};

export const vpcActions: Actions = {
  CreateVpc: {
    dryRun: 'self',
    handler: async (ctx) => {
      const cidr = ctx.q.req('CidrBlock');
      dryRunCheck(ctx);
      const v = await ctx.cloud.network.createVpc(ctx.accountId, cidr);
      await tagOnCreate(ctx, v.id);
      return { vpc: vpcShape(v, (await ctx.cloud.tags.of([v.id])).get(v.id)) };
    },
  },

  DeleteVpc: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('VpcId');
      await ctx.cloud.network.vpc(ctx.accountId, id);
      dryRunCheck(ctx);
      await ctx.cloud.deleteVpc(ctx.accountId, id);
      return { return: true };
    },
  },

  DescribeVpcs: {
    handler: async (ctx) => {
      const all = byIds(await ctx.cloud.network.vpcs(ctx.accountId), ctx.q.list('VpcId'), 'InvalidVpcID.NotFound', 'vpc ID');
      const tags = await ctx.cloud.tags.of(all.map((v) => v.id));
      const rows = filterRows(all, ctx.q.filters(), vpcFields, tags);
      return { vpcSet: rows.map((v) => vpcShape(v, tags.get(v.id))) };
    },
  },

  ModifyVpcAttribute: {
    handler: async (ctx) => {
      const vpcId = ctx.q.req('VpcId');
      const given = Object.entries(vpcAttributes).filter(([name]) => ctx.q.has(`${name[0]!.toUpperCase()}${name.slice(1)}`));
      if (given.length !== 1) throw new CloudError(given.length ? 'InvalidParameterCombination' : 'MissingParameter', 'Exactly one attribute must be specified per request.');
      const [name, attr] = given[0]!;
      const value = ctx.q.bool(`${name[0]!.toUpperCase()}${name.slice(1)}.Value`);
      if (value === undefined) throw new CloudError('MissingParameter', `The request must contain the parameter ${name[0]!.toUpperCase()}${name.slice(1)}.Value`);
      await ctx.cloud.network.setVpcAttribute(ctx.accountId, vpcId, attr, value);
      return { return: true };
    },
  },

  DescribeVpcAttribute: {
    handler: async (ctx) => {
      const v = await ctx.cloud.network.vpc(ctx.accountId, ctx.q.req('VpcId'));
      const name = ctx.q.req('Attribute') as keyof typeof vpcAttributes;
      const attr = vpcAttributes[name];
      if (!attr) throw invalidParam(`Value (${name}) for parameter attribute is invalid. Unknown attribute.`);
      return { vpcId: v.id, [name]: { value: v[attr] } };
    },
  },

  CreateSubnet: {
    dryRun: 'self',
    handler: async (ctx) => {
      const vpcId = ctx.q.req('VpcId');
      const cidr = ctx.q.req('CidrBlock');
      await ctx.cloud.network.vpc(ctx.accountId, vpcId);
      dryRunCheck(ctx);
      const s = await ctx.cloud.network.createSubnet(ctx.accountId, vpcId, cidr, ctx.q.str('AvailabilityZone'));
      await tagOnCreate(ctx, s.id);
      return { subnet: await subnetShape(ctx, s, (await ctx.cloud.tags.of([s.id])).get(s.id)) };
    },
  },

  DeleteSubnet: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('SubnetId');
      dryRunCheck(ctx);
      await ctx.cloud.network.deleteSubnet(ctx.accountId, id);
      await ctx.cloud.tags.removeAll([id]);
      return { return: true };
    },
  },

  ModifySubnetAttribute: {
    handler: async (ctx) => {
      const subnetId = ctx.q.req('SubnetId');
      await ctx.cloud.network.subnet(ctx.accountId, subnetId);
      for (const [name, def] of Object.entries(subnetDefaults)) {
        const v = ctx.q.bool(`${name}.Value`);
        if (v !== undefined && v !== def) throw new CloudError('Unsupported', `${name} is not supported by pcloud.`);
      }
      const hostname = ctx.q.str('PrivateDnsHostnameTypeOnLaunch');
      if (hostname && hostname !== 'ip-name') throw new CloudError('Unsupported', `PrivateDnsHostnameTypeOnLaunch ${hostname} is not supported: instances are named ip-name.`);
      const map = ctx.q.bool('MapPublicIpOnLaunch.Value');
      if (map !== undefined) await ctx.cloud.network.setSubnetAttribute(ctx.accountId, subnetId, 'mapPublicIp', map);
      return { return: true };
    },
  },

  DescribeSubnets: {
    handler: async (ctx) => {
      const all = byIds(await ctx.cloud.network.subnets(ctx.accountId), ctx.q.list('SubnetId'), 'InvalidSubnetID.NotFound', 'subnet ID');
      const tags = await ctx.cloud.tags.of(all.map((s) => s.id));
      const rows = filterRows(all, ctx.q.filters(), subnetFields(ctx.cloud.config.availabilityZones), tags);
      return { subnetSet: await inOrder(rows, (s) => subnetShape(ctx, s, tags.get(s.id))) };
    },
  },
};
