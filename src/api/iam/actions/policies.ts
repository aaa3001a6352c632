/**
 * IAM's policy actions: managed policies and their versions, attachments to users and roles, inline policies, policy
 * tags. Each reads its input (checked here, in AWS's words), asks cloud.iam.policies, and answers along the model.
 */
import type { PolicyVersionView, PolicyView, PrincipalKind } from '../../../cloud/iam/policies.js';
import { checkDescription, checkDocumentText, checkName, checkPath, checkPathPrefix, invalid } from '../../../cloud/iam/names.js';
import { page } from '../../../cloud/iam/paging.js';
import { checkTagKeys, checkTags, type Tag } from '../../../cloud/iam/tags.js';
import type { QueryCtx, QueryHandler } from '../../query/endpoint.js';

/** AWS's name lengths: users and roles 64, policies 128. */
const PRINCIPAL_NAME_MAX = 64;
const POLICY_NAME_MAX = 128;
/** A policy ARN: 20..2048 characters (the model's arnType). */
const ARN_MAX = 2048;

const str = (ctx: QueryCtx, member: string) => ctx.input[member] as string | undefined;
const req = (ctx: QueryCtx, member: string) => ctx.input[member] as string;
const acct = (ctx: QueryCtx) => ctx.principal.accountId;

function policyArn(ctx: QueryCtx): string {
  const arn = req(ctx, 'PolicyArn');
  if (arn.length < 20) throw invalid('policyArn', arn, 'Member must have length greater than or equal to 20');
  if (arn.length > ARN_MAX) throw invalid('policyArn', arn, `Member must have length less than or equal to ${ARN_MAX}`);
  return arn;
}

function policyShape(p: PolicyView, detail: { description?: boolean; tags?: readonly Tag[] } = {}): Record<string, unknown> {
  return {
    PolicyName: p.name, PolicyId: p.id, Arn: p.arn, Path: p.path, DefaultVersionId: p.defaultVersionId,
    AttachmentCount: p.attachmentCount, PermissionsBoundaryUsageCount: 0, IsAttachable: true,
    ...(detail.description && p.description !== undefined ? { Description: p.description } : {}),
    CreateDate: p.createdAt, UpdateDate: p.updatedAt,
    ...(detail.tags?.length ? { Tags: detail.tags } : {}),
  };
}

/** A policy version; its document URL-encoded, as IAM returns documents (the SDKs and Terraform decode them). */
const versionShape = (v: PolicyVersionView, withDocument: boolean) => ({
  ...(withDocument ? { Document: encodeURIComponent(v.document) } : {}),
  VersionId: v.versionId, IsDefaultVersion: v.isDefault, CreateDate: v.createdAt,
});

const paged = <T>(ctx: QueryCtx, items: readonly T[], key: (t: T) => string) => page(items, key, ctx.input);

