/** What IAM's actions share on the wire: reading typed input members, and roles and profiles as AWS writes them. */
import type { Principal } from '../auth/sigv4.js';
import { CloudError } from '../../cloud/errors.js';
import { userArn, type UserRow } from '../../cloud/iam/users.js';
import { roleArn, type RoleRow } from '../../cloud/iam/roles.js';
import { profileArn, type Profile } from '../../cloud/iam/profiles.js';
import type { Tag } from '../../cloud/iam/tags.js';
import type { Page } from '../../cloud/iam/paging.js';

/** A string member (the model's reader typed it). */
export const str = (input: Record<string, unknown>, name: string) => input[name] as string | undefined;
export const num = (input: Record<string, unknown>, name: string) => input[name] as number | undefined;
export const tagsIn = (input: Record<string, unknown>) => input.Tags as Tag[] | undefined;

/**
 * Whose access keys an action means: the UserName given, else the caller's own (a user's; undefined: the root's); a role
 * session has none of its own, as AWS says.
 */
export function keyOwner(p: Principal, input: Record<string, unknown>): string | undefined {
  const name = str(input, 'UserName');
  if (name !== undefined) return name;
  if (p.identity.kind === 'user') return p.identity.name;
  if (p.identity.kind === 'root') return undefined;
  throw new CloudError('ValidationError', 'Must specify userName when calling with non-User credentials');
}

const withTags = (tags: readonly Tag[] | undefined) => (tags && tags.length > 0 ? { Tags: tags } : {});

export function userOut(u: UserRow, tags?: readonly Tag[]): Record<string, unknown> {
  return { Path: u.path, UserName: u.name, UserId: u.userId, Arn: userArn(u), CreateDate: new Date(u.createdAt), ...withTags(tags) };
}

/**
 * A role as IAM writes it: its trust policy URL-encoded, as AWS returns it (the CLI and SDKs decode it). `tags` where
 * the action returns them (GetRole, CreateRole), not in lists (ListRoles leaves them out, as AWS).
 */
export function roleOut(r: RoleRow, tags?: readonly Tag[]): Record<string, unknown> {
  return {
    Path: r.path, RoleName: r.name, RoleId: r.roleId, Arn: roleArn(r), CreateDate: new Date(r.createdAt),
    AssumeRolePolicyDocument: encodeURIComponent(r.assumeRolePolicy),
    ...(r.description !== null ? { Description: r.description } : {}),
    MaxSessionDuration: r.maxSessionDuration,
    ...withTags(tags),
  };
}

export function profileOut(p: Profile, tags?: readonly Tag[]): Record<string, unknown> {
  return {
    Path: p.profile.path, InstanceProfileName: p.profile.name, InstanceProfileId: p.profile.profileId, Arn: profileArn(p.profile),
    CreateDate: new Date(p.profile.createdAt), Roles: p.role ? [roleOut(p.role)] : [], ...withTags(tags),
  };
}

/** A page's paging members (IsTruncated, and Marker when there is more). */
export const paging = (p: Page<unknown>) => ({ IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) });
