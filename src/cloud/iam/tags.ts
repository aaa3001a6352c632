/**
 * Tags of IAM entities (users, roles, instance profiles, policies): AWS's rules (≤ 50 per entity; keys 1..128 and
 * values 0..256 of letters, spaces, digits and `_.:/=+-@`; no `aws:` keys; keys unique regardless of case), kept in
 * iam_tags by the entity's kind and name.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { iamTags } from '../../db/tables.js';
import { CloudError } from '../errors.js';
import { invalid } from './names.js';

export type TagKind = 'user' | 'role' | 'instance-profile' | 'policy';

export interface Tag {
  Key: string;
  Value: string;
}

export const MAX_TAGS = 50;

/** IAM's and STS's (session tags') patterns for tag keys and values. */
export const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u;
export const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Tags as a request gives them, checked (the list as given: the caller merges). */
export function checkTags(tags: readonly Tag[] | undefined): readonly Tag[] {
  if (!tags) return [];
  if (tags.length > MAX_TAGS) throw invalid('tags', `${tags.length} tags`, `Member must have length less than or equal to ${MAX_TAGS}`);
  const seen = new Set<string>();
  for (const [i, t] of tags.entries()) {
    checkTagKey(`tags.${i + 1}.member.key`, t.Key);
    if (t.Value.length > 256) throw invalid(`tags.${i + 1}.member.value`, t.Value, 'Member must have length less than or equal to 256');
    if (!TAG_VALUE.test(t.Value)) throw invalid(`tags.${i + 1}.member.value`, t.Value, 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*');
    const folded = t.Key.toLowerCase();
    if (seen.has(folded)) throw new CloudError('InvalidInput', 'Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    seen.add(folded);
  }
  return tags;
}

export function checkTagKey(member: string, key: string): string {
  if (key.length < 1) throw invalid(member, key, 'Member must have length greater than or equal to 1');
  if (key.length > 128) throw invalid(member, key, 'Member must have length less than or equal to 128');
  if (!TAG_KEY.test(key)) throw invalid(member, key, 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+');
  if (key.toLowerCase().startsWith('aws:')) throw new CloudError('InvalidInput', 'User-defined tag keys cannot begin with the reserved prefix "aws:".');
  return key;
}

/** Tag keys as UntagX gives them. */
export function checkTagKeys(keys: readonly string[]): readonly string[] {
  if (keys.length > MAX_TAGS) throw invalid('tagKeys', `${keys.length} keys`, `Member must have length less than or equal to ${MAX_TAGS}`);
  keys.forEach((k, i) => checkTagKey(`tagKeys.${i + 1}.member`, k));
  return keys;
}

type Tx = Pick<Db, 'select' | 'insert' | 'delete'>;

export class IamTags {
  constructor(private readonly db: Db) {}

  /** The entity's tags, by key. */
  async list(accountId: string, kind: TagKind, name: string, tx: Tx = this.db): Promise<Tag[]> {
    return await tx.select({ Key: iamTags.key, Value: iamTags.value }).from(iamTags)
      .where(and(eq(iamTags.accountId, accountId), eq(iamTags.kind, kind), eq(iamTags.name, name)))
      .orderBy(iamTags.key);
  }

  /** Add or replace tags (a key matching an existing one regardless of case replaces it); ≤ 50 in all. */
  async put(accountId: string, kind: TagKind, name: string, tags: readonly Tag[], tx: Tx = this.db): Promise<void> {
    if (tags.length === 0) return;
    const existing = await this.list(accountId, kind, name, tx);
    const replaced = new Set(tags.map((t) => t.Key.toLowerCase()));
    const kept = existing.filter((t) => !replaced.has(t.Key.toLowerCase()));
    if (kept.length + tags.length > MAX_TAGS) {
      throw new CloudError('LimitExceeded', `The number of tags has reached the maximum limit of ${MAX_TAGS}.`);
    }
    await this.remove(accountId, kind, name, [...replaced], tx);
    await tx.insert(iamTags).values(tags.map((t) => ({ accountId, kind, name, key: t.Key, value: t.Value })));
  }

  /** Remove tags by key (regardless of case); keys it lacks are no error, as AWS. */
  async remove(accountId: string, kind: TagKind, name: string, keys: readonly string[], tx: Tx = this.db): Promise<void> {
    const folded = new Set(keys.map((k) => k.toLowerCase()));
    for (const t of (await this.list(accountId, kind, name, tx))) {
      if (!folded.has(t.Key.toLowerCase())) continue;
      await tx.delete(iamTags).where(and(eq(iamTags.accountId, accountId), eq(iamTags.kind, kind), eq(iamTags.name, name), eq(iamTags.key, t.Key)));
    }
  }

  /** Every tag of the entity (it is deleted). */
  async clear(accountId: string, kind: TagKind, name: string, tx: Tx = this.db): Promise<void> {
    await tx.delete(iamTags).where(and(eq(iamTags.accountId, accountId), eq(iamTags.kind, kind), eq(iamTags.name, name)));
  }

  /** Its tags move with an entity renamed. */
  async rename(accountId: string, kind: TagKind, from: string, to: string, tx: Pick<Db, 'update'> = this.db): Promise<void> {
    await tx.update(iamTags).set({ name: to }).where(and(eq(iamTags.accountId, accountId), eq(iamTags.kind, kind), eq(iamTags.name, from)));
  }
}
