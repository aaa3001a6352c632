/** IAM roles: Create/Get/List/Update/Delete, the trust policy, and their tags. */
import { checkPathPrefix } from '../../../cloud/iam/names.js';
import { page } from '../../../cloud/iam/paging.js';
import { checkTagKeys, checkTags, type Tag } from '../../../cloud/iam/tags.js';
import type { QueryHandler } from '../../query/endpoint.js';
import { num, paging, roleOut, str, tagsIn } from '../wire.js';

export const roleActions: Record<string, QueryHandler> = {
  CreateRole: async ({ cloud, principal, input }) => {
    const role = await cloud.iam.roles.create(principal.accountId, {
      name: str(input, 'RoleName')!, path: str(input, 'Path'), assumeRolePolicy: str(input, 'AssumeRolePolicyDocument')!,
      description: str(input, 'Description'), maxSessionDuration: num(input, 'MaxSessionDuration'), tags: tagsIn(input),
    });
    return { Role: roleOut(role, await cloud.iam.tags.list(role.accountId, 'role', role.name)) };
  },
  GetRole: async ({ cloud, principal, input }) => {
    const role = await cloud.iam.roles.require(principal.accountId, str(input, 'RoleName')!);
    return { Role: roleOut(role, await cloud.iam.tags.list(role.accountId, 'role', role.name)) };
  },
  ListRoles: async ({ cloud, principal, input }) => {
    const p = page(await cloud.iam.roles.list(principal.accountId, checkPathPrefix(str(input, 'PathPrefix'))), (r) => r.name, input);
    return { Roles: p.items.map((r) => roleOut(r)), ...paging(p) };
  },
  UpdateRole: async ({ cloud, principal, input }) => {
    await cloud.iam.roles.update(principal.accountId, str(input, 'RoleName')!, {
      description: str(input, 'Description'), maxSessionDuration: num(input, 'MaxSessionDuration'),
    });
    return {};
  },
  UpdateAssumeRolePolicy: async ({ cloud, principal, input }) => {
    await cloud.iam.roles.updateTrust(principal.accountId, str(input, 'RoleName')!, str(input, 'PolicyDocument')!);
    return {};
  },
  DeleteRole: async ({ cloud, principal, input }) => {
    await cloud.iam.roles.delete(principal.accountId, str(input, 'RoleName')!);
    return {};
  },
  TagRole: async ({ cloud, principal, input }) => {
    const role = await cloud.iam.roles.require(principal.accountId, str(input, 'RoleName')!);
    await cloud.iam.tags.put(role.accountId, 'role', role.name, checkTags(tagsIn(input)));
    return {};
  },
  UntagRole: async ({ cloud, principal, input }) => {
    const role = await cloud.iam.roles.require(principal.accountId, str(input, 'RoleName')!);
    await cloud.iam.tags.remove(role.accountId, 'role', role.name, checkTagKeys(input.TagKeys as string[]));
    return {};
  },
  ListRoleTags: async ({ cloud, principal, input }) => {
    const role = await cloud.iam.roles.require(principal.accountId, str(input, 'RoleName')!);
    const p = page(await cloud.iam.tags.list(role.accountId, 'role', role.name), (t: Tag) => t.Key, input);
    return { Tags: p.items, ...paging(p) };
  },
};
