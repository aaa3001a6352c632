/**
 * Lambda functions: configuration, code revisions and published versions, tags, invocations, function URLs and fat
 * lambdas. Each function version runs as a socket unit of its own (src/host/functions.ts), started on first invoke;
 * function URLs and Invoke are served by pcloud's nginx (src/host/nginx.ts), whose routes follow every change here.
 *
 * One room per job: params.ts (what a request may hold), records.ts (functions as stored), crud.ts (create, update,
 * publish, delete, limits), tagging.ts, invoke.ts, urls.ts (URLs and nginx's routes), fat-lambda.ts (consoles),
 * reconcile.ts; types.ts under them all. This facade is what the API and the cloud call.
 */
import type { Db } from '../../db/index.js';
import { slotsOf, type Slots } from '../../db/slots.js';
import { dialect } from '../../db/tables.js';
import { FatLambdaState } from '../../host/fat-lambda-state.js';
import type { HostFunctions, RelayRequest } from '../../host/index.js';
import type { NginxDriver } from '../../host/nginx.js';
import type { CloudConfig } from '../config.js';
import { pageOf, type Page, type PageRequest } from '../paging.js';
import type { Tag, Tags } from '../tags.js';
import { FunctionAliases, type AliasInput, type AliasView } from './aliases.js';
import { FunctionConcurrency } from './concurrency.js';
import { FunctionCredentials } from './credentials.js';
import { FunctionCatalog, type AccountSettings, type CreateExtras } from './crud.js';
import { FatLambdas } from './fat-lambda.js';
import { Invocations, type InvokeAnswer, type UrlAnswer } from './invoke.js';
import { InvocationStats, type Invocation } from './invocation-stats.js';
import { FunctionLayers } from './layers.js';
import { FunctionPackages } from './packages.js';
import { FunctionNames } from './params.js';
import { reconcileUnits } from './reconcile.js';
import type { FunctionIdentity } from './roles.js';
import { FunctionPolicies, INVOKE_URL, type PermissionInput } from './policy.js';
import { FunctionRecords } from './records.js';
import { FunctionTagging } from './tagging.js';
import { FunctionUrls } from './urls.js';
import { functionKey, type ConsoleTargets, type FunctionInput, type FunctionUrlView, type FunctionView } from './types.js';

export { ASYNC_PAYLOAD_MAX, CONSOLE_ENV, ENVIRONMENT_MAX, MODE_TAG, RUNTIMES, SYNC_PAYLOAD_MAX, ZIP_MAX } from './types.js';
export type { ConsoleTargets, FunctionInput, FunctionRow, FunctionUrlView, FunctionView } from './types.js';
export type { AccountSettings, CreateExtras } from './crud.js';
export type { InvokeAnswer, UrlAnswer } from './invoke.js';
export type { FunctionInvocations, Invocation, InvokeMode } from './invocation-stats.js';
export type { FunctionIdentity } from './roles.js';
export type { AliasInput, AliasView } from './aliases.js';
export type { PermissionInput } from './policy.js';
export { ReservedConcurrencyExceeded } from './concurrency.js';

/** A page of ListFunctions or ListVersionsByFunction: a bad Marker is Lambda's InvalidParameterValueException. */
const MARKER_CODE = 'InvalidParameterValueException';

export class Functions {
  private readonly names: FunctionNames;
  private readonly records: FunctionRecords;
  private readonly fat: FatLambdas;
  private readonly invocations: Invocations;
  private readonly urls: FunctionUrls;
  private readonly catalog: FunctionCatalog;
  private readonly tagging: FunctionTagging;
  readonly aliases: FunctionAliases;
  readonly policies: FunctionPolicies;
  readonly concurrency: FunctionConcurrency;
  /** Layers: Publish/Get/List/DeleteLayerVersion (layers.ts). */
  readonly layers: FunctionLayers;

  /** The invocations this server has seen answered, per function (metrics and the dashboard read them). */
  readonly invocationStats = new InvocationStats();

  /** Deployment packages other hosts take (packages.ts). */
  private readonly packages: FunctionPackages;

  /** Functions' role sessions (renewCredentials()). */
  private readonly credentials: FunctionCredentials;
  /** Functions' reserved concurrency, counted across every server on the database (db/slots.ts). */
  private readonly slots: Slots;

