/** Key pairs: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair. */
import { write } from '../db/store.js';
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { keyPairs } from '../db/tables.js';
import { CloudError, invalidParam } from './errors.js';
import type { Fields } from './filters.js';
import { newId } from './ids.js';
import { generateKeyPair, parsePublicKey } from './sshkeys.js';

export type KeyPair = typeof keyPairs.$inferSelect;

/** What DescribeKeyPairs' filters see of a key pair (filters.ts; its tags beside). */
export const keyPairFields: Fields<KeyPair> = {
  'key-name': (r) => r.name, 'key-pair-id': (r) => r.id, fingerprint: (r) => r.fingerprint, 'key-type': (r) => r.keyType,
};

function checkName(name: string): void {
  if (!name) throw new CloudError('MissingParameter', 'The request must contain the parameter KeyName');
  if (name.length > 255) throw invalidParam('Key name must be at most 255 characters');
}

export class KeyPairs {
  constructor(private readonly db: Db) {}

  async create(accountId: string, name: string, type: 'rsa' | 'ed25519'): Promise<{ pair: KeyPair; privateKey: string }> {
    checkName(name);
    const gen = generateKeyPair(type, name);
    // The name checked free and taken in one transaction (two requests for one name: one key).
    return await write(this.db, async () => {
      await this.ensureFree(accountId, name);
      const pair: KeyPair = {
        id: newId('key'), accountId, name, keyType: type, fingerprint: gen.fingerprint, publicKey: gen.publicKey,
        createdAt: Date.now(),
      };
      await this.db.insert(keyPairs).values(pair);
      return { pair, privateKey: gen.privateKey };
    });
  }

  async import(accountId: string, name: string, material: string): Promise<KeyPair> {
    return await write(this.db, async () => {
      checkName(name);
      const parsed = parsePublicKey(material);
      await this.ensureFree(accountId, name);
      const pair: KeyPair = {
        id: newId('key'), accountId, name, keyType: parsed.type, fingerprint: parsed.fingerprint,
        publicKey: material.trim(), createdAt: Date.now(),
      };
      await this.db.insert(keyPairs).values(pair);
      return pair;
    });
  }

  async list(accountId: string, names: string[] = [], ids: string[] = []): Promise<KeyPair[]> {
    const conds = [eq(keyPairs.accountId, accountId)];
    if (names.length) conds.push(inArray(keyPairs.name, names));
    if (ids.length) conds.push(inArray(keyPairs.id, ids));
    const rows = await this.db.select().from(keyPairs).where(and(...conds)).orderBy(keyPairs.name);
    for (const n of names) {
      if (!rows.some((r) => r.name === n)) throw new CloudError('InvalidKeyPair.NotFound', `The key pair '${n}' does not exist`);
    }
    for (const id of ids) {
      if (!rows.some((r) => r.id === id)) throw new CloudError('InvalidKeyPair.NotFound', `The key pair '${id}' does not exist`);
    }
    return rows;
  }

  async get(accountId: string, name: string): Promise<KeyPair> {
    return (await this.list(accountId, [name]))[0]!;
  }

  /** DeleteKeyPair succeeds whether or not the key exists, as EC2's does. Returns the deleted key's id. */
  async delete(accountId: string, by: { name?: string; id?: string }): Promise<string | undefined> {
    const cond = by.id ? eq(keyPairs.id, by.id) : eq(keyPairs.name, by.name ?? '');
    const row = (await this.db.select().from(keyPairs).where(and(eq(keyPairs.accountId, accountId), cond)).limit(1))[0];
    if (row) await this.db.delete(keyPairs).where(eq(keyPairs.id, row.id));
    return row?.id;
  }

  private async ensureFree(accountId: string, name: string): Promise<void> {
    const row = (await this.db.select({ id: keyPairs.id }).from(keyPairs)
      .where(and(eq(keyPairs.accountId, accountId), eq(keyPairs.name, name))).limit(1))[0];
    if (row) throw new CloudError('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
  }
}
