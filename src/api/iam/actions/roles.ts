/** IAM roles: Create/Get/List/Update/Delete, the trust policy, and their tags. */
import { checkPathPrefix } from '../../../cloud/iam/names.js';
import { page } from '../../../cloud/iam/paging.js';
import { checkTagKeys, checkTags, type Tag } from '../../../cloud/iam/tags.js';
import type { QueryHandler } from '../../query/endpoint.js';
import { num, paging, roleOut, str, tagsIn } from '../wire.js';

export const roleActions: Record<string, QueryHandler> = {
  CreateRole: ({ cloud, principal, input }) => {
    const role = cloud.iam.roles.create(principal.accountId, {
      name: str(input, 'RoleName')!, path: str(input, 'Path'), assumeRolePolicy: str(input, 'AssumeRolePolicyDocument')!,
      description: str(input, 'Description'), maxSessionDuration: num(input, 'MaxSessionDuration'), tags: tagsIn(input),
    });
    return { Role: roleOut(role, cloud.iam.tags.list(role.accountId, 'role', role.name)) };
  },
  GetRole: ({ cloud, principal, input }) => {
    const role = cloud.iam.roles.require(principal.accountId, str(input, 'RoleName')!);
    return { Role: roleOut(role, cloud.iam.tags.list(role.accountId, 'role', role.name)) };
  },
  ListRoles: ({ cloud, principal, input }) => {
    const p = page(cloud.iam.roles.list(principal.accountId, checkPathPrefix(str(input, 'PathPrefix'))), (r) => r.name, input);
    return { Roles: p.items.map((r) => roleOut(r)), ...paging(p) };
  },
  UpdateRole: ({ cloud, principal, input }) => {
    cloud.iam.roles.update(principal.accountId, str(input, 'RoleName')!, {
      description: str(input, 'Description'), maxSessionDuration: num(input, 'MaxSessionDuration'),
    });
    return {};
  },
  UpdateAssumeRolePolicy: ({ cloud, principal, input }) => {
    cloud.iam.roles.updateTrust(principal.accountId, str(input, 'RoleName')!, str(input, 'PolicyDocument')!);
    return {};
  },
  DeleteRole: ({ cloud, principal, input }) => {
    cloud.iam.roles.delete(principal.accountId, str(input, 'RoleName')!);
    return {};
  },
  TagRole: ({ cloud, principal, input }) => {
    const role = cloud.iam.roles.require(principal.accountId, str(input, 'RoleName')!);
    cloud.iam.tags.put(role.accountId, 'role', role.name, checkTags(tagsIn(input)));
    return {};
  },
  UntagRole: ({ cloud, principal, input }) => {
    const role = cloud.iam.roles.require(principal.accountId, str(input, 'RoleName')!);
    cloud.iam.tags.remove(role.accountId, 'role', role.name, checkTagKeys(input.TagKeys as string[]));
    return {};
  },
  ListRoleTags: ({ cloud, principal, input }) => {
    const role = cloud.iam.roles.require(principal.accountId, str(input, 'RoleName')!);
    const p = page(cloud.iam.tags.list(role.accountId, 'role', role.name), (t: Tag) => t.Key, input);
    return { Tags: p.items, ...paging(p) };
  },
};
