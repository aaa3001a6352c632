/**
 * Instance profiles: the container of (at most) one role that an instance is launched with; the metadata service
 * serves that role's credentials (imds-creds). Deleting one that still has its role is a DeleteConflict, as AWS.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { iamInstanceProfiles } from '../../db/schema.js';
import { CloudError } from '../errors.js';
import { checkName, checkPath, iamArn, iamId, nameInArn } from './names.js';
import type { RoleRow, Roles } from './roles.js';
import { checkTags, type IamTags, type Tag } from './tags.js';

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

  private row(accountId: string, name: string, tx: Pick<Db, 'select'> = this.db): ProfileRow | undefined {
    return tx.select().from(iamInstanceProfiles).where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name))).get();
  }

  /**
   * The account's profile by name or by ARN (as RunInstances' IamInstanceProfile gives either), with its role; undefined
   * if there is none (another account's ARN included).
   */
  get(accountId: string, nameOrArn: string): Profile | undefined {
    const name = nameOrArn.startsWith('arn:') ? nameInArn(nameOrArn, accountId, 'instance-profile') : nameOrArn;
    if (name === undefined) return undefined;
    const profile = this.row(accountId, name);
    if (!profile) return undefined;
    // An ARN names the profile with its path: another path is another profile.
    if (nameOrArn.startsWith('arn:') && profileArn(profile) !== nameOrArn) return undefined;
    const role = profile.roleName === null ? undefined : this.roles.get(accountId, profile.roleName);
    return role ? { profile, role } : { profile };
  }

  /** The profile with its role, or NoSuchEntity as AWS words it. */
  require(accountId: string, name: string): Profile {
    const p = this.get(accountId, checkName('instanceProfileName', name, PROFILE_NAME_MAX));
    if (!p) throw notFound(name);
    return p;
  }

  create(accountId: string, input: { name: string; path?: string; tags?: readonly Tag[] }): Profile {
    const name = checkName('instanceProfileName', input.name, PROFILE_NAME_MAX);
    const path = checkPath('path', input.path);
    const tags = checkTags(input.tags);
    return this.db.transaction((tx) => {
      const clash = tx.select({ name: iamInstanceProfiles.name }).from(iamInstanceProfiles)
        .where(and(eq(iamInstanceProfiles.accountId, accountId), sql`lower(${iamInstanceProfiles.name}) = lower(${name})`)).get();
      if (clash) throw new CloudError('EntityAlreadyExists', `Instance Profile ${name} already exists.`);
      const profile: ProfileRow = { accountId, name, profileId: iamId('AIPA'), path, roleName: null, createdAt: Date.now() };
      tx.insert(iamInstanceProfiles).values(profile).run();
      this.tags.put(accountId, 'instance-profile', name, tags, tx);
      return { profile };
    });
  }

  /** The account's profiles under a path prefix, by name, with their roles. */
  list(accountId: string, pathPrefix = '/'): Profile[] {
    return this.db.select().from(iamInstanceProfiles).where(eq(iamInstanceProfiles.accountId, accountId)).all()
      .filter((p) => p.path.startsWith(pathPrefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((profile) => this.withRole(profile));
  }

  /** The profiles that hold the role (it must exist). */
  listForRole(accountId: string, roleName: string): Profile[] {
    const role = this.roles.require(accountId, roleName);
    return this.db.select().from(iamInstanceProfiles)
      .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.roleName, role.name))).all()
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((profile) => ({ profile, role }));
  }

  private withRole(profile: ProfileRow): Profile {
    const role = profile.roleName === null ? undefined : this.roles.get(profile.accountId, profile.roleName);
    return role ? { profile, role } : { profile };
  }

  delete(accountId: string, name: string): void {
    checkName('instanceProfileName', name, PROFILE_NAME_MAX);
    this.db.transaction((tx) => {
      const p = this.row(accountId, name, tx);
      if (!p) throw notFound(name);
      if (p.roleName !== null) throw new CloudError('DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.');
      this.tags.clear(accountId, 'instance-profile', name, tx);
      tx.delete(iamInstanceProfiles).where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name))).run();
    });
  }

  /** AddRoleToInstanceProfile: a profile holds one role, as AWS's quota. */
  addRole(accountId: string, name: string, roleName: string): void {
    checkName('instanceProfileName', name, PROFILE_NAME_MAX);
    this.db.transaction((tx) => {
      const p = this.row(accountId, name, tx);
      if (!p) throw notFound(name);
      this.roles.require(accountId, roleName);
      if (p.roleName !== null) throw new CloudError('LimitExceeded', 'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1');
      tx.update(iamInstanceProfiles).set({ roleName })
        .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name))).run();
    });
  }

  /** RemoveRoleFromInstanceProfile: the role must be the profile's. */
  removeRole(accountId: string, name: string, roleName: string): void {
    checkName('instanceProfileName', name, PROFILE_NAME_MAX);
    this.db.transaction((tx) => {
      const p = this.row(accountId, name, tx);
      if (!p) throw notFound(name);
      this.roles.require(accountId, roleName);
      if (p.roleName !== roleName) throw new CloudError('NoSuchEntity', `The role with name ${roleName} cannot be found in instance profile ${name}.`);
      tx.update(iamInstanceProfiles).set({ roleName: null })
        .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name))).run();
    });
  }

  count(accountId: string): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(iamInstanceProfiles).where(eq(iamInstanceProfiles.accountId, accountId)).get()?.n ?? 0;
  }
}
