/**
 * IAM users: a name and a path in an account, with access keys (keys.ts), policies (the "enforce" part) and tags.
 * Deleting one that still has keys or policies is a DeleteConflict, as AWS.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { accessKeys, iamAttachments, iamInlinePolicies, iamUsers, stsSessions } from '../../db/schema.js';
import type { Accounts } from '../accounts.js';
import { CloudError } from '../errors.js';
import { checkName, checkPath, iamArn, iamId } from './names.js';
import { checkTags, type IamTags, type Tag } from './tags.js';

export type UserRow = typeof iamUsers.$inferSelect;

export const USER_NAME_MAX = 64;

export const userArn = (u: Pick<UserRow, 'accountId' | 'path' | 'name'>) => iamArn(u.accountId, 'user', u.path, u.name);

const notFound = (name: string) => new CloudError('NoSuchEntity', `The user with name ${name} cannot be found.`);

const byName = (accountId: string, name: string) => and(eq(iamUsers.accountId, accountId), eq(iamUsers.name, name));

export class Users {
  constructor(private readonly db: Db, private readonly accounts: Accounts, private readonly tags: IamTags) {}

  /** The user of that name in the account (exactly), if any. */
  get(accountId: string, name: string): UserRow | undefined {
    return this.db.select().from(iamUsers).where(byName(accountId, name)).get();
  }

  /** The user, or NoSuchEntity as AWS words it (a name IAM could not have is a ValidationError). */
  require(accountId: string, name: string): UserRow {
    const user = this.get(accountId, checkName('userName', name, USER_NAME_MAX));
    if (!user) throw notFound(name);
    return user;
  }

  create(accountId: string, input: { name: string; path?: string; tags?: readonly Tag[] }): UserRow {
    const name = checkName('userName', input.name, USER_NAME_MAX);
    const path = checkPath('path', input.path);
    const tags = checkTags(input.tags);
    return this.db.transaction((tx) => {
      // User names are unique regardless of case, as AWS's.
      if (this.clash(accountId, name, tx)) throw new CloudError('EntityAlreadyExists', `User with name ${name} already exists.`);
      this.accounts.ensureAccount(accountId);
      const row: UserRow = { accountId, name, userId: iamId('AIDA'), path, createdAt: Date.now() };
      tx.insert(iamUsers).values(row).run();
      this.tags.put(accountId, 'user', name, tags, tx);
      return row;
    });
  }

  private clash(accountId: string, name: string, tx: Pick<Db, 'select'>, except?: string): boolean {
    return tx.select({ name: iamUsers.name }).from(iamUsers)
      .where(and(eq(iamUsers.accountId, accountId), sql`lower(${iamUsers.name}) = lower(${name})`)).all()
      .some((u) => u.name !== except);
  }

  /** The account's users under a path prefix, by name. */
  list(accountId: string, pathPrefix = '/'): UserRow[] {
    return this.db.select().from(iamUsers).where(eq(iamUsers.accountId, accountId)).all()
      .filter((u) => u.path.startsWith(pathPrefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** UpdateUser: a new name (its keys, tags and policies move with it) and/or path. */
  update(accountId: string, name: string, change: { newName?: string; newPath?: string }): void {
    const user = this.require(accountId, name);
    const newName = change.newName === undefined ? name : checkName('newUserName', change.newName, USER_NAME_MAX);
    const newPath = change.newPath === undefined ? user.path : checkPath('newPath', change.newPath);
    this.db.transaction((tx) => {
      if (newName !== name && this.clash(accountId, newName, tx, name)) throw new CloudError('EntityAlreadyExists', `User with name ${newName} already exists.`);
      tx.update(iamUsers).set({ name: newName, path: newPath }).where(byName(accountId, name)).run();
      if (newName === name) return;
      this.tags.rename(accountId, 'user', name, newName, tx);
      tx.update(iamAttachments).set({ principalName: newName })
        .where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.principalKind, 'user'), eq(iamAttachments.principalName, name))).run();
      tx.update(iamInlinePolicies).set({ principalName: newName })
        .where(and(eq(iamInlinePolicies.accountId, accountId), eq(iamInlinePolicies.principalKind, 'user'), eq(iamInlinePolicies.principalName, name))).run();
      tx.update(stsSessions).set({ name: newName })
        .where(and(eq(stsSessions.accountId, accountId), eq(stsSessions.kind, 'user'), eq(stsSessions.name, name))).run();
      tx.update(accessKeys).set({ userName: newName }).where(and(eq(accessKeys.accountId, accountId), eq(accessKeys.userName, name))).run();
    });
    // Its keys sign as the user's new name and path at once.
    const keys = this.db.select({ id: accessKeys.accessKeyId }).from(accessKeys)
      .where(and(eq(accessKeys.accountId, accountId), eq(accessKeys.userName, newName))).all();
    for (const k of keys) this.accounts.forget(k.id);
  }

  delete(accountId: string, name: string): void {
    checkName('userName', name, USER_NAME_MAX);
    this.db.transaction((tx) => {
      if (!tx.select({ n: iamUsers.name }).from(iamUsers).where(byName(accountId, name)).get()) throw notFound(name);
      const key = tx.select({ id: accessKeys.accessKeyId }).from(accessKeys)
        .where(and(eq(accessKeys.accountId, accountId), eq(accessKeys.userName, name))).limit(1).get();
      if (key) throw new CloudError('DeleteConflict', 'Cannot delete entity, must delete access keys first.');
      const attached = tx.select({ n: iamAttachments.policyArn }).from(iamAttachments)
        .where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.principalKind, 'user'), eq(iamAttachments.principalName, name))).limit(1).get();
      if (attached) throw new CloudError('DeleteConflict', 'Cannot delete entity, must detach all policies first.');
      const inline = tx.select({ n: iamInlinePolicies.policyName }).from(iamInlinePolicies)
        .where(and(eq(iamInlinePolicies.accountId, accountId), eq(iamInlinePolicies.principalKind, 'user'), eq(iamInlinePolicies.principalName, name))).limit(1).get();
      if (inline) throw new CloudError('DeleteConflict', 'Cannot delete entity, must delete policies first.');
      this.tags.clear(accountId, 'user', name, tx);
      // Its session tokens (GetSessionToken) end with it.
      tx.delete(stsSessions).where(and(eq(stsSessions.accountId, accountId), eq(stsSessions.kind, 'user'), eq(stsSessions.name, name))).run();
      tx.delete(iamUsers).where(byName(accountId, name)).run();
    });
  }

  count(accountId: string): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(iamUsers).where(eq(iamUsers.accountId, accountId)).get()?.n ?? 0;
  }
}
