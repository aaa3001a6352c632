/**
 * IAM users: a name and a path in an account, with access keys (keys.ts), policies (the "enforce" part) and tags.
 * Deleting one that still has keys or policies is a DeleteConflict, as AWS.
 */
import { and, count, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { accessKeys, iamAttachments, iamInlinePolicies, iamUsers, stsSessions } from '../../db/tables.js';
import type { Accounts } from '../accounts.js';
import { CloudError } from '../errors.js';
import { checkName, checkPath, iamArn, iamId } from './names.js';
import { checkTags, type IamTags, type Tag } from './tags.js';
import { write } from '../../db/store.js';

export type UserRow = typeof iamUsers.$inferSelect;

export const USER_NAME_MAX = 64;

export const userArn = (u: Pick<UserRow, 'accountId' | 'path' | 'name'>) => iamArn(u.accountId, 'user', u.path, u.name);

const notFound = (name: string) => new CloudError('NoSuchEntity', `The user with name ${name} cannot be found.`);

const byName = (accountId: string, name: string) => and(eq(iamUsers.accountId, accountId), eq(iamUsers.name, name));

export class Users {
  constructor(private readonly db: Db, private readonly accounts: Accounts, private readonly tags: IamTags) {}

  /** The user of that name in the account (exactly), if any. */
  async get(accountId: string, name: string): Promise<UserRow | undefined> {
    return (await this.db.select().from(iamUsers).where(byName(accountId, name)).limit(1))[0];
  }

  /** The user, or NoSuchEntity as AWS words it (a name IAM could not have is a ValidationError). */
  async require(accountId: string, name: string): Promise<UserRow> {
    const user = await this.get(accountId, checkName('userName', name, USER_NAME_MAX));
    if (!user) throw notFound(name);
    return user;
  }

  async create(accountId: string, input: { name: string; path?: string; tags?: readonly Tag[] }): Promise<UserRow> {
    const name = checkName('userName', input.name, USER_NAME_MAX);
    const path = checkPath('path', input.path);
    const tags = checkTags(input.tags);
    return await write(this.db, async (tx) => {
      // User names are unique regardless of case, as AWS's.
      if ((await this.clash(accountId, name, tx))) throw new CloudError('EntityAlreadyExists', `User with name ${name} already exists.`);
      await this.accounts.ensureAccount(accountId);
      const row: UserRow = { accountId, name, userId: iamId('AIDA'), path, createdAt: Date.now() };
      await tx.insert(iamUsers).values(row);
      await this.tags.put(accountId, 'user', name, tags, tx);
      return row;
    });
  }

  private async clash(accountId: string, name: string, tx: Pick<Db, 'select'>, except?: string): Promise<boolean> {
    return (await tx.select({ name: iamUsers.name }).from(iamUsers)
      .where(and(eq(iamUsers.accountId, accountId), sql`lower(${iamUsers.name}) = lower(${name})`)))
      .some((u) => u.name !== except);
  }

  /** The account's users under a path prefix, by name. */
  async list(accountId: string, pathPrefix = '/'): Promise<UserRow[]> {
    return (await this.db.select().from(iamUsers).where(eq(iamUsers.accountId, accountId)))
      .filter((u) => u.path.startsWith(pathPrefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** UpdateUser: a new name (its keys, tags and policies move with it) and/or path. */
  async update(accountId: string, name: string, change: { newName?: string; newPath?: string }): Promise<void> {
    const user = await this.require(accountId, name);
    const newName = change.newName === undefined ? name : checkName('newUserName', change.newName, USER_NAME_MAX);
    const newPath = change.newPath === undefined ? user.path : checkPath('newPath', change.newPath);
    await write(this.db, async (tx) => {
      if (newName !== name && (await this.clash(accountId, newName, tx, name))) throw new CloudError('EntityAlreadyExists', `User with name ${newName} already exists.`);
      await tx.update(iamUsers).set({ name: newName, path: newPath }).where(byName(accountId, name));
      if (newName === name) return;
      await this.tags.rename(accountId, 'user', name, newName, tx);
      await tx.update(iamAttachments).set({ principalName: newName })
        .where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.principalKind, 'user'), eq(iamAttachments.principalName, name)));
      await tx.update(iamInlinePolicies).set({ principalName: newName })
        .where(and(eq(iamInlinePolicies.accountId, accountId), eq(iamInlinePolicies.principalKind, 'user'), eq(iamInlinePolicies.principalName, name)));
      await tx.update(stsSessions).set({ name: newName })
        .where(and(eq(stsSessions.accountId, accountId), eq(stsSessions.kind, 'user'), eq(stsSessions.name, name)));
      await tx.update(accessKeys).set({ userName: newName }).where(and(eq(accessKeys.accountId, accountId), eq(accessKeys.userName, name)));
    });
    // Its keys sign as the user's new name and path at once.
    const keys = await this.db.select({ id: accessKeys.accessKeyId }).from(accessKeys)
      .where(and(eq(accessKeys.accountId, accountId), eq(accessKeys.userName, newName)));
    for (const k of keys) this.accounts.forget(k.id);
  }

  async delete(accountId: string, name: string): Promise<void> {
    checkName('userName', name, USER_NAME_MAX);
    await write(this.db, async (tx) => {
      if (!(await tx.select({ n: iamUsers.name }).from(iamUsers).where(byName(accountId, name)).limit(1))[0]) throw notFound(name);
      const key = (await tx.select({ id: accessKeys.accessKeyId }).from(accessKeys)
        .where(and(eq(accessKeys.accountId, accountId), eq(accessKeys.userName, name))).limit(1))[0];
      if (key) throw new CloudError('DeleteConflict', 'Cannot delete entity, must delete access keys first.');
      const attached = (await tx.select({ n: iamAttachments.policyArn }).from(iamAttachments)
        .where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.principalKind, 'user'), eq(iamAttachments.principalName, name))).limit(1))[0];
      if (attached) throw new CloudError('DeleteConflict', 'Cannot delete entity, must detach all policies first.');
      const inline = (await tx.select({ n: iamInlinePolicies.policyName }).from(iamInlinePolicies)
        .where(and(eq(iamInlinePolicies.accountId, accountId), eq(iamInlinePolicies.principalKind, 'user'), eq(iamInlinePolicies.principalName, name))).limit(1))[0];
      if (inline) throw new CloudError('DeleteConflict', 'Cannot delete entity, must delete policies first.');
      await this.tags.clear(accountId, 'user', name, tx);
      // Its session tokens (GetSessionToken) end with it.
      await tx.delete(stsSessions).where(and(eq(stsSessions.accountId, accountId), eq(stsSessions.kind, 'user'), eq(stsSessions.name, name)));
      await tx.delete(iamUsers).where(byName(accountId, name));
    });
  }

  async count(accountId: string): Promise<number> {
    return (await this.db.select({ n: count() }).from(iamUsers).where(eq(iamUsers.accountId, accountId)).limit(1))[0]?.n ?? 0;
  }
}
