/**
 * IAM's changes across the servers of one state database: a change of who may do what (an IAM write, sessions ended)
 * through one server makes every other drop what it keeps of IAM in memory (documents, sessions, keys), as:
 * - PostgreSQL: a wake-up (`iam:ACCOUNT`, db/wakeups.ts), told before the change's answer goes out and heard within
 *   milliseconds, as AWS's IAM is eventually consistent; and a generation row moved for a server that does not hear now
 *   (not listening, or its listening connection lost), which reads that row before every request instead.
 * - SQLite: data_version, which moves when another connection commits (never for this one's own).
 * What a notice lost leaves behind ends with the memory's few seconds (policies.ts, sessions.ts, accounts.ts).
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { dialect, generations } from '../../db/tables.js';
import type { Wakeups } from '../../db/wakeups.js';
import { log } from '../../log.js';

const IAM = 'iam';

export class IamChanges {
  /** The generation (PostgreSQL) or data_version (SQLite) when this server last read it. */
  private seen?: number;
  /** Hearing the others since the last look: what they change is told (and what came before was dropped). */
  private hearing = false;

  constructor(private readonly db: Db, private readonly wakeups: Wakeups) {}

  /** This server changed IAM (for `accountId`): the others are told, once it is committed. */
  async moved(accountId: string): Promise<void> {
    if (dialect !== 'pg') return;
    try {
      await this.db.insert(generations).values({ name: IAM, value: 1 })
        .onConflictDoUpdate({ target: generations.name, set: { value: sql`${generations.value} + 1` } });
    } catch (err) {
      // The change itself is made; the servers that hear are told below, the others' memory ends within seconds.
      log.warn(`IAM generation not moved: ${(err as Error).message}`);
    }
    await this.wakeups.tellNow('iam', accountId);
  }

  /**
   * Whether another server may have changed IAM since this one last looked (what it keeps must be dropped): never
   * while it hears them (their notices drop it), else the generation row (PostgreSQL) or data_version (SQLite) read.
   */
  async changedElsewhere(): Promise<boolean> {
    if (this.wakeups.hearing()) {
      if (this.hearing) return false;
      // Hearing from now on: what was changed before (while this server only read the row, or did not hear) is dropped.
      this.hearing = true;
      return true;
    }
    this.hearing = false;
    const version = dialect === 'pg'
      ? (await this.db.select({ value: generations.value }).from(generations).where(eq(generations.name, IAM)).limit(1))[0]?.value ?? 0
      : this.db.$client.pragma('data_version', { simple: true }) as number;
    if (version === this.seen) return false;
    this.seen = version;
    return true;
  }
}
