/**
 * Functions as stored: a function's record, its versions' views, and every record that can be served (each read on
 * its own, a damaged one reported and skipped).
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functionAliases, functions, functionVersions } from '../../db/schema.js';
import { log } from '../../log.js';
import { CloudError } from '../errors.js';
import { checkEnvironment, type FunctionNames } from './params.js';
import { NAME, RUNTIMES, type FunctionRow, type FunctionView } from './types.js';

export class FunctionRecords {
  constructor(private readonly db: Db, readonly names: FunctionNames) {}

  row(accountId: string, name: string): FunctionRow {
    const r = this.db.select().from(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).get();
    if (!r) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.names.arn(accountId, name)}`);
    return r;
  }

  exists(accountId: string, name: string): boolean {
    return Boolean(this.db.select({ n: functions.name }).from(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).get());
  }

  /** A function version's view ($LATEST or a published number). */
  get(accountId: string, ref: string, qualifier?: string): FunctionView {
    const q = this.names.parse(accountId, ref, qualifier);
    const r = this.row(accountId, q.name);
    if (!q.qualifier || q.qualifier === '$LATEST') return this.latest(r);
    // An alias stands for its (primary) version.
    const alias = this.alias(accountId, q.name, q.qualifier);
    if (alias) return this.get(accountId, q.name, alias.version);
    if (!/^\d+$/.test(q.qualifier)) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.names.arn(accountId, q.name, q.qualifier)}`);
    const v = this.db.select().from(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, q.name), eq(functionVersions.version, Number(q.qualifier)))).get();
    if (!v) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.names.arn(accountId, q.name, q.qualifier)}`);
    return this.version(accountId, q.name, v);
  }

  /** The alias a qualifier names, if it names one of the function's (a version number, `$LATEST` or none never do). */
  alias(accountId: string, name: string, alias: string | undefined): typeof functionAliases.$inferSelect | undefined {
    if (alias === undefined || alias === '$LATEST' || /^\d+$/.test(alias)) return undefined;
    return this.db.select().from(functionAliases).where(and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, name), eq(functionAliases.name, alias))).get();
  }

  latest(r: FunctionRow): FunctionView {
    return {
      runtime: r.runtime, handler: r.handler, role: r.role, description: r.description, memoryMiB: r.memoryMiB, timeoutSec: r.timeoutSec,
      environment: r.environment, mode: r.mode, codeSha256: r.codeSha256, codeSize: r.codeSize, revision: r.revision, layers: r.layers,
      name: r.name, accountId: r.accountId, version: '$LATEST', arn: this.names.arn(r.accountId, r.name), lastModified: r.updatedAt,
    };
  }

  private version(accountId: string, name: string, v: typeof functionVersions.$inferSelect): FunctionView {
    return { ...v.config, name, accountId, version: String(v.version), arn: this.names.arn(accountId, name, String(v.version)), lastModified: v.createdAt };
  }

  /** The account's functions ($LATEST), by name. */
  list(accountId: string): FunctionView[] {
    return this.db.select().from(functions).where(eq(functions.accountId, accountId)).orderBy(asc(functions.name)).all().map((r) => this.latest(r));
  }

  /** A function's versions: $LATEST, then the published ones in order. */
  versions(accountId: string, ref: string): FunctionView[] {
    const { name } = this.names.parse(accountId, ref);
    const r = this.row(accountId, name);
    const vs = this.db.select().from(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name))).orderBy(asc(functionVersions.version)).all();
    return [this.latest(r), ...vs.map((v) => this.version(accountId, name, v))];
  }

  /** The numbers of a function's published versions. */
  versionNumbers(accountId: string, name: string): string[] {
    return this.db.select({ version: functionVersions.version }).from(functionVersions)
      .where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name))).all().map((v) => String(v.version));
  }

  /** Records already reported as unservable (each is reported once per process). */
  private readonly reported = new Set<string>();

  /**
   * Every function that can be served, each record read on its own: one whose name, runtime or environment could not
   * run (stored before names and environments were checked, or damaged) is reported and skipped, never fatal.
   */
  servable(): FunctionRow[] {
    const out: FunctionRow[] = [];
    for (const k of this.db.select({ accountId: functions.accountId, name: functions.name }).from(functions).all()) {
      try {
        if (!NAME.test(k.name)) throw new Error('its name is not a function name');
        const r = this.row(k.accountId, k.name);
        if (!(RUNTIMES as readonly string[]).includes(r.runtime)) throw new Error(`its runtime ${r.runtime} is not one pcloud runs`);
        checkEnvironment(r.environment);
        out.push(r);
      } catch (err) {
        const id = JSON.stringify([k.accountId, k.name]);
        if (this.reported.has(id)) continue;
        this.reported.add(id);
        log.error(`function ${JSON.stringify(k.name).slice(0, 200)} of account ${k.accountId} cannot be served, skipped: ${(err as Error).message.slice(0, 300)}`);
      }
    }
    return out;
  }
}
