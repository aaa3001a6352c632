import { invalidParam, CloudError } from '../../../cloud/errors.js';
import { matches, type Filter, type Tag } from '../../../cloud/tags.js';
import { parseCidr } from '../../../cloud/ip.js';
import { dryRunCheck, tagOnCreate, type Action, type Actions, type Ctx } from '../context.js';
import type { InternetGateway, Permission, SecurityGroupRule, Subnet, Vpc } from '../../../cloud/network.js';
import type { Query } from '../query.js';
import { groupNames, networkInterfaceShape, tagSet } from '../shapes.js';

/** Apply EC2 filters in memory: field getters by filter name, plus tag:KEY / tag-key / tag-value. */
function filterRows<T extends { id: string }>(
  rows: T[], filters: Filter[], tags: Map<string, Tag[]>, fields: Record<string, (r: T) => string | string[] | undefined>,
): T[] {
  let out = rows;
  for (const f of filters) {
    if (f.name.startsWith('tag:')) {
      const key = f.name.slice(4);
      out = out.filter((r) => matches(tags.get(r.id)?.find((t) => t.key === key)?.value, f.values));
    } else if (f.name === 'tag-key') {
      out = out.filter((r) => (tags.get(r.id) ?? []).some((t) => matches(t.key, f.values)));
    } else if (f.name === 'tag-value') {
      out = out.filter((r) => (tags.get(r.id) ?? []).some((t) => matches(t.value, f.values)));
    } else {
      const get = fields[f.name];
      if (!get) throw invalidParam(`The filter '${f.name}' is invalid`);
      out = out.filter((r) => {
        const v = get(r);
        return Array.isArray(v) ? v.some((x) => matches(x, f.values)) : matches(v, f.values);
      });
    }
  }
  return out;
}

function byIds<T extends { id: string }>(rows: T[], ids: string[], code: string, what: string): T[] {
  if (!ids.length) return rows;
  const missing = ids.filter((id) => !rows.some((r) => r.id === id));
  if (missing.length) throw new CloudError(code, `The ${what} '${missing.join(', ')}' does not exist`);
  return rows.filter((r) => ids.includes(r.id));
}

function igwShape(g: InternetGateway, tags: Tag[] | undefined) {
  return { internetGatewayId: g.id, ownerId: g.accountId, attachmentSet: g.vpcId ? [{ vpcId: g.vpcId, state: 'available' }] : [], tagSet: tagSet(tags) };
}

function vpcShape(v: Vpc, tags: Tag[] | undefined) {
  return {
    vpcId: v.id, ownerId: v.accountId, state: 'available', cidrBlock: v.cidr,
    cidrBlockAssociationSet: [{ cidrBlock: v.cidr, associationId: `vpc-cidr-assoc-${v.id.slice(4)}`, cidrBlockState: { state: 'associated' } }],
    ipv6CidrBlockAssociationSet: [], dhcpOptionsId: 'default', instanceTenancy: 'default', isDefault: v.isDefault,
    tagSet: tagSet(tags),
  };
}

function subnetShape(ctx: Ctx, s: Subnet, tags: Tag[] | undefined) {
  const az = ctx.cloud.config.availabilityZones.indexOf(s.availabilityZone) + 1;
  return {
    subnetId: s.id, subnetArn: `arn:aws:ec2:${ctx.region}:${s.accountId}:subnet/${s.id}`, state: 'available',
    ownerId: s.accountId, vpcId: s.vpcId, cidrBlock: s.cidr,
    availableIpAddressCount: parseCidr(s.cidr).size - 5 - usedIps(ctx, s.id),
    availabilityZone: s.availabilityZone, availabilityZoneId: `use1-az${az}`,
    defaultForAz: s.isDefault, mapPublicIpOnLaunch: false, mapCustomerOwnedIpOnLaunch: false,
    assignIpv6AddressOnCreation: false, ipv6CidrBlockAssociationSet: [], enableDns64: false, ipv6Native: false,
    privateDnsNameOptionsOnLaunch: { hostnameType: 'ip-name', enableResourceNameDnsARecord: false, enableResourceNameDnsAAAARecord: false },
    tagSet: tagSet(tags),
  };
}

