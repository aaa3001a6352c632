/**
 * Functions as stored: a function's record, its versions' views, and every record that can be served (each read on
 * its own, a damaged one reported and skipped).
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functionAliases, functions, functionVersions } from '../../db/tables.js';
import { log } from '../../log.js';
import { CloudError } from '../errors.js';
import { checkEnvironment, type FunctionNames } from './params.js';
import { NAME, RUNTIMES, type FunctionRow, type FunctionView } from './types.js';

export class FunctionRecords {
  constructor(private readonly db: Db, readonly names: FunctionNames) {}

  async row(accountId: string, name: string): Promise<FunctionRow> {
    const r = (await this.db.select().from(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).limit(1))[0];
    if (!r) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.names.arn(accountId, name)}`);
    return r;
  }

  async exists(accountId: string, name: string): Promise<boolean> {
    return Boolean((await this.db.select({ n: functions.name }).from(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).limit(1))[0]);
  }

  /** A function version's view ($LATEST or a published number). */
  async get(accountId: string, ref: string, qualifier?: string): Promise<FunctionView> {
    const q = this.names.parse(accountId, ref, qualifier);
    const r = await this.row(accountId, q.name);
    if (!q.qualifier || q.qualifier === '$LATEST') return this.latest(r);
    // An alias stands for its (primary) version.
    const alias = await this.alias(accountId, q.name, q.qualifier);
    if (alias) return await this.get(accountId, q.name, alias.version);
    if (!/^\d+$/.test(q.qualifier)) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.names.arn(accountId, q.name, q.qualifier)}`);
    const v = (await this.db.select().from(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, q.name), eq(functionVersions.version, Number(q.qualifier)))).limit(1))[0];
    if (!v) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.names.arn(accountId, q.name, q.qualifier)}`);
    return this.version(accountId, q.name, v);
  }

  /** The alias a qualifier names, if it names one of the function's (a version number, `$LATEST` or none never do). */
  async alias(accountId: string, name: string, alias: string | undefined): Promise<typeof functionAliases.$inferSelect | undefined> {
    if (alias === undefined || alias === '$LATEST' || /^\d+$/.test(alias)) return undefined;
    return (await this.db.select().from(functionAliases).where(and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, name), eq(functionAliases.name, alias))).limit(1))[0];
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
  async list(accountId: string): Promise<FunctionView[]> {
    return (await this.db.select().from(functions).where(eq(functions.accountId, accountId)).orderBy(asc(functions.name))).map((r) => this.latest(r));
  }

  /** A function's versions: $LATEST, then the published ones in order. */
  async versions(accountId: string, ref: string): Promise<FunctionView[]> {
    const { name } = this.names.parse(accountId, ref);
    const r = await this.row(accountId, name);
    const vs = await this.db.select().from(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name))).orderBy(asc(functionVersions.version));
    return [this.latest(r), ...vs.map((v) => this.version(accountId, name, v))];
  }

  /** The numbers of a function's published versions. */
  async versionNumbers(accountId: string, name: string): Promise<string[]> {
    return (await this.db.select({ version: functionVersions.version }).from(functionVersions)
      .where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name)))).map((v) => String(v.version));
  }

  /** Records already reported as unservable (each is reported once per process). */
  private readonly reported = new Set<string>();

  /**
   * Every function that can be served, each record read on its own: one whose name, runtime or environment could not
   * run (stored before names and environments were checked, or damaged) is reported and skipped, never fatal.
   */
  async servable(): Promise<FunctionRow[]> {
    const out: FunctionRow[] = [];
    for (const k of (await this.db.select({ accountId: functions.accountId, name: functions.name }).from(functions))) {
      try {
        if (!NAME.test(k.name)) throw new Error('its name is not a function name');
        const r = await this.row(k.accountId, k.name);
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
