import { CloudError } from '../../../cloud/errors.js';
import { byIds, filterRows } from '../../../cloud/filters.js';
import type { Permission, SecurityGroupRule } from '../../../cloud/network.js';
import { securityGroupFields, securityGroupRuleFields } from '../../../cloud/network-filters.js';
import { dryRunCheck, tagOnCreate, type Action, type Actions } from '../context.js';
import type { Query } from '../query.js';
import { tagSet } from '../shapes.js';

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
      const groupId = ctx.q.str('GroupId') || (await ctx.cloud.network.securityGroups(ctx.accountId)).find((g) => g.name === ctx.q.str('GroupName'))?.id;
      if (!groupId) throw new CloudError(ctx.q.str('GroupName') ? 'InvalidGroup.NotFound' : 'MissingParameter', ctx.q.str('GroupName') ? `The security group '${ctx.q.str('GroupName')}' does not exist` : 'The request must contain the parameter GroupId');
      await ctx.cloud.network.group(ctx.accountId, groupId);
      const perms = permissions(ctx.q);
      const ruleIds = ctx.q.list('SecurityGroupRuleId');
      if (!perms.length && !ruleIds.length) throw new CloudError('MissingParameter', 'The request must contain the parameter IpPermissions');
      dryRunCheck(ctx);
      const added = await ctx.cloud.changeRules(ctx.accountId, groupId, egress, revoke ? { remove: perms, ruleIds } : { add: perms });
      return revoke ? { return: true } : { return: true, securityGroupRuleSet: added.map(ruleShape) };
    },
  };
}

export const securityGroupActions: Actions = {
  AuthorizeSecurityGroupIngress: ruleAction(false, false),

  AuthorizeSecurityGroupEgress: ruleAction(true, false),

  RevokeSecurityGroupIngress: ruleAction(false, true),

  RevokeSecurityGroupEgress: ruleAction(true, true),

  DescribeSecurityGroupRules: {
    handler: async (ctx) => {
      let rules = await ctx.cloud.network.rules(ctx.accountId);
      const ids = ctx.q.list('SecurityGroupRuleId');
      if (ids.length) rules = rules.filter((r) => ids.includes(r.id));
      rules = filterRows(rules, ctx.q.filters(), securityGroupRuleFields);
      return { securityGroupRuleSet: rules.map(ruleShape) };
    },
  },

  CreateSecurityGroup: {
    dryRun: 'self',
    handler: async (ctx) => {
      const name = ctx.q.req('GroupName');
      const description = ctx.q.req('GroupDescription');
      dryRunCheck(ctx);
      const g = await ctx.cloud.network.createSecurityGroup(ctx.accountId, name, description, ctx.q.str('VpcId') || undefined);
      await tagOnCreate(ctx, g.id);
      return { groupId: g.id, tagSet: tagSet((await ctx.cloud.tags.of([g.id])).get(g.id)) };
    },
  },

  DeleteSecurityGroup: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.str('GroupId');
      const name = ctx.q.str('GroupName');
      if (!id && !name) throw new CloudError('MissingParameter', 'The request must contain the parameter GroupId or GroupName');
      dryRunCheck(ctx);
      const deleted = await ctx.cloud.network.deleteSecurityGroup(ctx.accountId, { id, name });
      await ctx.cloud.tags.removeAll([deleted]);
      return { return: true };
    },
  },

  DescribeSecurityGroups: {
    handler: async (ctx) => {
      let all = byIds(await ctx.cloud.network.securityGroups(ctx.accountId), ctx.q.list('GroupId'), 'InvalidGroup.NotFound', 'security group');
      const names = ctx.q.list('GroupName');
      if (names.length) {
        const missing = names.filter((n) => !all.some((g) => g.name === n));
        if (missing.length) throw new CloudError('InvalidGroup.NotFound', `The security group '${missing.join(', ')}' does not exist in default VPC`);
        all = all.filter((g) => names.includes(g.name));
      }
      const tags = await ctx.cloud.tags.of(all.map((g) => g.id));
      const rules = await ctx.cloud.network.rules(ctx.accountId, all.map((g) => g.id));
      const rows = filterRows(all, ctx.q.filters(), securityGroupFields, tags);
      return {
        securityGroupInfo: rows.map((g) => ({
          ownerId: g.accountId, groupId: g.id, groupName: g.name, groupDescription: g.description, vpcId: g.vpcId,
          ipPermissions: permissionSet(rules.filter((r) => r.groupId === g.id && !r.isEgress)),
          ipPermissionsEgress: permissionSet(rules.filter((r) => r.groupId === g.id && r.isEgress)),
          tagSet: tagSet(tags.get(g.id)),
        })),
      };
    },
  },
};
