/**
 * Long-term access keys of IAM users (AKIA…) and of the account's root (pcloud's PCLD…): at most two each, as AWS's
 * quota; an inactive key signs nothing from the moment it is made inactive; the secret is only ever in CreateAccessKey's
 * answer. `user` undefined is the account's root.
 */
import { randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { accessKeys } from '../../db/schema.js';
import type { Accounts } from '../accounts.js';
import { CloudError } from '../errors.js';
import { iamId, invalid } from './names.js';
import type { Users } from './users.js';

export type KeyRow = typeof accessKeys.$inferSelect;

/** AWS's quota of access keys per user (and root). */
export const KEYS_PER_USER = 2;

const newSecret = () => randomBytes(30).toString('base64').replace(/[+/=]/g, 'x').slice(0, 40);

function checkKeyId(id: string): string {
  if (id.length < 16) throw invalid('accessKeyId', id, 'Member must have length greater than or equal to 16');
  if (id.length > 128) throw invalid('accessKeyId', id, 'Member must have length less than or equal to 128');
  if (!/^\w+$/.test(id)) throw invalid('accessKeyId', id, 'Member must satisfy regular expression pattern: [\\w]+');
  return id;
}

const notFound = (id: string) => new CloudError('NoSuchEntity', `The Access Key with id ${id} cannot be found.`);

export class AccessKeys {
  constructor(private readonly db: Db, private readonly accounts: Accounts, private readonly users: Users) {}

  /** The keys of a user (it must exist), or of the root. */
  list(accountId: string, user: string | undefined): KeyRow[] {
    const owner = this.owner(accountId, user);
    return this.db.select().from(accessKeys).where(and(eq(accessKeys.accountId, accountId), owner)).orderBy(accessKeys.createdAt).all();
  }

  private owner(accountId: string, user: string | undefined) {
    if (user === undefined) return isNull(accessKeys.userName);
    return eq(accessKeys.userName, this.users.require(accountId, user).name);
  }

  /** A new active key (its secret is in the row returned, and nowhere else it is answered). */
  create(accountId: string, user: string | undefined): KeyRow {
    return this.db.transaction((tx) => {
      const owner = this.owner(accountId, user);
      const n = tx.select({ id: accessKeys.accessKeyId }).from(accessKeys).where(and(eq(accessKeys.accountId, accountId), owner)).all().length;
      if (n >= KEYS_PER_USER) throw new CloudError('LimitExceeded', `Cannot exceed quota for AccessKeysPerUser: ${KEYS_PER_USER}`);
      if (user === undefined) {
        const key = this.accounts.generateKey(accountId);
        return tx.select().from(accessKeys).where(eq(accessKeys.accessKeyId, key.accessKeyId)).get()!;
      }
      const row: KeyRow = {
        accessKeyId: iamId('AKIA'), secretAccessKey: newSecret(), accountId, userName: user, status: 'Active',
        lastUsedAt: null, lastUsedService: null, lastUsedRegion: null, createdAt: Date.now(),
      };
      tx.insert(accessKeys).values(row).run();
      return row;
    });
  }

  /** The key, if it is the owner's (another user's or another account's key is not found, as AWS). */
  private own(accountId: string, user: string | undefined, id: string): KeyRow {
    checkKeyId(id);
    const row = this.db.select().from(accessKeys).where(and(eq(accessKeys.accessKeyId, id), eq(accessKeys.accountId, accountId), this.owner(accountId, user))).get();
    if (!row) throw notFound(id);
    return row;
  }

  /** Active or Inactive: an inactive key is refused from now on. */
  setStatus(accountId: string, user: string | undefined, id: string, status: 'Active' | 'Inactive'): void {
    this.own(accountId, user, id);
    this.db.update(accessKeys).set({ status }).where(eq(accessKeys.accessKeyId, id)).run();
    this.accounts.forget(id);
  }

  delete(accountId: string, user: string | undefined, id: string): void {
    this.own(accountId, user, id);
    this.db.delete(accessKeys).where(eq(accessKeys.accessKeyId, id)).run();
    this.accounts.forget(id);
  }

  /** Any key of the account (GetAccessKeyLastUsed), with when, where and for what service it last signed. */
  find(accountId: string, id: string): KeyRow {
    checkKeyId(id);
    const row = this.db.select().from(accessKeys).where(and(eq(accessKeys.accessKeyId, id), eq(accessKeys.accountId, accountId))).get();
    if (!row) throw notFound(id);
    return row;
  }
}
