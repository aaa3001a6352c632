/**
 * Function URLs and nginx's routes: pcloud's nginx (src/host/nginx.ts) serves every function's URL and Invoke from
 * its $LATEST socket, and its routes follow every change of the functions (syncRoutes).
 */
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functionAliases, functions } from '../../db/tables.js';
import type { HostFunctions, RelayRequest } from '../../host/index.js';
import type { FunctionRoute, NginxDriver } from '../../host/nginx.js';
import { log } from '../../log.js';
import { Slots } from '../../slots.js';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import type { Invocations, UrlAnswer } from './invoke.js';
import type { FunctionRecords } from './records.js';
import { CONSOLE_ENV, functionKey, type FunctionUrlView } from './types.js';
import { Coalesced } from '../../serial.js';

/** A function URL's address under nginx's base URL (`pcloud ps --functions` shows it the same). */
export const functionUrl = (baseUrl: string, urlId: string): string => `${baseUrl}/url/${urlId}/`;

export class FunctionUrls {
  /** pcloud's nginx, once `serve` runs it (attach). */
  private driver?: NginxDriver;

  constructor(
    private readonly db: Db,
    private readonly records: FunctionRecords,
    private readonly host: HostFunctions,
    private readonly config: CloudConfig,
    private readonly invocations: Invocations,
  ) {}

  get nginx(): NginxDriver | undefined {
    return this.driver;
  }

  /** nginx runs from now on: its routes follow the functions (the caller syncs them once it has started). */
  attach(nginx: NginxDriver): void {
    this.driver = nginx;
  }