  /**
   * consoles: the VMs whose consoles fat lambdas serve (the instances and their displays); state: where the console
   * proxies' state files are read and written; identity: IAM's roles and STS's sessions (without it, roles are taken
   * unchecked and functions run without credentials).
   */
  constructor(
    db: Db,
    private readonly host: HostFunctions,
    config: CloudConfig,
    tags: Tags,
    consoles: ConsoleTargets,
    state = new FatLambdaState(),
    identity?: FunctionIdentity,
  ) {
    this.names = new FunctionNames(config);
    this.records = new FunctionRecords(db, this.names);
    this.fat = new FatLambdas(this.records, host, state, consoles);
    this.policies = new FunctionPolicies(db, this.records);
    this.aliases = new FunctionAliases(db, this.records);
    this.concurrency = new FunctionConcurrency(db, this.records, config);
    this.credentials = new FunctionCredentials(identity, host);
    // Packages are kept for other hosts where the state is shared (PostgreSQL); on SQLite there is one host.
    const packages = this.packages = new FunctionPackages(db, host, dialect === 'pg');
    this.slots = slotsOf(db);
    this.invocations = new Invocations(this.records, host, config, this.fat, this.policies, this.credentials, this.invocationStats, packages, this.slots);
    this.urls = new FunctionUrls(db, this.records, host, config, this.invocations);
    this.layers = new FunctionLayers(db, host, config, packages);
    this.catalog = new FunctionCatalog(db, this.records, host, config, tags, this.fat, this.urls, this.aliases, this.policies, this.concurrency, this.layers, packages, {
      identity, credentials: this.credentials,
    });
    this.tagging = new FunctionTagging(this.records, this.catalog, tags);
  }

  /** Lets go of what this server holds for the others (its concurrency slots). */
  async close(): Promise<void> {
    await this.slots.close();
  }

  /** pcloud's nginx, once `serve` runs it (function URLs and Invoke through nginx). */
  get nginx(): NginxDriver | undefined {
    return this.urls.nginx;
  }

  /**
   * nginx runs in front of the functions from now on; syncRoutes gives it their routes. `api`: pcloud's API as the
   * functions' processes reach it (their AWS_ENDPOINT_URL).
   */
  attachNginx(nginx: NginxDriver, api?: string): void {
    this.urls.attach(nginx);
    this.invocations.nginxPort = nginx.port;
    if (api) this.invocations.endpoint = api;
  }

  /** Running function versions' role sessions that near their end renewed (pcloud serve: every RENEW_EVERY_MS). */
  renewCredentials(): Promise<number> {
    return this.credentials.renew();
  }

  arn(accountId: string, name: string, version?: string): string {
    return this.names.arn(accountId, name, version);
  }

  /** A function version's unit and socket name. */
  key(accountId: string, name: string, version: string): string {
    return functionKey(accountId, name, version);
  }

  /** A function version's view ($LATEST or a published number). */
  async get(accountId: string, ref: string, qualifier?: string): Promise<FunctionView> {
    return await this.records.get(accountId, ref, qualifier);
  }

  /** ListFunctions: the account's functions ($LATEST; with `all`, every version of each), a page at a time. */
  async listPage(accountId: string, opts: PageRequest & { all: boolean }): Promise<Page<FunctionView>> {
    const latest = await this.records.list(accountId);
    const views: FunctionView[] = [];
    for (const f of latest) views.push(...(opts.all ? await this.records.versions(accountId, f.name) : [f]));
    return pageOf(views, opts, MARKER_CODE);
  }

  /** ListVersionsByFunction, a page at a time. */
  async versionsPage(accountId: string, ref: string, page: PageRequest): Promise<Page<FunctionView>> {
    return pageOf(await this.records.versions(accountId, ref), page, MARKER_CODE);
  }

  create(accountId: string, ref: string, input: FunctionInput, zip: Buffer | undefined, publish: boolean, extras?: CreateExtras): Promise<FunctionView> {
    return this.told(accountId, this.catalog.create(accountId, ref, input, zip, publish, extras));
  }

  updateCode(accountId: string, ref: string, zip: Buffer | undefined, publish: boolean): Promise<FunctionView> {
    return this.told(accountId, this.catalog.updateCode(accountId, ref, zip, publish));
  }

  /** caller: who asks (a role given needs iam:PassRole unless it is the account's root). */
  updateConfiguration(accountId: string, ref: string, input: FunctionInput): Promise<FunctionView> {
    return this.told(accountId, this.catalog.updateConfiguration(accountId, ref, input));
  }

