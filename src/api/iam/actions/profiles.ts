/** Instance profiles: Create/Get/List/Delete, their one role, and their tags. */
import { checkPathPrefix } from '../../../cloud/iam/names.js';
import { page } from '../../../cloud/iam/paging.js';
import { checkTagKeys, checkTags, type Tag } from '../../../cloud/iam/tags.js';
import type { QueryHandler } from '../../query/endpoint.js';
import { paging, profileOut, str, tagsIn } from '../wire.js';

export const profileActions: Record<string, QueryHandler> = {
  CreateInstanceProfile: async ({ cloud, principal, input }) => {
    const p = await cloud.iam.profiles.create(principal.accountId, { name: str(input, 'InstanceProfileName')!, path: str(input, 'Path'), tags: tagsIn(input) });
    return { InstanceProfile: profileOut(p, await cloud.iam.tags.list(p.profile.accountId, 'instance-profile', p.profile.name)) };
  },
  GetInstanceProfile: async ({ cloud, principal, input }) => {
    const p = await cloud.iam.profiles.require(principal.accountId, str(input, 'InstanceProfileName')!);
    return { InstanceProfile: profileOut(p, await cloud.iam.tags.list(p.profile.accountId, 'instance-profile', p.profile.name)) };
  },
  ListInstanceProfiles: async ({ cloud, principal, input }) => {
    const p = page(await cloud.iam.profiles.list(principal.accountId, checkPathPrefix(str(input, 'PathPrefix'))), (x) => x.profile.name, input);
    return { InstanceProfiles: p.items.map((x) => profileOut(x)), ...paging(p) };
  },
  ListInstanceProfilesForRole: async ({ cloud, principal, input }) => {
    const p = page(await cloud.iam.profiles.listForRole(principal.accountId, str(input, 'RoleName')!), (x) => x.profile.name, input);
    return { InstanceProfiles: p.items.map((x) => profileOut(x)), ...paging(p) };
  },
  DeleteInstanceProfile: async ({ cloud, principal, input }) => {
    await cloud.iam.profiles.delete(principal.accountId, str(input, 'InstanceProfileName')!);
    return {};
  },
  AddRoleToInstanceProfile: async ({ cloud, principal, input }) => {
    await cloud.iam.profiles.addRole(principal.accountId, str(input, 'InstanceProfileName')!, str(input, 'RoleName')!);
    return {};
  },
  RemoveRoleFromInstanceProfile: async ({ cloud, principal, input }) => {
    await cloud.iam.profiles.removeRole(principal.accountId, str(input, 'InstanceProfileName')!, str(input, 'RoleName')!);
    return {};
  },
  TagInstanceProfile: async ({ cloud, principal, input }) => {
    const { profile } = await cloud.iam.profiles.require(principal.accountId, str(input, 'InstanceProfileName')!);
    await cloud.iam.tags.put(profile.accountId, 'instance-profile', profile.name, checkTags(tagsIn(input)));
    return {};
  },
  UntagInstanceProfile: async ({ cloud, principal, input }) => {
    const { profile } = await cloud.iam.profiles.require(principal.accountId, str(input, 'InstanceProfileName')!);
    await cloud.iam.tags.remove(profile.accountId, 'instance-profile', profile.name, checkTagKeys(input.TagKeys as string[]));
    return {};
  },
  ListInstanceProfileTags: async ({ cloud, principal, input }) => {
    const { profile } = await cloud.iam.profiles.require(principal.accountId, str(input, 'InstanceProfileName')!);
    const p = page(await cloud.iam.tags.list(profile.accountId, 'instance-profile', profile.name), (t: Tag) => t.Key, input);
    return { Tags: p.items, ...paging(p) };
  },
};
