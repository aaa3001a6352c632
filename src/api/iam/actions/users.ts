/** IAM users (Create/Get/List/Update/Delete, tags) and access keys (Create/List/Update/Delete, last used). */
import { CloudError } from '../../../cloud/errors.js';
import { arnOf } from '../../../cloud/iam/identity.js';
import type { KeyRow } from '../../../cloud/iam/keys.js';
import { checkPathPrefix } from '../../../cloud/iam/names.js';
import { page } from '../../../cloud/iam/paging.js';
import { checkTagKeys, checkTags, type Tag } from '../../../cloud/iam/tags.js';
import type { QueryHandler } from '../../query/endpoint.js';
import { keyOwner, paging, str, tagsIn, userOut } from '../wire.js';

const keyMeta = (k: KeyRow) => ({
  ...(k.userName !== null ? { UserName: k.userName } : {}), AccessKeyId: k.accessKeyId, Status: k.status, CreateDate: new Date(k.createdAt),
});

export const userActions: Record<string, QueryHandler> = {
  CreateUser: async ({ cloud, principal, input }) => {
    const user = await cloud.iam.users.create(principal.accountId, { name: str(input, 'UserName')!, path: str(input, 'Path'), tags: tagsIn(input) });
    return { User: userOut(user, await cloud.iam.tags.list(user.accountId, 'user', user.name)) };
  },
  GetUser: async ({ cloud, principal, input }) => {
    const name = str(input, 'UserName');
    const id = principal.identity;
    if (name === undefined && id.kind === 'root') {
      // The root is no IAM user: AWS answers with the account as its id and the root's ARN.
      return { User: { UserId: principal.accountId, Arn: arnOf(id), CreateDate: (await cloud.accounts.createdAt(principal.accountId)) ?? new Date(0) } };
    }
    if (name === undefined && id.kind !== 'user') throw new CloudError('ValidationError', 'Must specify userName when calling with non-User credentials');
    const user = await cloud.iam.users.require(principal.accountId, name ?? (id.kind === 'user' ? id.name : ''));
    return { User: userOut(user, await cloud.iam.tags.list(user.accountId, 'user', user.name)) };
  },
  ListUsers: async ({ cloud, principal, input }) => {
    const p = page(await cloud.iam.users.list(principal.accountId, checkPathPrefix(str(input, 'PathPrefix'))), (u) => u.name, input);
    return { Users: p.items.map((u) => userOut(u)), ...paging(p) };
  },
  UpdateUser: async ({ cloud, principal, input }) => {
    await cloud.iam.users.update(principal.accountId, str(input, 'UserName')!, { newName: str(input, 'NewUserName'), newPath: str(input, 'NewPath') });
    return {};
  },
  DeleteUser: async ({ cloud, principal, input }) => {
    await cloud.iam.users.delete(principal.accountId, str(input, 'UserName')!);
    return {};
  },
  TagUser: async ({ cloud, principal, input }) => {
    const user = await cloud.iam.users.require(principal.accountId, str(input, 'UserName')!);
    await cloud.iam.tags.put(user.accountId, 'user', user.name, checkTags(tagsIn(input)));
    return {};
  },
  UntagUser: async ({ cloud, principal, input }) => {
    const user = await cloud.iam.users.require(principal.accountId, str(input, 'UserName')!);
    await cloud.iam.tags.remove(user.accountId, 'user', user.name, checkTagKeys(input.TagKeys as string[]));
    return {};
  },
  ListUserTags: async ({ cloud, principal, input }) => {
    const user = await cloud.iam.users.require(principal.accountId, str(input, 'UserName')!);
    const p = page(await cloud.iam.tags.list(user.accountId, 'user', user.name), (t: Tag) => t.Key, input);
    return { Tags: p.items, ...paging(p) };
  },

  CreateAccessKey: async ({ cloud, principal, input }) => {
    const k = await cloud.iam.keys.create(principal.accountId, keyOwner(principal, input));
    return { AccessKey: { ...keyMeta(k), SecretAccessKey: k.secretAccessKey } };
  },
  ListAccessKeys: async ({ cloud, principal, input }) => {
    const p = page(await cloud.iam.keys.list(principal.accountId, keyOwner(principal, input)), (k) => k.accessKeyId, input);
    return { AccessKeyMetadata: p.items.map(keyMeta), ...paging(p) };
  },
  UpdateAccessKey: async ({ cloud, principal, input }) => {
    await cloud.iam.keys.setStatus(principal.accountId, keyOwner(principal, input), str(input, 'AccessKeyId')!, str(input, 'Status') as 'Active' | 'Inactive');
    return {};
  },
  DeleteAccessKey: async ({ cloud, principal, input }) => {
    await cloud.iam.keys.delete(principal.accountId, keyOwner(principal, input), str(input, 'AccessKeyId')!);
    return {};
  },
  GetAccessKeyLastUsed: async ({ cloud, principal, input }) => {
    const k = await cloud.iam.keys.find(principal.accountId, str(input, 'AccessKeyId')!);
    return {
      ...(k.userName !== null ? { UserName: k.userName } : {}),
      AccessKeyLastUsed: k.lastUsedAt === null
        ? { ServiceName: 'N/A', Region: 'N/A' }
        : { LastUsedDate: new Date(k.lastUsedAt), ServiceName: k.lastUsedService ?? 'N/A', Region: k.lastUsedRegion ?? 'N/A' },
    };
  },
};
