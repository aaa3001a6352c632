/** The expressions the two databases write differently (src/db/sql.ts): EC2's wildcards as PostgreSQL LIKE patterns; correlated subqueries' names. */
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { factColumns } from '../../src/cloud/instances/queries.js';
import { likePattern } from '../../src/db/sql.js';
import { instances } from '../../src/db/tables.js';

describe('EC2 filter wildcards as LIKE', () => {
  it('turns * and ? into % and _, and escapes LIKE\'s own % and _ and the escape itself with !', () => {
    expect(likePattern('web*')).toBe('web%');
    expect(likePattern('web?1')).toBe('web_1');
    expect(likePattern('web_1%')).toBe('web!_1!%');
    expect(likePattern('a!b\\c*')).toBe('a!!b\\c%');
    expect(likePattern('')).toBe('');
  });
});

describe("DescribeInstances' facts read with the rows", () => {
  it('name every column with its table, each subquery held to the instance and its account', () => {
    const db = drizzle(new Database(':memory:'));
    const text = db.select({ id: instances.id, ...factColumns() }).from(instances).toSQL().sql;
    // Every quoted name inside a subquery is table-qualified (a bare "id" or "account_id" would bind to the nearest table that has one).
    const inner = text.slice(text.indexOf('(SELECT'));
    const bare = [...inner.matchAll(/(?<![".])"([a-z_]+)"(?!\.)/g)].map((m) => m[1]).filter((n) => !['tags', 'addresses', 'iam_profile_associations', 'instances'].includes(n!));
    expect(bare).toEqual([]);
    for (const t of ['tags', 'addresses', 'iam_profile_associations']) {
      expect(text).toContain(`"${t}"."account_id" = "instances"."account_id"`);
    }
  });
});
