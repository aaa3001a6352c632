/** Accounts and their access keys. Every resource belongs to one account. */
import { randomBytes, randomInt } from 'node:crypto';
import { and, count, eq, isNull, ne } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { accessKeys, accounts, iamUsers, instances } from '../db/tables.js';
import type { Identity } from './iam/identity.js';
import { write } from '../db/store.js';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  /** Whose key it is; absent: the account's root. */
  identity?: Identity;
  /** Temporary credentials (STS): their session token's SHA-256 (hex) and when they expire. */
  session?: { tokenHash: string; expiresAt: number };
}

/** How long a looked-up key is trusted from memory. */
const KEY_CACHE_MS = 5_000;

/** A key's last use is written at most this often (it costs the hot path nothing in between). */
const LAST_USED_EVERY_MS = 60_000;
/** The most keys whose last write is remembered (past it the memory starts over: at worst a write more each). */
const LAST_USED_MEMORY = 10_000;

const AK_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class Accounts {
  private readonly cache = new Map<string, { key: AccessKey; until: number }>();
  /** Moves whenever a key is forgotten: a key read before then (its lookup in flight) is not kept. */
  private generation = 0;
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(private readonly db: Db) {}

  /** Forget every key kept in memory (another server changed the database). */
  forgetAll(): void {
    this.generation++;
    this.cache.clear();
  }

  /** When the account was created, if it exists. */
  async createdAt(accountId: string): Promise<Date | undefined> {
    const row = (await this.db.select({ createdAt: accounts.createdAt }).from(accounts).where(eq(accounts.id, accountId)).limit(1))[0];
    return row && new Date(row.createdAt);
  }

  async ensureAccount(accountId: string): Promise<void> {
    await this.db.insert(accounts).values({ id: accountId, createdAt: Date.now() }).onConflictDoNothing();
  }

  /** Create (or update the secret of) a given root key: the account's, active. */
  async putKey(key: AccessKey): Promise<AccessKey> {
    await this.ensureAccount(key.accountId);
    const { accessKeyId, secretAccessKey, accountId } = key;
    await this.db.insert(accessKeys)
      .values({ accessKeyId, secretAccessKey, accountId, createdAt: Date.now() })
      .onConflictDoUpdate({ target: accessKeys.accessKeyId, set: { secretAccessKey, accountId, userName: null, status: 'Active' } });
    this.cache.delete(key.accessKeyId);
    return key;
  }

  async generateKey(accountId: string): Promise<AccessKey> {
    const bytes = randomBytes(16);
    const id = 'PCLD' + Array.from(bytes, (b) => AK_ALPHABET[b % 32]).join('').slice(0, 16);
    const secret = randomBytes(30).toString('base64').replace(/[+/=]/g, 'x').slice(0, 40);
    return await this.putKey({ accessKeyId: id, secretAccessKey: secret, accountId });
  }

  /**
   * The key that signs as `accessKeyId`, with whose it is: root, or the IAM user it belongs to. An inactive key, or a
   * user's key whose user is gone, is no key. Cached for a few seconds (another server's change shows within them);
   * forget() drops one at once.
   */
  async findKey(accessKeyId: string): Promise<AccessKey | undefined> {
    const now = Date.now();
    const hit = this.cache.get(accessKeyId);
    if (hit && hit.until > now) return hit.key;
    const generation = this.generation;
    const key = await this.loadKey(accessKeyId);
    if (key && generation === this.generation) this.cache.set(accessKeyId, { key, until: now + KEY_CACHE_MS });
    else this.cache.delete(accessKeyId);
    return key;
  }

  /** Drop a key from the cache (its status changed, it was deleted). */
  forget(accessKeyId: string): void {
    this.generation++;
    this.cache.delete(accessKeyId);
  }

  /**
   * A long-term key signed a request (GetAccessKeyLastUsed): recorded at most once a minute per key, so the hot path
   * pays a map lookup. Temporary keys have no row: nothing is written for them.
   */
  async used(accessKeyId: string, service: string, region: string, now = Date.now()): Promise<void> {
    const last = this.lastUsedWritten.get(accessKeyId);
    if (last !== undefined && now - last < LAST_USED_EVERY_MS) return;
    if (this.lastUsedWritten.size >= LAST_USED_MEMORY) this.lastUsedWritten.clear();
    this.lastUsedWritten.set(accessKeyId, now);
    await this.db.update(accessKeys).set({ lastUsedAt: now, lastUsedService: service, lastUsedRegion: region })
      .where(eq(accessKeys.accessKeyId, accessKeyId));
  }

  private async loadKey(accessKeyId: string): Promise<AccessKey | undefined> {
    const row = (await this.db.select().from(accessKeys).where(eq(accessKeys.accessKeyId, accessKeyId)).limit(1))[0];
    if (!row || row.status !== 'Active') return undefined;
    const key: AccessKey = { accessKeyId: row.accessKeyId, secretAccessKey: row.secretAccessKey, accountId: row.accountId };
    if (row.userName === null) return key;
    const user = (await this.db.select().from(iamUsers).where(and(eq(iamUsers.accountId, row.accountId), eq(iamUsers.name, row.userName))).limit(1))[0];
    if (!user) return undefined;
    return { ...key, identity: { kind: 'user', accountId: row.accountId, name: user.name, id: user.userId, path: user.path } };
  }

  /** A root access key of the account (the oldest active one), to sign for it. */
  async keyOf(accountId: string): Promise<AccessKey | undefined> {
    const row = (await this.db.select().from(accessKeys).where(and(eq(accessKeys.accountId, accountId), rootActive()))
      .orderBy(accessKeys.createdAt).limit(1))[0];
    return row && { accessKeyId: row.accessKeyId, secretAccessKey: row.secretAccessKey, accountId: row.accountId };
  }

  /** The oldest active root key of any account (the operator's, which `pcloud credentials` prints). */
  async firstKey(): Promise<AccessKey | undefined> {
    const row = (await this.db.select().from(accessKeys).where(rootActive()).orderBy(accessKeys.createdAt).limit(1))[0];
    return row && { accessKeyId: row.accessKeyId, secretAccessKey: row.secretAccessKey, accountId: row.accountId };
  }
}

