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
  it('is written at first use, then not again within the minute, then again after it', () => {
    const { db, accounts } = fresh();
    const key = accounts.generateKey('123456789012');
    const row = () => db.select().from(accessKeys).where(eq(accessKeys.accessKeyId, key.accessKeyId)).get()!;
    expect(row().lastUsedAt).toBeNull();
    accounts.used(key.accessKeyId, 'ec2', 'us-east-1', 1_000_000);
    expect([row().lastUsedAt, row().lastUsedService, row().lastUsedRegion]).toEqual([1_000_000, 'ec2', 'us-east-1']);
    accounts.used(key.accessKeyId, 'iam', 'us-east-1', 1_000_000 + 59_999);
    expect([row().lastUsedAt, row().lastUsedService]).toEqual([1_000_000, 'ec2']);
    accounts.used(key.accessKeyId, 'iam', 'us-east-1', 1_000_000 + 60_000);
    expect([row().lastUsedAt, row().lastUsedService]).toEqual([1_060_000, 'iam']);
  });

  it('a key with no row (a temporary one) writes nothing and fails nothing', () => {
    const { accounts } = fresh();
    expect(() => accounts.used('ASIAAAAAAAAAAAAAAAAA', 'sts', 'us-east-1')).not.toThrow();
  });
});

describe('account admin', () => {
  it('create makes a 12-digit account with an active root key, each one new', () => {
    const { db, accounts } = fresh();
    const admin = new AccountAdmin(db, accounts);
    const a = admin.create();
    const b = admin.create();
    expect(a.accountId).toMatch(/^\d{12}$/);
    expect(a.accountId).not.toBe(b.accountId);
    expect(accounts.findKey(a.accessKeyId)?.accountId).toBe(a.accountId);
    expect(accounts.createdAt(a.accountId)).toBeInstanceOf(Date);
  });

  it('list counts each account\'s keys and users', () => {
    const { db, accounts } = fresh();
    const admin = new AccountAdmin(db, accounts);
    const a = admin.create();
    db.insert(iamUsers).values({ accountId: a.accountId, name: 'u', userId: 'AIDAXXXXXXXXXXXXXXXX', path: '/', createdAt: 1 }).run();
    accounts.generateKey(a.accountId);
    const row = admin.list().find((x) => x.id === a.accountId);
    expect(row).toMatchObject({ keys: 2, users: 1, instances: 0 });
  });
});
