/** Accounts and their access keys. Every resource belongs to one account. */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { accessKeys, accounts } from '../db/schema.js';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
}

const AK_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class Accounts {
  private readonly cache = new Map<string, AccessKey>();

  constructor(private readonly db: Db) {}

  ensureAccount(accountId: string): void {
    this.db.insert(accounts).values({ id: accountId, createdAt: Date.now() }).onConflictDoNothing().run();
  }

  /** Create (or update the secret of) a given key. */
  putKey(key: AccessKey): AccessKey {
    this.ensureAccount(key.accountId);
    this.db.insert(accessKeys)
      .values({ ...key, createdAt: Date.now() })
      .onConflictDoUpdate({ target: accessKeys.accessKeyId, set: { secretAccessKey: key.secretAccessKey, accountId: key.accountId } })
      .run();
    this.cache.delete(key.accessKeyId);
    return key;
  }

  generateKey(accountId: string): AccessKey {
    const bytes = randomBytes(16);
    const id = 'PCLD' + Array.from(bytes, (b) => AK_ALPHABET[b % 32]).join('').slice(0, 16);
    const secret = randomBytes(30).toString('base64').replace(/[+/=]/g, 'x').slice(0, 40);
    return this.putKey({ accessKeyId: id, secretAccessKey: secret, accountId });
  }

  findKey(accessKeyId: string): AccessKey | undefined {
    const hit = this.cache.get(accessKeyId);
    if (hit) return hit;
    const row = this.db.select().from(accessKeys).where(eq(accessKeys.accessKeyId, accessKeyId)).get();
    if (!row) return undefined;
    const key = { accessKeyId: row.accessKeyId, secretAccessKey: row.secretAccessKey, accountId: row.accountId };
    this.cache.set(accessKeyId, key);
    return key;
  }

  /** An access key of the account (the oldest), to sign for it. */
  keyOf(accountId: string): AccessKey | undefined {
    const row = this.db.select().from(accessKeys).where(eq(accessKeys.accountId, accountId)).orderBy(accessKeys.createdAt).limit(1).get();
    return row && { accessKeyId: row.accessKeyId, secretAccessKey: row.secretAccessKey, accountId: row.accountId };
  }

  firstKey(): AccessKey | undefined {
    const row = this.db.select().from(accessKeys).orderBy(accessKeys.createdAt).limit(1).get();
    return row && { accessKeyId: row.accessKeyId, secretAccessKey: row.secretAccessKey, accountId: row.accountId };
  }
}