/** One account as `pcloud account list` shows it. */
export interface AccountSummary {
  id: string;
  createdAt: Date;
  /** Access keys (root's and its users', active or not). */
  keys: number;
  users: number;
  /** Instances not terminated. */
  instances: number;
}

/** A new account id: 12 random digits, not one in use (nor the all-zero default's). */
async function newAccountId(taken: (id: string) => Promise<boolean>): Promise<string> {
  for (;;) {
    const id = Array.from({ length: 12 }, () => randomInt(10)).join('');
    if (id !== '000000000000' && !await taken(id)) return id;
  }
}

/** Making and listing accounts (the operator's `pcloud account`), beside a running server (SQLite WAL). */
export class AccountAdmin {
  constructor(private readonly db: Db, private readonly accounts: Accounts) {}

  /** A new account with its first root access key. */
  async create(): Promise<AccessKey> {
    return await write(this.db, async () => {
      const id = await newAccountId(async (x) => (await this.db.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, x)).limit(1))[0] !== undefined);
      return await this.accounts.generateKey(id);
    });
  }

  async list(): Promise<AccountSummary[]> {
    const n = count();
    const by = <T extends { id: string; n: number }>(rows: T[]) => new Map(rows.map((r) => [r.id, r.n]));
    const keys = by(await this.db.select({ id: accessKeys.accountId, n }).from(accessKeys).groupBy(accessKeys.accountId));
    const users = by(await this.db.select({ id: iamUsers.accountId, n }).from(iamUsers).groupBy(iamUsers.accountId));
    const running = by(await this.db.select({ id: instances.accountId, n }).from(instances)
      .where(ne(instances.state, 'terminated')).groupBy(instances.accountId));
    return (await this.db.select().from(accounts).orderBy(accounts.createdAt)).map((a) => ({
      id: a.id, createdAt: new Date(a.createdAt), keys: keys.get(a.id) ?? 0, users: users.get(a.id) ?? 0, instances: running.get(a.id) ?? 0,
    }));
  }
}

/** A root key (no IAM user's) that is active. */
const rootActive = () => and(isNull(accessKeys.userName), eq(accessKeys.status, 'Active'));
