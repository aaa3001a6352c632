/**
 * Reserved concurrency (Put/Get/DeleteFunctionConcurrency): a function may run at most N executions at once (0:
 * always throttled), taken out of its account's pool, which must keep its minimum unreserved (a tenth of the account's
 * ConcurrentExecutions, as Lambda keeps 100 of 1000). The invocations count against it (invoke.ts).
 */
import { write } from '../../db/store.js';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functions } from '../../db/tables.js';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import type { FunctionRecords } from './records.js';
import { invalid } from './types.js';

/** An invocation past its function's reserved concurrency: TooManyRequestsException with Lambda's Reason. */
export class ReservedConcurrencyExceeded extends CloudError {
  readonly reason = 'ReservedFunctionConcurrentInvocationLimitExceeded';
  constructor() {
    super('TooManyRequestsException', 'Rate Exceeded.');
  }
}

export class FunctionConcurrency {
  constructor(private readonly db: Db, private readonly records: FunctionRecords, private readonly config: CloudConfig) {}

  /** What an account must leave unreserved. */
  minimumUnreserved(): number {
    return Math.ceil(this.config.limits.concurrentExecutions / 10);
  }

  /** The executions the account's functions reserve together (but `except`'s). */
  async reserved(accountId: string, except?: string): Promise<number> {
    const rows = await this.db.select({ name: functions.name, n: functions.reservedConcurrency }).from(functions)
      .where(and(eq(functions.accountId, accountId), isNotNull(functions.reservedConcurrency)));
    return rows.filter((r) => r.name !== except).reduce((a, r) => a + (r.n ?? 0), 0);
  }

  /** The account's ConcurrentExecutions less what its functions reserve. */
  async unreserved(accountId: string): Promise<number> {
    return this.config.limits.concurrentExecutions - (await this.reserved(accountId));
  }

  private async name(accountId: string, ref: string): Promise<string> {
    const q = this.records.names.parse(accountId, ref);
    if (q.qualifier !== undefined) throw invalid('Reserved concurrency is set on a function, not on a version or alias: give its name or unqualified ARN.');
    await this.records.row(accountId, q.name);
    return q.name;
  }

  async put(accountId: string, ref: string, n: number | undefined): Promise<number> {
    return await write(this.db, async () => {
      const name = await this.name(accountId, ref);
      if (n === undefined || !Number.isSafeInteger(n) || n < 0) {
        throw new CloudError('ValidationException', `1 validation error detected: Value '${n ?? 'null'}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0`);
      }
      const left = this.config.limits.concurrentExecutions - (await this.reserved(accountId, name)) - n;
      const minimum = this.minimumUnreserved();
      if (left < minimum) {
        throw invalid(`Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${minimum}].`);
      }
      await this.db.update(functions).set({ reservedConcurrency: n }).where(and(eq(functions.accountId, accountId), eq(functions.name, name)));
      return n;
    });
  }

  /** The function's reservation (undefined: none). */
  async get(accountId: string, ref: string): Promise<number | undefined> {
    return (await this.records.row(accountId, await this.name(accountId, ref))).reservedConcurrency ?? undefined;
  }

  async delete(accountId: string, ref: string): Promise<void> {
    const name = await this.name(accountId, ref);
    await this.db.update(functions).set({ reservedConcurrency: sql`NULL` }).where(and(eq(functions.accountId, accountId), eq(functions.name, name)));
  }
}