/** The user's or role's inline and attached policy actions, one set per kind. */
function principalActions(kind: PrincipalKind): Record<string, QueryHandler> {
  const K = kind === 'user' ? 'User' : 'Role';
  const nameMember = `${K}Name`;
  const principal = (ctx: QueryCtx) => checkName(kind === 'user' ? 'userName' : 'roleName', req(ctx, nameMember), PRINCIPAL_NAME_MAX);
  const policyName = (ctx: QueryCtx) => checkName('policyName', req(ctx, 'PolicyName'), POLICY_NAME_MAX);
  return {
    [`Attach${K}Policy`]: async (ctx) => {
      await ctx.cloud.iam.policies.attach(acct(ctx), kind, principal(ctx), policyArn(ctx));
      return {};
    },
    [`Detach${K}Policy`]: async (ctx) => {
      await ctx.cloud.iam.policies.detach(acct(ctx), kind, principal(ctx), policyArn(ctx));
      return {};
    },
    [`ListAttached${K}Policies`]: async (ctx) => {
      const all = await ctx.cloud.iam.policies.attached(acct(ctx), kind, principal(ctx), checkPathPrefix(str(ctx, 'PathPrefix')));
      const p = paged(ctx, all, (a) => a.name);
      return { AttachedPolicies: p.items.map((a) => ({ PolicyName: a.name, PolicyArn: a.arn })), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    [`Put${K}Policy`]: async (ctx) => {
      await ctx.cloud.iam.policies.putInline(acct(ctx), kind, principal(ctx), policyName(ctx), checkDocumentText('policyDocument', req(ctx, 'PolicyDocument')));
      return {};
    },
    [`Get${K}Policy`]: async (ctx) => {
      const name = principal(ctx);
      const pname = policyName(ctx);
      const doc = await ctx.cloud.iam.policies.getInline(acct(ctx), kind, name, pname);
      return { [nameMember]: name, PolicyName: pname, PolicyDocument: encodeURIComponent(doc) };
    },
    [`Delete${K}Policy`]: async (ctx) => {
      await ctx.cloud.iam.policies.deleteInline(acct(ctx), kind, principal(ctx), policyName(ctx));
      return {};
    },
    [`List${K}Policies`]: async (ctx) => {
      const p = paged(ctx, await ctx.cloud.iam.policies.inlineNames(acct(ctx), kind, principal(ctx)), (n) => n);
      return { PolicyNames: p.items, IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
  };
}

export const policyActions: Record<string, QueryHandler> = {
  CreatePolicy: async (ctx) => {
    const name = checkName('policyName', req(ctx, 'PolicyName'), POLICY_NAME_MAX);
    const path = checkPath('path', str(ctx, 'Path'));
    const document = checkDocumentText('policyDocument', req(ctx, 'PolicyDocument'));
    const description = checkDescription(str(ctx, 'Description'));
    const tags = checkTags(ctx.input.Tags as Tag[] | undefined);
    const p = await ctx.cloud.iam.policies.create(acct(ctx), { name, path, document, description, tags });
    return { Policy: policyShape(p, { description: true, tags }) };
  },
  GetPolicy: async (ctx) => {
    const p = await ctx.cloud.iam.policies.get(acct(ctx), policyArn(ctx));
    return { Policy: policyShape(p, { description: true, tags: p.aws ? [] : (await ctx.cloud.iam.policies.tagsOf(acct(ctx), p.arn)) }) };
  },
  ListPolicies: async (ctx) => {
    if (str(ctx, 'PolicyUsageFilter') === 'PermissionsBoundary') return { Policies: [], IsTruncated: false };
    const all = await ctx.cloud.iam.policies.list(acct(ctx), {
      scope: str(ctx, 'Scope') as 'All' | 'AWS' | 'Local' | undefined, onlyAttached: ctx.input.OnlyAttached as boolean | undefined,
      pathPrefix: checkPathPrefix(str(ctx, 'PathPrefix')),
    });
    const p = paged(ctx, all, (x) => x.arn);
    return { Policies: p.items.map((x) => policyShape(x)), IsTruncated: p.IsTruncated, Marker: p.Marker };
  },
  DeletePolicy: async (ctx) => {
    await ctx.cloud.iam.policies.delete(acct(ctx), policyArn(ctx));
    return {};
  },
  GetPolicyVersion: async (ctx) => ({
    PolicyVersion: versionShape(await ctx.cloud.iam.policies.getVersion(acct(ctx), policyArn(ctx), req(ctx, 'VersionId')), true),
  }),
  ListPolicyVersions: async (ctx) => {
    const all = await ctx.cloud.iam.policies.listVersions(acct(ctx), policyArn(ctx));
    // Newest first: the marker is the position, not the name (v10 sorts before v9 as text).
    const keyed = all.map((v, i) => ({ v, key: String(i).padStart(4, '0') }));
    const p = paged(ctx, keyed, (k) => k.key);
    return { Versions: p.items.map((k) => versionShape(k.v, false)), IsTruncated: p.IsTruncated, Marker: p.Marker };
  },
  CreatePolicyVersion: async (ctx) => {
    const v = await ctx.cloud.iam.policies.createVersion(acct(ctx), policyArn(ctx), checkDocumentText('policyDocument', req(ctx, 'PolicyDocument')),
      (ctx.input.SetAsDefault as boolean | undefined) ?? false);
    return { PolicyVersion: versionShape(v, false) };
  },
  DeletePolicyVersion: async (ctx) => {
    await ctx.cloud.iam.policies.deleteVersion(acct(ctx), policyArn(ctx), req(ctx, 'VersionId'));
    return {};
  },
  SetDefaultPolicyVersion: async (ctx) => {
    await ctx.cloud.iam.policies.setDefaultVersion(acct(ctx), policyArn(ctx), req(ctx, 'VersionId'));
    return {};
  },
  ListEntitiesForPolicy: async (ctx) => {
    const filter = str(ctx, 'EntityFilter');
    const e = await ctx.cloud.iam.policies.entitiesFor(acct(ctx), policyArn(ctx), checkPathPrefix(str(ctx, 'PathPrefix')));
    const all = [
      ...(!filter || filter === 'User' ? e.users.map((u) => ({ kind: 'user' as const, ...u })) : []),
      ...(!filter || filter === 'Role' ? e.roles.map((r) => ({ kind: 'role' as const, ...r })) : []),
    ];
    const p = paged(ctx, all, (x) => `${x.kind === 'user' ? 1 : 2}:${x.name}`);
    return {
      PolicyGroups: [],
      PolicyUsers: p.items.filter((x) => x.kind === 'user').map((x) => ({ UserName: x.name, UserId: x.id })),
      PolicyRoles: p.items.filter((x) => x.kind === 'role').map((x) => ({ RoleName: x.name, RoleId: x.id })),
      IsTruncated: p.IsTruncated, Marker: p.Marker,
    };
  },
  TagPolicy: async (ctx) => {
    await ctx.cloud.iam.policies.tag(acct(ctx), policyArn(ctx), checkTags(ctx.input.Tags as Tag[]));
    return {};
  },
  UntagPolicy: async (ctx) => {
    await ctx.cloud.iam.policies.untag(acct(ctx), policyArn(ctx), checkTagKeys(ctx.input.TagKeys as string[]));
    return {};
  },
  ListPolicyTags: async (ctx) => {
    const p = paged(ctx, await ctx.cloud.iam.policies.tagsOf(acct(ctx), policyArn(ctx)), (t) => t.Key);
    return { Tags: p.items, IsTruncated: p.IsTruncated, Marker: p.Marker };
  },
  ...principalActions('user'),
  ...principalActions('role'),
};
