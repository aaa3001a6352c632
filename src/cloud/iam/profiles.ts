/**
 * Instance profiles: the container of (at most) one role that an instance is launched with; the metadata service
 * serves that role's credentials (imds-creds). Deleting one that still has its role is a DeleteConflict, as AWS.
 */
import { inOrder } from '../in-order.js';
import { and, count, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { iamInstanceProfiles } from '../../db/tables.js';
import { CloudError } from '../errors.js';
import { checkName, checkPath, iamArn, iamId, nameInArn } from './names.js';
import type { RoleRow, Roles } from './roles.js';
import { checkTags, type IamTags, type Tag } from './tags.js';
import { write } from '../../db/store.js';

export type ProfileRow = typeof iamInstanceProfiles.$inferSelect;

/** A profile with its role (if it has one). */
export interface Profile {
  profile: ProfileRow;
  role?: RoleRow;
}

export const PROFILE_NAME_MAX = 128;

export const profileArn = (p: Pick<ProfileRow, 'accountId' | 'path' | 'name'>) => iamArn(p.accountId, 'instance-profile', p.path, p.name);

const notFound = (name: string) => new CloudError('NoSuchEntity', `Instance Profile ${name} cannot be found.`);

export class Profiles {
  constructor(private readonly db: Db, private readonly roles: Roles, private readonly tags: IamTags) {}

  private async row(accountId: string, name: string, tx: Pick<Db, 'select'> = this.db): Promise<ProfileRow | undefined> {
    return (await tx.select().from(iamInstanceProfiles).where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name))).limit(1))[0];
  }

  /**
   * The account's profile by name or by ARN (as RunInstances' IamInstanceProfile gives either), with its role; undefined
   * if there is none (another account's ARN included).
   */
  async get(accountId: string, nameOrArn: string): Promise<Profile | undefined> {
    const name = nameOrArn.startsWith('arn:') ? nameInArn(nameOrArn, accountId, 'instance-profile') : nameOrArn;
    if (name === undefined) return undefined;
    const profile = await this.row(accountId, name);
    if (!profile) return undefined;
    // An ARN names the profile with its path: another path is another profile.
    if (nameOrArn.startsWith('arn:') && profileArn(profile) !== nameOrArn) return undefined;
    const role = profile.roleName === null ? undefined : (await this.roles.get(accountId, profile.roleName));
    return role ? { profile, role } : { profile };
  }

  /** The profile with its role, or NoSuchEntity as AWS words it. */
  async require(accountId: string, name: string): Promise<Profile> {
    const p = await this.get(accountId, checkName('instanceProfileName', name, PROFILE_NAME_MAX));
    if (!p) throw notFound(name);
    return p;
  }

  async create(accountId: string, input: { name: string; path?: string; tags?: readonly Tag[] }): Promise<Profile> {
    const name = checkName('instanceProfileName', input.name, PROFILE_NAME_MAX);
    const path = checkPath('path', input.path);
    const tags = checkTags(input.tags);
    return await write(this.db, async (tx) => {
      const clash = (await tx.select({ name: iamInstanceProfiles.name }).from(iamInstanceProfiles)
        .where(and(eq(iamInstanceProfiles.accountId, accountId), sql`lower(${iamInstanceProfiles.name}) = lower(${name})`)).limit(1))[0];
      if (clash) throw new CloudError('EntityAlreadyExists', `Instance Profile ${name} already exists.`);
      const profile: ProfileRow = { accountId, name, profileId: iamId('AIPA'), path, roleName: null, createdAt: Date.now() };
      await tx.insert(iamInstanceProfiles).values(profile);
      await this.tags.put(accountId, 'instance-profile', name, tags, tx);
      return { profile };
    });
  }

  /** The account's profiles under a path prefix, by name, with their roles. */
  async list(accountId: string, pathPrefix = '/'): Promise<Profile[]> {
    const rows = (await this.db.select().from(iamInstanceProfiles).where(eq(iamInstanceProfiles.accountId, accountId)))
      .filter((p) => p.path.startsWith(pathPrefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return await inOrder(rows, (profile) => this.withRole(profile));
  }

  /** The profiles that hold the role (it must exist). */
  async listForRole(accountId: string, roleName: string): Promise<Profile[]> {
    const role = await this.roles.require(accountId, roleName);
    return (await this.db.select().from(iamInstanceProfiles)
      .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.roleName, role.name))))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((profile) => ({ profile, role }));
  }

  private async withRole(profile: ProfileRow): Promise<Profile> {
    const role = profile.roleName === null ? undefined : (await this.roles.get(profile.accountId, profile.roleName));
    return role ? { profile, role } : { profile };
  }

  async delete(accountId: string, name: string): Promise<void> {
    checkName('instanceProfileName', name, PROFILE_NAME_MAX);
    await write(this.db, async (tx) => {
      const p = await this.row(accountId, name, tx);
      if (!p) throw notFound(name);
      if (p.roleName !== null) throw new CloudError('DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.');
      await this.tags.clear(accountId, 'instance-profile', name, tx);
      await tx.delete(iamInstanceProfiles).where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name)));
    });
  }

  /** AddRoleToInstanceProfile: a profile holds one role, as AWS's quota. */
  async addRole(accountId: string, name: string, roleName: string): Promise<void> {
    checkName('instanceProfileName', name, PROFILE_NAME_MAX);
    await write(this.db, async (tx) => {
      const p = await this.row(accountId, name, tx);
      if (!p) throw notFound(name);
      await this.roles.require(accountId, roleName);
      if (p.roleName !== null) throw new CloudError('LimitExceeded', 'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1');
      await tx.update(iamInstanceProfiles).set({ roleName })
        .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name)));
    });
  }

  /** RemoveRoleFromInstanceProfile: the role must be the profile's. */
  async removeRole(accountId: string, name: string, roleName: string): Promise<void> {
    checkName('instanceProfileName', name, PROFILE_NAME_MAX);
    await write(this.db, async (tx) => {
      const p = await this.row(accountId, name, tx);
      if (!p) throw notFound(name);
      await this.roles.require(accountId, roleName);
      if (p.roleName !== roleName) throw new CloudError('NoSuchEntity', `The role with name ${roleName} cannot be found in instance profile ${name}.`);
      await tx.update(iamInstanceProfiles).set({ roleName: null })
        .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name)));
    });
  }

  async count(accountId: string): Promise<number> {
    return (await this.db.select({ n: count() }).from(iamInstanceProfiles).where(eq(iamInstanceProfiles.accountId, accountId)).limit(1))[0]?.n ?? 0;
  }
}
