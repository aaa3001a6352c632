/**
 * Long-term access keys of IAM users (AKIA…) and of the account's root (pcloud's PCLD…): at most two each, as AWS's
 * quota; an inactive key signs nothing from the moment it is made inactive; the secret is only ever in CreateAccessKey's
 * answer. `user` undefined is the account's root.
 */
import { randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { accessKeys } from '../../db/tables.js';
import type { Accounts } from '../accounts.js';
import { CloudError } from '../errors.js';
import { iamId, invalid } from './names.js';
import type { Users } from './users.js';
import { write } from '../../db/store.js';

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

  /** The keys of a user (it must exist), or of the root, by id (the order ListAccessKeys pages in). */
  async list(accountId: string, user: string | undefined): Promise<KeyRow[]> {
    const owner = await this.owner(accountId, user);
    return await this.db.select().from(accessKeys).where(and(eq(accessKeys.accountId, accountId), owner)).orderBy(accessKeys.accessKeyId);
  }

  private async owner(accountId: string, user: string | undefined) {
    if (user === undefined) return isNull(accessKeys.userName);
    return eq(accessKeys.userName, (await this.users.require(accountId, user)).name);
  }

  /** A new active key (its secret is in the row returned, and nowhere else it is answered). */
  async create(accountId: string, user: string | undefined): Promise<KeyRow> {
    return await write(this.db, async (tx) => {
      const owner = await this.owner(accountId, user);
      const n = (await tx.select({ id: accessKeys.accessKeyId }).from(accessKeys).where(and(eq(accessKeys.accountId, accountId), owner))).length;
      if (n >= KEYS_PER_USER) throw new CloudError('LimitExceeded', `Cannot exceed quota for AccessKeysPerUser: ${KEYS_PER_USER}`);
      if (user === undefined) {
        const key = await this.accounts.generateKey(accountId);
        return (await tx.select().from(accessKeys).where(eq(accessKeys.accessKeyId, key.accessKeyId)).limit(1))[0]!;
      }
      const row: KeyRow = {
        accessKeyId: iamId('AKIA'), secretAccessKey: newSecret(), accountId, userName: user, status: 'Active',
        lastUsedAt: null, lastUsedService: null, lastUsedRegion: null, createdAt: Date.now(),
      };
      await tx.insert(accessKeys).values(row);
      return row;
    });
  }

  /** The key, if it is the owner's (another user's or another account's key is not found, as AWS). */
  private async own(accountId: string, user: string | undefined, id: string): Promise<KeyRow> {
    checkKeyId(id);
    const row = (await this.db.select().from(accessKeys).where(and(eq(accessKeys.accessKeyId, id), eq(accessKeys.accountId, accountId), await this.owner(accountId, user))).limit(1))[0];
    if (!row) throw notFound(id);
    return row;
  }

  /** Active or Inactive: an inactive key is refused from now on. */
  async setStatus(accountId: string, user: string | undefined, id: string, status: 'Active' | 'Inactive'): Promise<void> {
    await this.own(accountId, user, id);
    await this.db.update(accessKeys).set({ status }).where(eq(accessKeys.accessKeyId, id));
    this.accounts.forget(id);
  }

  async delete(accountId: string, user: string | undefined, id: string): Promise<void> {
    await this.own(accountId, user, id);
    await this.db.delete(accessKeys).where(eq(accessKeys.accessKeyId, id));
    this.accounts.forget(id);
  }

  /** Any key of the account (GetAccessKeyLastUsed), with when, where and for what service it last signed. */
  async find(accountId: string, id: string): Promise<KeyRow> {
    checkKeyId(id);
    const row = (await this.db.select().from(accessKeys).where(and(eq(accessKeys.accessKeyId, id), eq(accessKeys.accountId, accountId))).limit(1))[0];
    if (!row) throw notFound(id);
    return row;
  }
}
