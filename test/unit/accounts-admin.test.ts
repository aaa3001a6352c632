/** Accounts: a key's last use written at most once a minute; new accounts (random, unused ids) and their listing. */
import { describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { openDb } from '../../src/db/index.js';
import { accessKeys, iamUsers } from '../../src/db/schema.js';
import { AccountAdmin, Accounts } from '../../src/cloud/accounts.js';

const fresh = () => {
  const db = openDb(':memory:');
  return { db, accounts: new Accounts(db) };
};

describe('last used', () => {
  it('is written at first use, then not again within the minute, then again after it', async () => {
    const { db, accounts } = fresh();
    const key = await accounts.generateKey('123456789012');
    const row = async () => (await db.select().from(accessKeys).where(eq(accessKeys.accessKeyId, key.accessKeyId)).limit(1))[0]!;
    expect((await row()).lastUsedAt).toBeNull();
    await accounts.used(key.accessKeyId, 'ec2', 'us-east-1', 1_000_000);
    expect([(await row()).lastUsedAt, (await row()).lastUsedService, (await row()).lastUsedRegion]).toEqual([1_000_000, 'ec2', 'us-east-1']);
    await accounts.used(key.accessKeyId, 'iam', 'us-east-1', 1_000_000 + 59_999);
    expect([(await row()).lastUsedAt, (await row()).lastUsedService]).toEqual([1_000_000, 'ec2']);
    await accounts.used(key.accessKeyId, 'iam', 'us-east-1', 1_000_000 + 60_000);
    expect([(await row()).lastUsedAt, (await row()).lastUsedService]).toEqual([1_060_000, 'iam']);
  });

  it('a key with no row (a temporary one) writes nothing and fails nothing', async () => {
    const { accounts } = fresh();
    await accounts.used('ASIAAAAAAAAAAAAAAAAA', 'sts', 'us-east-1');
  });
});

describe('account admin', () => {
  it('create makes a 12-digit account with an active root key, each one new', async () => {
    const { db, accounts } = fresh();
    const admin = new AccountAdmin(db, accounts);
    const a = await admin.create();
    const b = await admin.create();
    expect(a.accountId).toMatch(/^\d{12}$/);
    expect(a.accountId).not.toBe(b.accountId);
    expect((await accounts.findKey(a.accessKeyId))?.accountId).toBe(a.accountId);
    expect(await accounts.createdAt(a.accountId)).toBeInstanceOf(Date);
  });

  it('list counts each account\'s keys and users', async () => {
    const { db, accounts } = fresh();
    const admin = new AccountAdmin(db, accounts);
    const a = await admin.create();
    await db.insert(iamUsers).values({ accountId: a.accountId, name: 'u', userId: 'AIDAXXXXXXXXXXXXXXXX', path: '/', createdAt: 1 });
    await accounts.generateKey(a.accountId);
    const row = (await admin.list()).find((x) => x.id === a.accountId);
    expect(row).toMatchObject({ keys: 2, users: 1, instances: 0 });
  });
});
