/**
 * An account's code storage, as GetAccountSettings' TotalCodeSize counts it: each deployment package once (whether
 * $LATEST's or a version's, or both), and every layer version's zip.
 */
import { jsonMember } from '../../db/sql.js';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functions, functionVersions, lambdaLayerVersions } from '../../db/tables.js';

/** Bytes the account stores; `leaving`: a function revision about to be replaced (not counted unless a version keeps it). */
export async function storedCode(db: Db, accountId: string, leaving?: { name: string; revision: string }): Promise<number> {
  const sizes = new Map<string, number>();
  for (const r of (await db.select({ name: functions.name, revision: functions.revision, size: functions.codeSize }).from(functions).where(eq(functions.accountId, accountId)))) {
    sizes.set(`${r.name}/${r.revision}`, r.size);
  }
  const versions = await db.select({
    name: functionVersions.name, revision: sql<string>`${jsonMember(functionVersions.config, 'revision')}`, size: sql<number>`${jsonMember(functionVersions.config, 'codeSize')}`.mapWith(Number),
  }).from(functionVersions).where(eq(functionVersions.accountId, accountId));
  const kept = new Set(versions.map((v) => `${v.name}/${v.revision}`));
  for (const v of versions) sizes.set(`${v.name}/${v.revision}`, Number(v.size) || 0);
  if (leaving && !kept.has(`${leaving.name}/${leaving.revision}`)) sizes.delete(`${leaving.name}/${leaving.revision}`);
  const layers = (await db.select({ n: sql<number>`coalesce(sum(${lambdaLayerVersions.codeSize}), 0)`.mapWith(Number) }).from(lambdaLayerVersions).where(eq(lambdaLayerVersions.accountId, accountId)).limit(1))[0]!.n;
  return [...sizes.values()].reduce((a, b) => a + b, 0) + layers;
}
