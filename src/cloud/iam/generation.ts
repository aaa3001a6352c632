/**
 * IAM's generation on PostgreSQL: a row every change of who may do what moves (an IAM write, sessions ended), which
 * every server reads before it trusts what it keeps in memory (index.ts' freshen()). On SQLite, data_version tells
 * the other connections without it.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { dialect, generations } from '../../db/tables.js';
import { log } from '../../log.js';

const IAM = 'iam';

/** Move IAM's generation (PostgreSQL): the other servers drop their IAM memory at their next request. */
export async function moveIamGeneration(db: Db): Promise<void> {
  if (dialect !== 'pg') return;
  try {
    await db.insert(generations).values({ name: IAM, value: 1 })
      .onConflictDoUpdate({ target: generations.name, set: { value: sql`${generations.value} + 1` } });
  } catch (err) {
    // The change itself is made; the other servers' memory still ends within its few seconds (policies.ts, keys).
    log.warn(`IAM generation not moved: ${(err as Error).message}`);
  }
}

/** IAM's generation now (PostgreSQL; SQLite's connections are told by data_version instead). */
export async function iamGeneration(db: Db): Promise<number> {
  return (await db.select({ value: generations.value }).from(generations).where(eq(generations.name, IAM)).limit(1))[0]?.value ?? 0;
}