  /** PublishVersion: $LATEST frozen as the next number; unchanged since the last one, that one. */
  async publish(accountId: string, ref: string, description: string): Promise<FunctionView> {
    return await this.told(accountId, this.catalog.publish(accountId, ref, description));
  }

  /** DeleteFunction (a version, with a qualifier): resolves to the name of the function deleted. */
  delete(accountId: string, ref: string, qualifier?: string): Promise<string> {
    return this.told(accountId, this.catalog.delete(accountId, ref, qualifier));
  }

  async accountSettings(accountId: string): Promise<AccountSettings> {
    return await this.catalog.accountSettings(accountId);
  }

  /**
   * GetFunction's Code.Location: which package a version runs, as an opaque name (its function and revision). It names
   * no host path: where the code is unpacked is the host's business, not the tenant's.
   */
  codeLocation(v: FunctionView): string {
    return `pcloud:functions/${encodeURIComponent(v.name)}/${encodeURIComponent(v.revision)}`;
  }

  async tagsOf(accountId: string, ref: string): Promise<Tag[]> {
    return await this.tagging.list(accountId, ref);
  }

  /** TagResource; the invoke-mode tag switches the function between per-request and warm. */
  tag(accountId: string, ref: string, tags: Tag[]): Promise<void> {
    return this.told(accountId, this.tagging.tag(accountId, ref, tags));
  }

  /** UntagResource; without the invoke-mode tag, a function runs a process per request. */
  untag(accountId: string, ref: string, keys: string[]): Promise<void> {
    return this.told(accountId, this.tagging.untag(accountId, ref, keys));
  }

  /**
   * Where nginx sends a signed Invoke: the socket of the function the signer's account names (with its name and mode,
   * which nginx reports back with the invocation), or undefined for the API.
   */
  invokeSocket(accountId: string, ref: string, qualifier: string | undefined): Promise<{ socket: string; name: string; mode: FunctionView['mode'] } | undefined> {
    return this.invocations.invokeSocket(accountId, ref, qualifier);
  }

  /**
   * An invocation nginx answered (src/host/invocation-log.ts): its routes name only functions pcloud gave it, and only
   * root (pcloud's nginx) may write to the socket it reports on. Counted without a query: this is every URL request.
   */
  nginxInvoked(i: Omit<Invocation, 'via'>): void {
    this.invocationStats.record({ ...i, via: 'nginx' });
  }

  /** The account's functions ($LATEST), by name. */
  async list(accountId: string): Promise<FunctionView[]> {
    return await this.records.list(accountId);
  }

  invoke(accountId: string, ref: string, qualifier: string | undefined, payload: Buffer, opts: { type: string; tail: boolean }): Promise<InvokeAnswer | undefined> {
    return this.invocations.invoke(accountId, ref, qualifier, payload, opts);
  }

  /** CreateFunctionUrlConfig (an alias' with a qualifier); nginx routes the URL before this resolves. */
  createUrl(accountId: string, ref: string, authType: string | undefined, qualifier?: string): Promise<FunctionUrlView> {
    return this.told(accountId, this.urls.create(accountId, ref, authType, qualifier));
  }

  async url(accountId: string, ref: string, qualifier?: string): Promise<FunctionUrlView> {
    return await this.urls.get(accountId, ref, qualifier);
  }

  deleteUrl(accountId: string, ref: string, qualifier?: string): Promise<void> {
    return this.told(accountId, this.urls.delete(accountId, ref, qualifier));
  }

  /** A URL's request nginx hands pcloud's API to count (a function with reserved concurrency: urls.ts relay). */
  relayUrl(accountId: string, name: string, urlId: string, req: RelayRequest): Promise<UrlAnswer> {
    return this.urls.relay(accountId, name, urlId, req);
  }

  /**
   * May `signer` call the account's function URL `urlId` with AWS_IAM? Its own account may; another only where the
   * resource policy (of the function, or of the alias the URL is) allows it lambda:InvokeFunctionUrl.
   */
  async urlAllows(accountId: string, name: string, urlId: string, signer: string): Promise<boolean> {
    if (signer === accountId) return true;
    const u = await this.urls.ofUrl(accountId, name, urlId);
    return Boolean(u && (await this.policies.allows(accountId, name, u.qualifier, signer, INVOKE_URL, u.authType)));
  }