function usedIps(ctx: Ctx, subnetId: string): number {
  return ctx.cloud.instances.describe(ctx.accountId, {
    ids: [], filters: [{ name: 'subnet-id', values: [subnetId] }, { name: 'instance-state-name', values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'] }],
  }).instances.length;
}

/** IpPermissions.N (or the older top-level IpProtocol/FromPort/ToPort/CidrIp) as permissions. */
function permissions(q: Query): Permission[] {
  const perms = q.structs('IpPermissions').map((p) => ({
    protocol: p.str('IpProtocol') ?? '',
    fromPort: p.int('FromPort'),
    toPort: p.int('ToPort'),
    cidrs: p.structs('IpRanges').map((r) => ({ cidr: r.str('CidrIp') ?? '', description: r.str('Description') })),
    groups: p.structs('Groups').map((g) => g.str('GroupId') ?? ''),
  }));
  if (q.str('IpProtocol')) {
    perms.push({ protocol: q.str('IpProtocol')!, fromPort: q.int('FromPort'), toPort: q.int('ToPort'), cidrs: q.str('CidrIp') ? [{ cidr: q.str('CidrIp')!, description: undefined }] : [], groups: [] });
  }
  return perms;
}

function ruleShape(r: SecurityGroupRule) {
  return {
    securityGroupRuleId: r.id, groupId: r.groupId, groupOwnerId: r.accountId, isEgress: r.isEgress, ipProtocol: r.protocol,
    fromPort: r.fromPort ?? -1, toPort: r.toPort ?? -1, cidrIpv4: r.cidr ?? undefined, description: r.description || undefined,
    referencedGroupInfo: r.refGroupId ? { groupId: r.refGroupId, userId: r.accountId } : undefined,
  };
}

/** Rules grouped as DescribeSecurityGroups shows them: one permission per protocol and port range. */
function permissionSet(rules: SecurityGroupRule[]) {
  const out = new Map<string, { ipProtocol: string; fromPort?: number; toPort?: number; groups: unknown[]; ipRanges: unknown[]; ipv6Ranges: unknown[]; prefixListIds: unknown[] }>();
  for (const r of rules) {
    const key = `${r.protocol}|${r.fromPort}|${r.toPort}`;
    const p = out.get(key) ?? { ipProtocol: r.protocol, fromPort: r.fromPort ?? undefined, toPort: r.toPort ?? undefined, groups: [], ipRanges: [], ipv6Ranges: [], prefixListIds: [] };
    if (r.cidr) p.ipRanges.push({ cidrIp: r.cidr, description: r.description || undefined });
    if (r.refGroupId) p.groups.push({ groupId: r.refGroupId, userId: r.accountId });
    out.set(key, p);
  }
  return [...out.values()];
}

function ruleAction(egress: boolean, revoke: boolean): Action {
  return {
    dryRun: 'self',
    handler: async (ctx) => {
      const groupId = ctx.q.str('GroupId') || ctx.cloud.network.securityGroups(ctx.accountId).find((g) => g.name === ctx.q.str('GroupName'))?.id;
      if (!groupId) throw new CloudError(ctx.q.str('GroupName') ? 'InvalidGroup.NotFound' : 'MissingParameter', ctx.q.str('GroupName') ? `The security group '${ctx.q.str('GroupName')}' does not exist` : 'The request must contain the parameter GroupId');
      ctx.cloud.network.group(ctx.accountId, groupId);
      const perms = permissions(ctx.q);
      const ruleIds = ctx.q.list('SecurityGroupRuleId');
      if (!perms.length && !ruleIds.length) throw new CloudError('MissingParameter', 'The request must contain the parameter IpPermissions');
      dryRunCheck(ctx);
      const added = await ctx.cloud.changeRules(ctx.accountId, groupId, egress, revoke ? { remove: perms, ruleIds } : { add: perms });
      return revoke ? { return: true } : { return: true, securityGroupRuleSet: added.map(ruleShape) };
    },
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

export const networkActions: Actions = {
  AuthorizeSecurityGroupIngress: ruleAction(false, false),
  AuthorizeSecurityGroupEgress: ruleAction(true, false),
  RevokeSecurityGroupIngress: ruleAction(false, true),
  RevokeSecurityGroupEgress: ruleAction(true, true),

  DescribeSecurityGroupRules: {
    handler: (ctx) => {
      let rules = ctx.cloud.network.rules(ctx.accountId);
      const ids = ctx.q.list('SecurityGroupRuleId');
      if (ids.length) rules = rules.filter((r) => ids.includes(r.id));
      for (const f of ctx.q.filters()) {
        if (f.name === 'group-id') rules = rules.filter((r) => matches(r.groupId, f.values));
        else if (f.name === 'security-group-rule-id') rules = rules.filter((r) => matches(r.id, f.values));
        else throw invalidParam(`The filter '${f.name}' is invalid`);
      }
      return { securityGroupRuleSet: rules.map(ruleShape) };
    },
  },

  CreateVpc: {
    dryRun: 'self',
    handler: (ctx) => {
      const cidr = ctx.q.req('CidrBlock');
      dryRunCheck(ctx);
      const v = ctx.cloud.network.createVpc(ctx.accountId, cidr);
      tagOnCreate(ctx, v.id);
      return { vpc: vpcShape(v, ctx.cloud.tags.of([v.id]).get(v.id)) };
    },
  },

  DeleteVpc: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('VpcId');
      ctx.cloud.network.vpc(ctx.accountId, id);
      dryRunCheck(ctx);
      await ctx.cloud.deleteVpc(ctx.accountId, id);
      return { return: true };
    },
  },

  CreateSubnet: {
    dryRun: 'self',
    handler: (ctx) => {
      const vpcId = ctx.q.req('VpcId');
      const cidr = ctx.q.req('CidrBlock');
      ctx.cloud.network.vpc(ctx.accountId, vpcId);
      dryRunCheck(ctx);
      const s = ctx.cloud.network.createSubnet(ctx.accountId, vpcId, cidr, ctx.q.str('AvailabilityZone'));
      tagOnCreate(ctx, s.id);
      return { subnet: subnetShape(ctx, s, ctx.cloud.tags.of([s.id]).get(s.id)) };
    },
  },

  DeleteSubnet: {
    dryRun: 'self',
    handler: (ctx) => {
      const id = ctx.q.req('SubnetId');
      dryRunCheck(ctx);
      ctx.cloud.network.deleteSubnet(ctx.accountId, id);
      ctx.cloud.tags.removeAll([id]);
      return { return: true };
    },
  },

  CreateSecurityGroup: {
    dryRun: 'self',
    handler: (ctx) => {
      const name = ctx.q.req('GroupName');
      const description = ctx.q.req('GroupDescription');
      dryRunCheck(ctx);
      const g = ctx.cloud.network.createSecurityGroup(ctx.accountId, name, description, ctx.q.str('VpcId') || undefined);
      tagOnCreate(ctx, g.id);
      return { return: true, groupId: g.id, securityGroupArn: `arn:aws:ec2:${ctx.region}:${ctx.accountId}:security-group/${g.id}`, tagSet: tagSet(ctx.cloud.tags.of([g.id]).get(g.id)) };
    },
  },

  DeleteSecurityGroup: {
    dryRun: 'self',
    handler: (ctx) => {
      const id = ctx.q.str('GroupId');
      const name = ctx.q.str('GroupName');
      if (!id && !name) throw new CloudError('MissingParameter', 'The request must contain the parameter GroupId or GroupName');
      dryRunCheck(ctx);
      const deleted = ctx.cloud.network.deleteSecurityGroup(ctx.accountId, { id, name });
      ctx.cloud.tags.removeAll([deleted]);
      return { return: true, groupId: deleted };
    },
  },

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
      const rows = filterRows(all, ctx.q.filters(), tags, {
        'internet-gateway-id': (g) => g.id, 'attachment.vpc-id': (g) => g.vpcId ?? undefined, 'owner-id': (g) => g.accountId,
        'attachment.state': (g) => (g.vpcId ? 'available' : undefined),
      });
      return { internetGatewaySet: rows.map((g) => igwShape(g, tags.get(g.id))) };
    },
  },

  DescribeNetworkInterfaces: {
    handler: (ctx) => {
      const live = ctx.cloud.instances.describe(ctx.accountId, { ids: [], filters: [] }).instances.filter((i) => i.state !== 'terminated');
      const byEni = live.map((i) => ({ ...i, id: i.networkInterfaceId, instanceId: i.id }));
      const all = byIds(byEni, ctx.q.list('NetworkInterfaceId'), 'InvalidNetworkInterfaceID.NotFound', 'network interface');
      const tags = ctx.cloud.tags.of(all.map((e) => e.id));
      const rows = filterRows(all, ctx.q.filters(), tags, {
        'network-interface-id': (e) => e.id, 'subnet-id': (e) => e.subnetId, 'vpc-id': (e) => e.vpcId,
        'attachment.instance-id': (e) => e.instanceId, 'private-ip-address': (e) => e.privateIp, 'addresses.private-ip-address': (e) => e.privateIp,
        'mac-address': (e) => e.macAddress, 'group-id': (e) => e.securityGroupIds, 'availability-zone': (e) => e.availabilityZone,
        status: () => 'in-use', 'owner-id': (e) => e.accountId, 'interface-type': () => 'interface',
      });
      const names = groupNames(ctx.cloud, ctx.accountId);
      return { networkInterfaceSet: rows.map((e) => networkInterfaceShape(ctx.cloud, { ...e, id: e.instanceId }, names, tags.get(e.id))) };
    },
  },

  DescribeVpcs: {
    handler: (ctx) => {
      const all = byIds(ctx.cloud.network.vpcs(ctx.accountId), ctx.q.list('VpcId'), 'InvalidVpcID.NotFound', 'vpc ID');
      const tags = ctx.cloud.tags.of(all.map((v) => v.id));
      const rows = filterRows(all, ctx.q.filters(), tags, {
        'vpc-id': (v) => v.id, 'cidr': (v) => v.cidr, 'cidr-block': (v) => v.cidr, 'cidr-block-association.cidr-block': (v) => v.cidr,
        'is-default': (v) => String(v.isDefault), state: () => 'available', 'owner-id': (v) => v.accountId,
        'dhcp-options-id': () => 'default',
      });
      return { vpcSet: rows.map((v) => vpcShape(v, tags.get(v.id))) };
    },
  },

  DescribeSubnets: {
    handler: (ctx) => {
      const all = byIds(ctx.cloud.network.subnets(ctx.accountId), ctx.q.list('SubnetId'), 'InvalidSubnetID.NotFound', 'subnet ID');
      const tags = ctx.cloud.tags.of(all.map((s) => s.id));
      const rows = filterRows(all, ctx.q.filters(), tags, {
        'subnet-id': (s) => s.id, 'vpc-id': (s) => s.vpcId, 'cidr-block': (s) => s.cidr, cidr: (s) => s.cidr,
        'availability-zone': (s) => s.availabilityZone, 'default-for-az': (s) => String(s.isDefault),
        defaultForAz: (s) => String(s.isDefault), state: () => 'available', 'owner-id': (s) => s.accountId,
        'availability-zone-id': (s) => `use1-az${ctx.cloud.config.availabilityZones.indexOf(s.availabilityZone) + 1}`,
      });
      return { subnetSet: rows.map((s) => subnetShape(ctx, s, tags.get(s.id))) };
    },
  },

  DescribeSecurityGroups: {
    handler: (ctx) => {
      let all = byIds(ctx.cloud.network.securityGroups(ctx.accountId), ctx.q.list('GroupId'), 'InvalidGroup.NotFound', 'security group');
      const names = ctx.q.list('GroupName');
      if (names.length) {
        const missing = names.filter((n) => !all.some((g) => g.name === n));
        if (missing.length) throw new CloudError('InvalidGroup.NotFound', `The security group '${missing.join(', ')}' does not exist in default VPC`);
        all = all.filter((g) => names.includes(g.name));
      }
      const tags = ctx.cloud.tags.of(all.map((g) => g.id));
      const rules = ctx.cloud.network.rules(ctx.accountId, all.map((g) => g.id));
      const rows = filterRows(all, ctx.q.filters(), tags, {
        'group-id': (g) => g.id, 'group-name': (g) => g.name, 'vpc-id': (g) => g.vpcId, description: (g) => g.description,
        'owner-id': (g) => g.accountId,
      });
      return {
        securityGroupInfo: rows.map((g) => ({
          ownerId: g.accountId, groupId: g.id, groupName: g.name, groupDescription: g.description, vpcId: g.vpcId,
          securityGroupArn: `arn:aws:ec2:${ctx.region}:${g.accountId}:security-group/${g.id}`,
          ipPermissions: permissionSet(rules.filter((r) => r.groupId === g.id && !r.isEgress)),
          ipPermissionsEgress: permissionSet(rules.filter((r) => r.groupId === g.id && r.isEgress)),
          tagSet: tagSet(tags.get(g.id)),
        })),
      };
    },
  },
};
