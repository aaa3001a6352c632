/** Tags on any resource, by resource id. */
import { ALL_ROWS, matchesAny } from '../db/sql.js';
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { tags } from '../db/tables.js';
import { byChunks } from '../db/chunks.js';
import { CloudError, invalidParam } from './errors.js';
import { pageFetched, pageOffset, type Page, type PageRequest } from './paging.js';
import { unservable } from './text.js';
import { invalidFilter, tagFilter, type Filter } from './filters.js';
import { write } from '../db/store.js';

export interface Tag { key: string; value: string }
export interface TagRow extends Tag { resourceId: string; resourceType: string }

const TYPES = new Map<string, string>([
  ['i', 'instance'], ['ami', 'image'], ['vol', 'volume'], ['key', 'key-pair'], ['vpc', 'vpc'], ['subnet', 'subnet'],
  ['sg', 'security-group'], ['eni', 'network-interface'], ['r', 'reservation'], ['snap', 'snapshot'], ['igw', 'internet-gateway'],
  ['eipalloc', 'elastic-ip'], ['rtb', 'route-table'], ['nat', 'natgateway'], ['lt', 'launch-template'],
]);

export function resourceType(id: string): string | undefined {
  return TYPES.get(id.slice(0, id.indexOf('-')));
}

export function validateTags(list: Tag[]): void {
  for (const t of list) {
    if (typeof t.key !== 'string' || typeof t.value !== 'string') throw invalidParam('Tag keys and values must be strings');
    if (!t.key) throw invalidParam('Tag key must not be empty');
    if (t.key.length > 128) throw invalidParam(`Tag key exceeds the maximum length of 128 characters: ${t.key.slice(0, 20)}...`);
    if (t.value.length > 256) throw invalidParam('Tag value exceeds the maximum length of 256 characters');
    if (unservable(t.key) || unservable(t.value)) throw invalidParam('Tag keys and values must not contain control characters');
    if (t.key.toLowerCase().startsWith('aws:')) {
      throw invalidParam(`Tag keys starting with 'aws:' are reserved for internal use`);
    }
  }
  if (new Set(list.map((t) => t.key)).size > TAGS_MAX) throw tagLimit();
}

/** Tags a resource may carry (EC2's and Lambda's limit), counted over all it has, not per request. */
const TAGS_MAX = 50;
const tagLimit = () => new CloudError('TagLimitExceeded', `The maximum number of tags per resource is ${TAGS_MAX}`);

export class Tags {
  constructor(private readonly db: Db) {}

  /**
   * CreateTags / TagResource: each resource keeps at most 50 distinct keys, what it has and what is added together.
   * One transaction: a resource over the limit leaves every resource of the request as it was.
   */
  async put(accountId: string, resourceIds: string[], list: Tag[]): Promise<void> {
    validateTags(list);
    const adding = new Set(list.map((t) => t.key));
    await write(this.db, async (tx) => {
      for (const resourceId of resourceIds) {
        const keys = new Set(adding);
        for (const r of (await tx.select({ key: tags.key }).from(tags).where(eq(tags.resourceId, resourceId)))) keys.add(r.key);
        if (keys.size > TAGS_MAX) throw tagLimit();
        const type = resourceType(resourceId) ?? 'unknown';
        for (const t of list) {
          await tx.insert(tags).values({ accountId, resourceId, resourceType: type, key: t.key, value: t.value })
            .onConflictDoUpdate({ target: [tags.resourceId, tags.key], set: { value: t.value } });
        }
      }
    });
  }

  /** DeleteTags: a tag given with a value is deleted only when the value matches; without a value, whatever it is. */
  async remove(accountId: string, resourceIds: string[], list: { key: string; value?: string }[]): Promise<void> {
    for (const resourceId of resourceIds) {
      if (list.length === 0) {
        await this.db.delete(tags).where(and(eq(tags.accountId, accountId), eq(tags.resourceId, resourceId)));
        continue;
      }
      for (const t of list) {
        const conds = [eq(tags.accountId, accountId), eq(tags.resourceId, resourceId), eq(tags.key, t.key)];
        if (t.value !== undefined) conds.push(eq(tags.value, t.value));
        await this.db.delete(tags).where(and(...conds));
      }
    }
  }

  async removeAll(resourceIds: string[]): Promise<void> {
    if (resourceIds.length) await this.db.delete(tags).where(inArray(tags.resourceId, resourceIds));
  }

  /** Tags of many resources at once, by resource id, each's in its keys' bytewise order (as db/sql.ts jsonPairs reads them). */
  async of(resourceIds: string[]): Promise<Map<string, Tag[]>> {
    const out = new Map<string, Tag[]>();
    for (const r of await byChunks(resourceIds, (chunk) => this.db.select().from(tags).where(inArray(tags.resourceId, chunk)))) {
      const list = out.get(r.resourceId) ?? [];
      list.push({ key: r.key, value: r.value });
      out.set(r.resourceId, list);
    }
    for (const list of out.values()) list.sort((x, y) => Buffer.compare(Buffer.from(x.key), Buffer.from(y.key)));
    return out;
  }

  /**
   * DescribeTags with filters key, value, resource-id, resource-type (values may use * and ? wildcards), a page of at
   * most `max` (5 to 1000) at a time (paging.ts).
   */
  async describe(accountId: string, filters: Filter[], page: PageRequest = {}): Promise<Page<TagRow>> {
    if (page.max !== undefined && (page.max < 5 || page.max > 1000)) throw invalidParam('MaxResults must be between 5 and 1000');
    const conds: SQL[] = [eq(tags.accountId, accountId)];
    const column = new Map<string, SQL>([
      ['key', sql`${tags.key}`], ['value', sql`${tags.value}`], ['resource-id', sql`${tags.resourceId}`], ['resource-type', sql`${tags.resourceType}`],
    ]);
    for (const f of filters) {
      const col = column.get(f.name);
      if (!col) throw invalidFilter(f.name);
      conds.push(Tags.matchSql(col, f.values));
    }
    const offset = pageOffset(page.token);
    const rows = (await this.db.select().from(tags).where(and(...conds)).orderBy(tags.resourceId, tags.key)
      .limit(page.max === undefined ? ALL_ROWS : page.max + 1).offset(offset))
      .map((r) => ({ resourceId: r.resourceId, resourceType: r.resourceType, key: r.key, value: r.value }));
    return pageFetched(rows, offset, page.max);
  }

  /** SQL condition: the column matches any of the filter's values (wildcards as EC2's; src/wildcard.ts). */
  static matchSql(column: SQL, values: string[]): SQL {
    return matchesAny(column, values);
  }

  /** SQL condition: the resource in `idColumn` has a tag matching this tag:KEY / tag-key / tag-value filter (filters.ts's names). */
  static filterSql(idColumn: SQL | typeof tags.resourceId, filter: Filter): SQL | undefined {
    const tag = tagFilter(filter.name);
    if (!tag) return undefined;
    const anyOf = (col: string) => Tags.matchSql(sql.raw(col), filter.values);
    if (tag.kind === 'tag') {
      return sql`EXISTS (SELECT 1 FROM tags t WHERE t.resource_id = ${idColumn} AND t.key = ${tag.key} AND (${anyOf('t.value')}))`;
    }
    return sql`EXISTS (SELECT 1 FROM tags t WHERE t.resource_id = ${idColumn} AND (${anyOf(tag.kind === 'tag-key' ? 't.key' : 't.value')}))`;
  }
}