  async createAlias(accountId: string, ref: string, name: string, input: AliasInput): Promise<AliasView> {
    return await this.told(accountId, this.aliases.create(accountId, ref, name, input));
  }

  /** UpdateAlias; an alias with a URL moves it to its new version. */
  async updateAlias(accountId: string, ref: string, name: string, input: AliasInput, revisionId?: string): Promise<AliasView> {
    const v = await this.aliases.update(accountId, ref, name, input, revisionId);
    await this.urls.sync();
    this.onChange?.(accountId);
    return v;
  }

  /** DeleteAlias: its URL and its resource policy go with it. */
  async deleteAlias(accountId: string, ref: string, name: string): Promise<void> {
    const r = await this.aliases.delete(accountId, ref, name);
    await this.policies.deleteFor(accountId, r.functionName, r.name);
    if (r.urlId) await this.urls.sync();
    this.onChange?.(accountId);
  }

  /** PutFunctionConcurrency: the function's units are bounded by it from their next start (now: stopped, routes synced). */
  async putConcurrency(accountId: string, ref: string, n: number | undefined): Promise<number> {
    const set = await this.concurrency.put(accountId, ref, n);
    await this.restartUnits(accountId, ref);
    return set;
  }

  async deleteConcurrency(accountId: string, ref: string): Promise<void> {
    await this.concurrency.delete(accountId, ref);
    await this.restartUnits(accountId, ref);
  }

  /** A function's version units stopped (started again with its configuration on their next use), its routes synced. */
  private async restartUnits(accountId: string, ref: string): Promise<void> {
    const { name } = this.names.parse(accountId, ref);
    for (const v of ['$LATEST', ...await this.records.versionNumbers(accountId, name)]) await this.host.stop(functionKey(accountId, name, v));
    await this.urls.sync();
    this.onChange?.(accountId);
  }

  async addPermission(accountId: string, ref: string, qualifier: string | undefined, p: PermissionInput) {
    return await this.policies.add(accountId, ref, qualifier, p);
  }

  /**
   * Told after each change of an account's functions that other hosts' units and routes follow (the cloud tells them:
   * a wake-up over the state database).
   */
  onChange?: (accountId: string) => void;

  private async told<T>(accountId: string, change: Promise<T>): Promise<T> {
    const done = await change;
    this.onChange?.(accountId);
    return done;
  }

  /** Whether other hosts share these functions (their state in PostgreSQL): each runs them from the same records. */
  get shared(): boolean {
    return this.packages.shared;
  }

  /**
   * Another host changed functions (of one account, or of any: a catch-up): this host's units are checked against the
   * records at their next start (not trusted as this process started them), units of versions gone are stopped, code
   * of functions gone and content of layers nothing names any more removed, and nginx's routes synced, the code of new
   * revisions taken ahead of their first invoke (packages.ts).
   */
  async followOthers(accountId?: string): Promise<void> {
    const mine = (key: string) => accountId === undefined || key.startsWith(`${accountId}-`);
    this.host.recheck((await this.host.list()).filter(mine));
    await reconcileUnits(this.records, this.host);
    for (const account of accountId === undefined ? await this.host.codeAccounts() : [accountId]) {
      // Between the account's creates here (one unpacks before its row is written: not swept as gone).
      await this.layers.uploads.run(account, async () => {
        const live = new Set((await this.records.list(account)).map((f) => f.name));
        for (const name of await this.host.codeNames(account)) if (!live.has(name)) await this.host.removeCode(account, name);
      });
    }
    await this.layers.sweep();
    await this.urls.sync();
  }

  /** nginx's routes: every function's URL, to its $LATEST socket. */
  syncRoutes(): Promise<void> {
    return this.urls.sync();
  }

  /** A request reaches a function's URL: a fat lambda's VM is started first if it is stopped. */
  opening(accountId: string, name: string): Promise<void> {
    return this.fat.opening(accountId, name);
  }

  /** Fat lambdas whose console has been idle past their idle time: their VM stops. */
  sweepConsoles(now = Date.now()): Promise<void> {
    return this.fat.sweep(now);
  }

  /** Socket units of function versions that no longer exist, or cannot be served: stopped; resolves to how many. */
  reconcile(): Promise<number> {
    return reconcileUnits(this.records, this.host);
  }
}