  /** CreateFunctionUrlConfig: the function's URL, or (with a qualifier) an alias' URL, which runs the alias' version. */
  async create(accountId: string, ref: string, authType: string | undefined, qualifier?: string): Promise<FunctionUrlView> {
    const t = await this.target(accountId, ref, qualifier);
    if (authType !== 'NONE' && authType !== 'AWS_IAM') throw new CloudError('ValidationException', `1 validation error detected: Value '${authType}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]`);
    if (t.urlId) throw new CloudError('ResourceConflictException', `Failed to create function url config for [functionArn = ${t.arn}]. Error message:  FunctionUrlConfig exists for this Lambda function`);
    const set = { urlId: randomBytes(16).toString('hex'), urlAuth: authType, urlCreatedAt: Date.now() };
    if (t.alias) await this.db.update(functionAliases).set(set).where(and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, t.name), eq(functionAliases.name, t.alias)));
    else await this.db.update(functions).set(set).where(and(eq(functions.accountId, accountId), eq(functions.name, t.name)));
    await this.sync();
    return await this.get(accountId, t.name, t.alias);
  }

  /** A function's (or alias') URL config (ResourceNotFoundException when it has none). */
  async get(accountId: string, ref: string, qualifier?: string): Promise<FunctionUrlView> {
    const t = await this.withUrl(accountId, ref, qualifier);
    return { url: this.urlOf(t.urlId), arn: t.arn, authType: t.urlAuth ?? 'AWS_IAM', createdAt: t.urlCreatedAt ?? t.createdAt };
  }

  async delete(accountId: string, ref: string, qualifier?: string): Promise<void> {
    const t = await this.withUrl(accountId, ref, qualifier);
    const none = { urlId: null, urlAuth: null, urlCreatedAt: null };
    if (t.alias) await this.db.update(functionAliases).set(none).where(and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, t.name), eq(functionAliases.name, t.alias)));
    else await this.db.update(functions).set(none).where(and(eq(functions.accountId, accountId), eq(functions.name, t.name)));
    await this.sync();
  }

  /** The function, or its alias the qualifier names (a URL is the function's or an alias'; not a version's). */
  private async target(accountId: string, ref: string, qualifier?: string) {
    const q = this.records.names.parse(accountId, ref, qualifier);
    const r = await this.records.row(accountId, q.name);
    if (q.qualifier === undefined) return { name: r.name, alias: undefined, arn: this.records.names.arn(accountId, r.name), urlId: r.urlId, urlAuth: r.urlAuth, urlCreatedAt: r.urlCreatedAt, createdAt: r.createdAt };
    const a = await this.records.alias(accountId, r.name, q.qualifier);
    if (!a) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.records.names.arn(accountId, r.name, q.qualifier)}`);
    return { name: r.name, alias: a.name, arn: this.records.names.arn(accountId, r.name, a.name), urlId: a.urlId, urlAuth: a.urlAuth, urlCreatedAt: a.urlCreatedAt, createdAt: a.createdAt };
  }

  private async withUrl(accountId: string, ref: string, qualifier?: string) {
    const t = await this.target(accountId, ref, qualifier);
    if (!t.urlId) throw new CloudError('ResourceNotFoundException', 'The resource you requested does not exist.');
    return { ...t, urlId: t.urlId };
  }

  /** Which function (and alias: its policy's qualifier) of the account a URL id is, with its auth type. */
  async ofUrl(accountId: string, name: string, urlId: string): Promise<{ qualifier: string; authType: string } | undefined> {
    const r = (await this.db.select().from(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).limit(1))[0];
    if (r?.urlId === urlId) return { qualifier: '', authType: r.urlAuth ?? 'AWS_IAM' };
    const a = (await this.db.select().from(functionAliases).where(and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, name), eq(functionAliases.urlId, urlId))).limit(1))[0];
    return a ? { qualifier: a.name, authType: a.urlAuth ?? 'AWS_IAM' } : undefined;
  }

  /**
   * A request to a URL of the function that pcloud's API counts (relayUrl): to the version its URL serves ($LATEST,
   * or its alias' version, as nginx's routes have it: sync), ResourceNotFoundException for a URL it no longer has.
   */
  async relay(accountId: string, name: string, urlId: string, req: RelayRequest): Promise<UrlAnswer> {
    const of = await this.ofUrl(accountId, name, urlId);
    if (!of) throw new CloudError('ResourceNotFoundException', 'The resource you requested does not exist.');
    const alias = of.qualifier ? await this.records.alias(accountId, name, of.qualifier) : undefined;
    return await this.invocations.relayUrl(await this.records.get(accountId, name, alias?.version), req);
  }

  /** The function URL's public address (nginx). */
  private urlOf(urlId: string): string {
    return functionUrl(this.driver?.baseUrl ?? 'http://nginx-not-running', urlId);
  }

  /**
   * nginx's routes: every function's URL, to its $LATEST socket (Invoke asks pcloud which socket: invokeSocket). One
   * sync at a time, reading the records when it begins: those asked while one runs share the one after it (each change
   * asks, and many come at once), so the routes written last are never older than the last change.
   */
  sync(): Promise<void> {
    return this.syncing.ask();
  }

  private readonly syncing = new Coalesced(() => this.syncNow());

  private async syncNow(): Promise<void> {
    if (!this.driver) return;
    const rows = await this.records.servable();
    // A few at a time: a host that has just joined a cloud takes their code from the database first (packages.ts).
    const slots = new Slots(() => 4);
    await Promise.all(rows.map((r) => slots.run(() => this.invocations.ready(this.records.latest(r), r.reservedConcurrency).catch((err) => log.warn(`function ${r.name}: ${(err as Error).message}`)))));
    const routes: FunctionRoute[] = rows.map((r) => ({
      accountId: r.accountId, name: r.name, socket: this.host.socketPath(functionKey(r.accountId, r.name, '$LATEST')), urlId: r.urlId ?? undefined,
      urlAuth: r.urlAuth ?? undefined, console: Object.hasOwn(r.environment, CONSOLE_ENV), reserved: r.reservedConcurrency ?? undefined, mode: r.mode,
    }));
    const reservedOf = new Map(rows.map((r) => [`${r.accountId}/${r.name}`, r.reservedConcurrency ?? undefined]));
    // An alias' URL: to its (primary) version's socket, within its function's reserved concurrency.
    for (const a of (await this.db.select().from(functionAliases))) {
      if (!a.urlId || !reservedOf.has(`${a.accountId}/${a.functionName}`)) continue;
      try {
        const v = await this.records.get(a.accountId, a.functionName, a.version);
        await this.invocations.ready(v, reservedOf.get(`${a.accountId}/${a.functionName}`) ?? null);
        routes.push({
          accountId: a.accountId, name: a.functionName, socket: this.host.socketPath(functionKey(a.accountId, a.functionName, v.version)), urlId: a.urlId,
          urlAuth: a.urlAuth ?? undefined, reserved: reservedOf.get(`${a.accountId}/${a.functionName}`), mode: v.mode,
        });
      } catch (err) {
        log.warn(`function ${a.functionName}, alias ${a.name}: ${(err as Error).message}`);
      }
    }
    await this.driver.sync(routes, { concurrency: this.config.limits.concurrentExecutions }).catch((err) => log.warn(`nginx: ${(err as Error).message}`));
  }
}
