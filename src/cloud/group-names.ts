/**
 * Security groups' names by id, as the instances' pages, their interfaces and their metadata show them. A group's name
 * never changes (EC2 has no rename), so what was read once is kept: a page names its groups without a query.
 */
import { inArray } from 'drizzle-orm';
import { byChunks } from '../db/chunks.js';
import type { Db } from '../db/index.js';
import { securityGroups } from '../db/tables.js';

/** How many groups' names a server keeps. */
const KEPT = 50_000;

export class GroupNames {
  /** Names (and accounts) by group id, as read. */
  private readonly seen = new Map<string, { accountId: string; name: string }>();

  constructor(private readonly db: Db) {}

  /** The names of these groups of the account, by id (an id not the account's: absent). */
  async of(accountId: string, ids: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const known = this.seen.get(id);
      if (known?.accountId === accountId) out.set(id, known.name);
      else if (!known) missing.push(id);
    }
    if (!missing.length) return out;
    const rows = await byChunks(missing, (chunk) => this.db.select({ id: securityGroups.id, accountId: securityGroups.accountId, name: securityGroups.name })
      .from(securityGroups).where(inArray(securityGroups.id, chunk)));
    // Bounded: past its size it starts again (a deleted group's name is never needed again, yet stays until then).
    if (this.seen.size + rows.length > KEPT) this.seen.clear();
    for (const r of rows) {
      this.seen.set(r.id, { accountId: r.accountId, name: r.name });
      if (r.accountId === accountId) out.set(r.id, r.name);
    }
    return out;
  }
}
