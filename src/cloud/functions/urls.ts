/**
 * Function URLs and nginx's routes: pcloud's nginx (src/host/nginx.ts) serves every function's URL and Invoke from
 * its $LATEST socket, and its routes follow every change of the functions (syncRoutes).
 */
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functions } from '../../db/schema.js';
import type { HostFunctions } from '../../host/index.js';
import type { FunctionRoute, NginxDriver } from '../../host/nginx.js';
import { log } from '../../log.js';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import type { Invocations } from './invoke.js';
import type { FunctionRecords } from './records.js';
import { CONSOLE_ENV, functionKey, type FunctionRow, type FunctionUrlView } from './types.js';

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

  async create(accountId: string, ref: string, authType: string | undefined): Promise<FunctionUrlView> {
    const { name } = this.records.names.parse(accountId, ref);
    const r = this.records.row(accountId, name);
    if (authType !== 'NONE' && authType !== 'AWS_IAM') throw new CloudError('ValidationException', `1 validation error detected: Value '${authType}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]`);
    if (r.urlId) throw new CloudError('ResourceConflictException', `Failed to create function url config for [functionArn = ${this.records.names.arn(accountId, name)}]. Error message:  FunctionUrlConfig exists for this Lambda function`);
    const urlId = randomBytes(16).toString('hex');
    this.db.update(functions).set({ urlId, urlAuth: authType, urlCreatedAt: Date.now() }).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).run();
    await this.sync();
    return this.get(accountId, name);
  }

  /** A function's URL config (ResourceNotFoundException when it has none). */
  get(accountId: string, ref: string): FunctionUrlView {
    const r = this.urlRow(accountId, ref);
    return { url: this.urlOf(r.urlId), arn: this.records.names.arn(accountId, r.name), authType: r.urlAuth ?? 'AWS_IAM', createdAt: r.urlCreatedAt ?? r.createdAt };
  }

  async delete(accountId: string, ref: string): Promise<void> {
    const r = this.urlRow(accountId, ref);
    this.db.update(functions).set({ urlId: null, urlAuth: null, urlCreatedAt: null }).where(and(eq(functions.accountId, accountId), eq(functions.name, r.name))).run();
    await this.sync();
  }

  private urlRow(accountId: string, ref: string): FunctionRow & { urlId: string } {
    const { name } = this.records.names.parse(accountId, ref);
    const r = this.records.row(accountId, name);
    if (!r.urlId) throw new CloudError('ResourceNotFoundException', 'The resource you requested does not exist.');
    return { ...r, urlId: r.urlId };
  }

  /** The function URL's public address (nginx). */
  private urlOf(urlId: string): string {
    return `${this.driver?.baseUrl ?? 'http://nginx-not-running'}/url/${urlId}/`;
  }

  /** nginx's routes: every function's URL, to its $LATEST socket (Invoke asks pcloud which socket: invokeSocket). */
  async sync(): Promise<void> {
    if (!this.driver) return;
    const rows = this.records.servable();
    for (const r of rows) await this.host.ensure(this.invocations.unitOptions(this.records.latest(r))).catch((err) => log.warn(`function ${r.name}: ${(err as Error).message}`));
    const routes: FunctionRoute[] = rows.map((r) => ({
      accountId: r.accountId, name: r.name, socket: this.host.socketPath(functionKey(r.accountId, r.name, '$LATEST')), urlId: r.urlId ?? undefined,
      urlAuth: r.urlAuth ?? undefined, console: Object.hasOwn(r.environment, CONSOLE_ENV),
    }));
    await this.driver.sync(routes, { concurrency: this.config.limits.concurrentExecutions }).catch((err) => log.warn(`nginx: ${(err as Error).message}`));
  }
}
