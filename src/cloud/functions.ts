/**
 * Lambda functions: configuration, code revisions and published versions, and invocations. Each function version
 * runs as a socket unit of its own (src/host/functions.ts), started on first invoke; per-request functions start a
 * process per invoke, warm ones keep one worker until it has been idle. Function URLs are served by nginx
 * (src/host/nginx.ts), whose routes follow every change here.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { functions, functionVersions, type FunctionConfig } from '../db/schema.js';
import type { FunctionHost, FunctionUnitOptions, InvokeResult } from '../host/functions.js';
import type { NginxDriver, FunctionRoute } from '../host/nginx.js';
import { log } from '../log.js';
import type { CloudConfig } from './config.js';
import { CloudError } from './errors.js';
import { isId } from './ids.js';
import { KeyedQueue } from '../serial.js';
import { PackageRefused, UNZIPPED_MAX } from '../host/code-package.js';

export type FunctionRow = typeof functions.$inferSelect;

export const RUNTIMES = ['nodejs20.x', 'python3.11', 'python3.12', 'provided.al2023'] as const;
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
/**
 * FunctionName as Lambda takes it: a name, a partial ARN (ACCOUNT:function:NAME) or an ARN, each with an optional
 * qualifier (`:$LATEST`, `:3`). Every part is a fixed character class that cannot contain the next separator: linear.
 */
const FUNCTION_REF = /^(?:arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):)?(?:(\d{12}):)?(?:function:)?([a-zA-Z0-9_-]+)(?::(\$LATEST|[a-zA-Z0-9_-]+))?$/;
const FUNCTION_REF_PATTERN = '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?';
/** FunctionName's longest form (an ARN with a qualifier), as Lambda's API bounds it. */
const FUNCTION_REF_MAX = 170;
const QUALIFIER = /^[a-zA-Z0-9$_-]{1,128}$/;
export const SYNC_PAYLOAD_MAX = 6 * 1024 * 1024;
export const ASYNC_PAYLOAD_MAX = 256 * 1024;
/** A deployment package uploaded inline (Lambda: 50 MB zipped; the request that carries it in base64, 69905067 bytes). */
export const ZIP_MAX = 50 * 1024 * 1024;
const ZIP_REQUEST_MAX = 69905067;
/** A function's environment variables together, measured as Lambda does: their JSON, in bytes. */
export const ENVIRONMENT_MAX = 4096;

/** What fat lambdas need of instances: a VM's display, and starting and stopping it. */
export interface ConsoleTargets {
  vncPath(accountId: string, instanceId: string): string;
  /** Running (started now if it was stopped; resolves once it runs). */
  ensureRunning(accountId: string, instanceId: string): Promise<void>;
  stop(accountId: string, instanceId: string): void;
  isRunning(accountId: string, instanceId: string): boolean;
  /** The account has this instance (a console function may only serve its own account's VMs). */
  owns(accountId: string, instanceId: string): boolean;
}

/** A function whose environment names an instance is a "fat lambda": its URL serves that VM's console. */
export const CONSOLE_ENV = 'PCLOUD_CONSOLE_INSTANCE';
const CONSOLE_IDLE_ENV = 'PCLOUD_CONSOLE_IDLE_SEC';

export interface FunctionInput {
  runtime?: string;
  handler?: string;
  role?: string;
  description?: string;
  memoryMiB?: number;
  timeoutSec?: number;
  environment?: Record<string, string>;
  mode?: string;
}

/** A function version's whole configuration, as GetFunctionConfiguration shows it. */
export interface FunctionView extends FunctionConfig {
  name: string;
  accountId: string;
  version: string;
  arn: string;
  lastModified: number;
}

const invalid = (message: string) => new CloudError('InvalidParameterValueException', message);

function check(input: FunctionInput, creating: boolean): void {
  if (creating || input.runtime !== undefined) {
    if (!input.runtime || !(RUNTIMES as readonly string[]).includes(input.runtime)) {
      throw invalid(`Value ${input.runtime ?? 'null'} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [${RUNTIMES.join(', ')}] or be a valid ARN`);
    }
  }
  if (creating && !input.role) throw new CloudError('ValidationException', "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null");
  if (input.role !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/.test(input.role)) {
    throw new CloudError('ValidationException', `1 validation error detected: Value '${input.role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+`);
  }
  if (creating && !input.handler && input.runtime !== 'provided.al2023') throw invalid('Handler is required for a function whose package type is Zip.');
  // A handler is an argument of the runtime's command: no whitespace, and no control character (NUL ends an argument).
  if (input.handler !== undefined && !/^[^\s\x00-\x1f\x7f]{1,128}$/.test(input.handler)) throw new CloudError('ValidationException', `Value '${input.handler}' at 'handler' failed to satisfy constraint`);
  if (input.memoryMiB !== undefined && (!Number.isInteger(input.memoryMiB) || input.memoryMiB < 128 || input.memoryMiB > 10240)) {
    throw new CloudError('ValidationException', `1 validation error detected: Value '${input.memoryMiB}' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240`);
  }
  if (input.timeoutSec !== undefined && (!Number.isInteger(input.timeoutSec) || input.timeoutSec < 1 || input.timeoutSec > 900)) {
    throw new CloudError('ValidationException', `1 validation error detected: Value '${input.timeoutSec}' at 'timeout' failed to satisfy constraint: Member must have value between 1 and 900`);
  }
  for (const k of Object.keys(input.environment ?? {})) {
    if (!/^[a-zA-Z]([a-zA-Z0-9_])+$/.test(k)) throw invalid(`Environment variable name ${k} is invalid`);
    if (/^(AWS_|LAMBDA_|_HANDLER$)/.test(k)) throw invalid(`Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${k}`);
  }
  if (input.description?.includes('\0')) throw invalid('The description must not contain NUL characters.');
  if (input.description !== undefined && input.description.length > 256) {
    throw new CloudError('ValidationException', "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256");
  }
  if (input.environment !== undefined) checkEnvironment(input.environment);
  if (input.mode !== undefined && input.mode !== 'per-request' && input.mode !== 'warm') throw invalid(`The pcloud:invoke-mode tag is per-request or warm, not ${input.mode}`);
}

/**
 * What a process can be given: strings without NUL (execve ends a variable there) or unpaired surrogates (no UTF-8 for
 * them), 4 KB in all as Lambda measures it; and a console function's instance and idle time in their forms.
 */
function checkEnvironment(env: Record<string, string>): void {
  const unable = 'Lambda was unable to configure your environment variables because';
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== 'string') throw invalid(`${unable} the value of ${k} is not a string.`);
    if (v.includes('\0') || /\p{Cs}/u.test(v)) throw invalid(`${unable} the value of ${k} holds a character no process environment can carry (NUL, or an unpaired surrogate).`);
  }
  const measured = JSON.stringify(env);
  const bytes = Buffer.byteLength(measured);
  if (bytes > ENVIRONMENT_MAX) {
    const shown = measured.length > ENVIRONMENT_MAX ? `${measured.slice(0, ENVIRONMENT_MAX)}... (${bytes} bytes)` : measured;
    throw invalid(`${unable} the environment variables you have provided exceeded the 4KB limit. String measured: ${shown}`);
  }
  if (Object.hasOwn(env, CONSOLE_ENV) && !isId('i', env[CONSOLE_ENV]!)) throw invalid(`${CONSOLE_ENV} names an instance (i-...), not '${env[CONSOLE_ENV]}'.`);
  if (Object.hasOwn(env, CONSOLE_IDLE_ENV) && !/^[1-9]\d{0,5}$/.test(env[CONSOLE_IDLE_ENV]!)) {
    throw invalid(`${CONSOLE_IDLE_ENV} is a whole number of seconds from 1 to 999999, not '${env[CONSOLE_IDLE_ENV]}'.`);
  }
}

/** A package inline past Lambda's 50 MB: refused as Lambda refuses the request that carries it. */
function checkZipSize(zip: Buffer, operation: string): void {
  if (zip.length > ZIP_MAX) throw new CloudError('RequestEntityTooLargeException', `Request must be smaller than ${ZIP_REQUEST_MAX} bytes for the ${operation} operation`);
}

export class Functions {
  constructor(
    private readonly db: Db,
    private readonly host: FunctionHost,
    private readonly config: CloudConfig,
  ) {}

  /** pcloud's nginx, once `serve` runs it (function URLs and Invoke through nginx). */
  nginx?: NginxDriver;

  /** Fat lambdas: the VMs whose consoles functions serve (set by the cloud: the instances and their displays). */
  consoles?: ConsoleTargets;

  arn(accountId: string, name: string, version?: string): string {
    return `arn:aws:lambda:${this.config.region}:${accountId}:function:${name}${version ? `:${version}` : ''}`;
  }

  /**
   * FunctionName in any of its forms to the function's name and qualifier (a qualifier given apart must agree). An ARN
   * of another account is refused, one of another region is not found here.
   */
  parseName(accountId: string, ref: string, qualifier?: string): { name: string; qualifier?: string } {
    const r = this.resolve(accountId, ref);
    if (qualifier !== undefined && !QUALIFIER.test(qualifier)) {
      throw new CloudError('ValidationException', `1 validation error detected: Value '${qualifier.slice(0, 200)}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)`);
    }
    if (r.qualifier && qualifier && r.qualifier !== qualifier) throw invalid('The derived qualifier from the function name does not match the specified qualifier.');
    // No function has a longer name: not one of them.
    if (r.name.length > 64) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.arn(accountId, r.name)}`);
    return { name: r.name, qualifier: r.qualifier ?? qualifier };
  }

  /** CreateFunction's FunctionName: a name, or an ARN of this account and region without a qualifier. */
  private createName(accountId: string, ref: string): string {
    const r = this.resolve(accountId, ref);
    if (r.qualifier !== undefined) throw this.badRef(ref);
    if (r.name.length > 64) throw invalid(`1 validation error detected: Value '${r.name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64`);
    return r.name;
  }

  private resolve(accountId: string, ref: string): { name: string; qualifier?: string } {
    const m = ref.length <= FUNCTION_REF_MAX ? FUNCTION_REF.exec(ref) : null;
    if (!m) throw this.badRef(ref);
    const [, region, account, name, qualifier] = m;
    if (account !== undefined && account !== accountId) throw new CloudError('AccessDeniedException', `User is not authorized to access ${ref}`);
    if (region !== undefined && region !== this.config.region) {
      throw new CloudError('ResourceNotFoundException', `Functions from '${region}' are not reachable in this region ('${this.config.region}')`);
    }
    return { name: name!, qualifier };
  }

  private badRef(ref: string): CloudError {
    const shown = ref.length > FUNCTION_REF_MAX ? `${ref.slice(0, FUNCTION_REF_MAX)}...` : ref;
    return new CloudError('ValidationException', `1 validation error detected: Value '${shown}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_REF_PATTERN}`);
  }

  row(accountId: string, name: string): FunctionRow {
    const r = this.db.select().from(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).get();
    if (!r) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.arn(accountId, name)}`);
    return r;
  }

  /** A function version's view ($LATEST or a published number). */
  get(accountId: string, ref: string, qualifier?: string): FunctionView {
    const q = this.parseName(accountId, ref, qualifier);
    const r = this.row(accountId, q.name);
    if (!q.qualifier || q.qualifier === '$LATEST') return this.latest(r);
    if (!/^\d+$/.test(q.qualifier)) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.arn(accountId, q.name, q.qualifier)}`);
    const v = this.db.select().from(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, q.name), eq(functionVersions.version, Number(q.qualifier)))).get();
    if (!v) throw new CloudError('ResourceNotFoundException', `Function not found: ${this.arn(accountId, q.name, q.qualifier)}`);
    return { ...v.config, name: q.name, accountId, version: String(v.version), arn: this.arn(accountId, q.name, String(v.version)), lastModified: v.createdAt };
  }

  private latest(r: FunctionRow): FunctionView {
    return {
      runtime: r.runtime, handler: r.handler, role: r.role, description: r.description, memoryMiB: r.memoryMiB, timeoutSec: r.timeoutSec,
      environment: r.environment, mode: r.mode, codeSha256: r.codeSha256, codeSize: r.codeSize, revision: r.revision,
      name: r.name, accountId: r.accountId, version: '$LATEST', arn: this.arn(r.accountId, r.name), lastModified: r.updatedAt,
    };
  }

  list(accountId: string): FunctionView[] {
    return this.db.select().from(functions).where(eq(functions.accountId, accountId)).orderBy(asc(functions.name)).all().map((r) => this.latest(r));
  }

  versions(accountId: string, ref: string): FunctionView[] {
    const { name } = this.parseName(accountId, ref);
    const r = this.row(accountId, name);
    const vs = this.db.select().from(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name))).orderBy(asc(functionVersions.version)).all();
    return [this.latest(r), ...vs.map((v) => ({ ...v.config, name, accountId, version: String(v.version), arn: this.arn(accountId, name, String(v.version)), lastModified: v.createdAt }))];
  }

  /** Creates and code updates of one account, one at a time: its limits are checked against what it holds. */
  private readonly uploads = new KeyedQueue();

  /** A console function's instance must be the account's own. */
  private checkConsole(accountId: string, environment: Record<string, string> | undefined): void {
    if (!environment || !Object.hasOwn(environment, CONSOLE_ENV) || !this.consoles) return;
    const id = environment[CONSOLE_ENV]!;
    if (!this.consoles.owns(accountId, id)) throw invalid(`${CONSOLE_ENV} names the instance '${id}', which does not exist in this account.`);
  }

  async create(accountId: string, ref: string, input: FunctionInput, zip: Buffer | undefined, publish: boolean): Promise<FunctionView> {
    const name = this.createName(accountId, ref);
    check(input, true);
    this.checkConsole(accountId, input.environment);
    if (!zip) throw invalid('Code.ZipFile is required: pcloud takes deployment packages inline (no S3 yet).');
    checkZipSize(zip, 'CreateFunction');
    const view = await this.uploads.run(accountId, async () => {
      if (this.exists(accountId, name)) {
        throw new CloudError('ResourceConflictException', `Function already exist: ${name}`);
      }
      const { functions: most } = this.config.limits;
      const count = this.functionCount(accountId);
      if (count >= most) {
        throw new CloudError('ServiceQuotaExceededException', `This account has ${count} functions, as many as this cloud allows one account (${most}). Delete functions you no longer need, or ask the operator of this cloud to raise the limit.`);
      }
      this.checkCodeStorage(accountId, zip.length);
      const code = await this.unpack(accountId, name, zip);
      const now = Date.now();
      this.db.insert(functions).values({
        accountId, name, runtime: input.runtime!, handler: input.handler ?? '', role: input.role!, description: input.description ?? '',
        memoryMiB: input.memoryMiB ?? 128, timeoutSec: input.timeoutSec ?? 3, environment: input.environment ?? {},
        mode: (input.mode as 'per-request' | 'warm' | undefined) ?? 'per-request', ...code, createdAt: now, updatedAt: now,
      }).run();
      return publish ? this.publish(accountId, name, '') : this.get(accountId, name);
    });
    await this.syncRoutes();
    return view;
  }

  /**
   * The account's deployment packages with one more of `adding` bytes (replacing `replacing`'s revision, if no version
   * keeps it) must fit in its code storage: CodeStorageExceededException otherwise.
   */
  private checkCodeStorage(accountId: string, adding: number, replacing?: FunctionRow): void {
    const stored = this.storedCode(accountId, replacing);
    const limit = this.config.limits.codeStorageBytes;
    if (stored + adding > limit) {
      throw new CloudError('CodeStorageExceededException', `Code storage limit exceeded: this account stores ${stored} bytes of deployment packages, and ${adding} more would pass its limit of ${limit} bytes. Delete functions or versions you no longer need, or ask the operator of this cloud to raise the limit.`);
    }
  }

  /** Bytes of deployment packages the account keeps: each revision once, whether $LATEST's or a version's (or both). */
  private storedCode(accountId: string, leaving?: FunctionRow): number {
    const sizes = new Map<string, number>();
    for (const r of this.db.select({ name: functions.name, revision: functions.revision, size: functions.codeSize }).from(functions).where(eq(functions.accountId, accountId)).all()) {
      sizes.set(`${r.name}/${r.revision}`, r.size);
    }
    const versions = this.db.select({
      name: functionVersions.name, revision: sql<string>`json_extract(${functionVersions.config}, '$.revision')`, size: sql<number>`json_extract(${functionVersions.config}, '$.codeSize')`,
    }).from(functionVersions).where(eq(functionVersions.accountId, accountId)).all();
    const kept = new Set(versions.map((v) => `${v.name}/${v.revision}`));
    for (const v of versions) sizes.set(`${v.name}/${v.revision}`, Number(v.size) || 0);
    if (leaving && !kept.has(`${leaving.name}/${leaving.revision}`)) sizes.delete(`${leaving.name}/${leaving.revision}`);
    return [...sizes.values()].reduce((a, b) => a + b, 0);
  }

  /** GetAccountSettings: the account's limits and what it uses of them. */
  accountSettings(accountId: string): {
    limits: { totalCodeSize: number; codeSizeZipped: number; codeSizeUnzipped: number; functionCount: number; concurrentExecutions: number; unreservedConcurrentExecutions: number };
    usage: { totalCodeSize: number; functionCount: number };
  } {
    const concurrent = this.config.limits.concurrentExecutions;
    return {
      limits: {
        totalCodeSize: this.config.limits.codeStorageBytes, codeSizeZipped: ZIP_MAX, codeSizeUnzipped: UNZIPPED_MAX, functionCount: this.config.limits.functions,
        // No reserved concurrency here: all of it is unreserved.
        concurrentExecutions: concurrent, unreservedConcurrentExecutions: concurrent,
      },
      usage: { totalCodeSize: this.storedCode(accountId), functionCount: this.functionCount(accountId) },
    };
  }

  private functionCount(accountId: string): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(functions).where(eq(functions.accountId, accountId)).get()!.n;
  }

  private async unpack(accountId: string, name: string, zip: Buffer): Promise<{ codeSha256: string; codeSize: number; revision: string }> {
    if (zip.length < 4 || zip.readUInt32LE(0) !== 0x04034b50) throw invalid('Could not unzip uploaded file. Please check your file, then try to upload again.');
    const revision = randomUUID();
    try {
      await this.host.unpack(accountId, name, revision, zip);
    } catch (err) {
      // The host's own refusals (the unzipped size) are already in Lambda's words; anything else is said to the log only
      // (unzip's message names host paths).
      if (err instanceof PackageRefused) throw invalid(err.message);
      log.warn(`unpacking a package of ${accountId}'s ${name}: ${(err as Error).message}`);
      throw invalid('Could not unzip uploaded file. Please check your file, then try to upload again.');
    }
    return { codeSha256: createHash('sha256').update(zip).digest('base64'), codeSize: zip.length, revision };
  }

  async updateCode(accountId: string, ref: string, zip: Buffer | undefined, publish: boolean): Promise<FunctionView> {
    const { name } = this.parseName(accountId, ref);
    this.row(accountId, name);
    if (!zip) throw invalid('ZipFile is required: pcloud takes deployment packages inline (no S3 yet).');
    checkZipSize(zip, 'UpdateFunctionCode');
    await this.uploads.run(accountId, async () => {
      this.checkCodeStorage(accountId, zip.length, this.row(accountId, name));
      const code = await this.unpack(accountId, name, zip);
      this.db.update(functions).set({ ...code, updatedAt: Date.now() }).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).run();
    });
    await this.host.stop(this.key(accountId, name, '$LATEST'));
    return publish ? this.publish(accountId, name, '') : this.get(accountId, name);
  }

  /** What updateConfiguration would refuse of this input, refused before anything else of a request is stored. */
  checkConfiguration(input: FunctionInput): void {
    check(input, false);
  }

  async updateConfiguration(accountId: string, ref: string, input: FunctionInput): Promise<FunctionView> {
    const { name } = this.parseName(accountId, ref);
    this.row(accountId, name);
    check(input, false);
    this.checkConsole(accountId, input.environment);
    const set: Partial<FunctionRow> = { updatedAt: Date.now() };
    if (input.runtime !== undefined) set.runtime = input.runtime;
    if (input.handler !== undefined) set.handler = input.handler;
    if (input.role !== undefined) set.role = input.role;
    if (input.description !== undefined) set.description = input.description;
    if (input.memoryMiB !== undefined) set.memoryMiB = input.memoryMiB;
    if (input.timeoutSec !== undefined) set.timeoutSec = input.timeoutSec;
    if (input.environment !== undefined) set.environment = input.environment;
    if (input.mode !== undefined) set.mode = input.mode as 'per-request' | 'warm';
    this.db.update(functions).set(set).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).run();
    // The next invoke starts the unit with the new configuration.
    await this.host.stop(this.key(accountId, name, '$LATEST'));
    return this.get(accountId, name);
  }

  /** PublishVersion: $LATEST frozen as the next number; unchanged since the last one, that one. */
  async publish(accountId: string, ref: string, description: string): Promise<FunctionView> {
    const { name } = this.parseName(accountId, ref);
    const r = this.row(accountId, name);
    const { version: _v, arn: _a, name: _n, accountId: _acc, lastModified: _l, ...config } = this.latest(r);
    const last = r.lastVersion ? this.get(accountId, name, String(r.lastVersion)) : undefined;
    if (last && last.revision === config.revision && JSON.stringify({ ...last, description: '' }) === JSON.stringify({ ...last, ...config, description: '' })) return last;
    const version = r.lastVersion + 1;
    this.db.transaction((tx) => {
      tx.insert(functionVersions).values({ accountId, name, version, config: { ...config, description: description || config.description }, createdAt: Date.now() }).run();
      tx.update(functions).set({ lastVersion: version }).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).run();
    });
    return this.get(accountId, name, String(version));
  }

  /** DeleteFunction (a version, with a qualifier): resolves to the name of the function deleted. */
  async delete(accountId: string, ref: string, qualifier?: string): Promise<string> {
    // A record stored under a name Lambda would not take (before names were checked) is deleted by that name exactly.
    if (!NAME.test(ref) && qualifier === undefined && this.exists(accountId, ref)) {
      await this.remove(accountId, ref);
      return ref;
    }
    const q = this.parseName(accountId, ref, qualifier);
    this.row(accountId, q.name);
    if (q.qualifier && q.qualifier !== '$LATEST') {
      this.get(accountId, q.name, q.qualifier);
      this.db.delete(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, q.name), eq(functionVersions.version, Number(q.qualifier)))).run();
      await this.host.stop(this.key(accountId, q.name, q.qualifier));
      return q.name;
    }
    await this.remove(accountId, q.name);
    return q.name;
  }

  private exists(accountId: string, name: string): boolean {
    return Boolean(this.db.select({ n: functions.name }).from(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).get());
  }

  /** A function with all its versions: the records, its routes, its units, its code. */
  private async remove(accountId: string, name: string): Promise<void> {
    const versions = this.db.select({ version: functionVersions.version }).from(functionVersions)
      .where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name))).all().map((v) => String(v.version));
    this.db.transaction((tx) => {
      tx.delete(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name))).run();
      tx.delete(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).run();
    });
    await this.syncRoutes();
    for (const v of ['$LATEST', ...versions]) await this.host.stop(this.key(accountId, name, v));
    await this.host.removeCode(accountId, name);
  }

  // ---------------------------------------------------------------- invoke

  key(accountId: string, name: string, version: string): string {
    return `${accountId}-${name}-${version === '$LATEST' ? 'latest' : version}`;
  }

  private consoleOf(v: { accountId: string; name: string; environment: Record<string, string> }) {
    const instanceId = Object.hasOwn(v.environment, CONSOLE_ENV) ? v.environment[CONSOLE_ENV] : undefined;
    if (!instanceId || !isId('i', instanceId) || !this.consoles) return undefined;
    return {
      instanceId, vncPath: this.consoles.vncPath(v.accountId, instanceId), idleSec: Number(Object.hasOwn(v.environment, CONSOLE_IDLE_ENV) ? v.environment[CONSOLE_IDLE_ENV] : 300) || 300,
      stateFile: this.host.socketPath(this.key(v.accountId, v.name, '$LATEST')).replace(/\.sock$/, '.console.json'),
    };
  }

  private unitOptions(v: FunctionView): FunctionUnitOptions {
    return {
      console: v.version === '$LATEST' ? this.consoleOf(v) : undefined,
      key: this.key(v.accountId, v.name, v.version), functionName: v.name, version: v.version, arn: v.arn, runtime: v.runtime,
      handler: v.handler, codeDir: this.host.codeDir(v.accountId, v.name, v.revision), memoryMiB: v.memoryMiB, timeoutSec: v.timeoutSec,
      environment: v.environment, mode: v.mode, idleSec: this.config.lambdaIdleSec, region: this.config.region,
    };
  }

  /** The function version's socket, its unit running: what nginx and invokes connect to. */
  async socketFor(v: FunctionView): Promise<string> {
    const o = this.unitOptions(v);
    await this.host.ensure(o);
    return this.host.socketPath(o.key);
  }

  /** Invocations running through the API, per account (nginx counts its own: limit_conn, nginx/function-invoke.conf). */
  private readonly running = new Map<string, number>();

  /**
   * One more invocation of the account, within its ConcurrentExecutions (else TooManyRequestsException, as Lambda
   * throttles): resolves to what ends it (once, however often it is called).
   */
  private executing(accountId: string): () => void {
    const n = this.running.get(accountId) ?? 0;
    if (n >= this.config.limits.concurrentExecutions) throw new CloudError('TooManyRequestsException', 'Rate Exceeded.');
    this.running.set(accountId, n + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.running.get(accountId) ?? 1) - 1;
      if (left > 0) this.running.set(accountId, left);
      else this.running.delete(accountId);
    };
  }

  /**
   * Where nginx sends a signed Invoke (src/api/lambda authorizeForNginx): the socket of the function the signer's
   * account names ($LATEST), or undefined for pcloud's API to answer it: a published version (the API runs it), a
   * console function, or anything the API refuses (a name the account does not have, another account's ARN, a bad
   * name), so nginx answers each as the API does, whatever other accounts hold.
   */
  async invokeSocket(accountId: string, ref: string, qualifier: string | undefined): Promise<string | undefined> {
    let v: FunctionView;
    try {
      v = this.get(accountId, ref, qualifier);
    } catch (err) {
      if (err instanceof CloudError) return undefined;
      throw err;
    }
    if (v.version !== '$LATEST' || Object.hasOwn(v.environment, CONSOLE_ENV)) return undefined;
    return this.socketFor(v);
  }

  async invoke(accountId: string, ref: string, qualifier: string | undefined, payload: Buffer, opts: { type: string; tail: boolean }): Promise<(InvokeResult & { version: string }) | undefined> {
    const type = opts.type || 'RequestResponse';
    if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) throw invalid(`Invalid invocation type: ${type}`);
    const v = this.get(accountId, ref, qualifier);
    const limit = type === 'Event' ? ASYNC_PAYLOAD_MAX : SYNC_PAYLOAD_MAX;
    if (payload.length > limit) {
      throw new CloudError('RequestTooLargeException', `Request must be smaller than ${limit} bytes for the ${type === 'Event' ? 'InvokeAsync' : 'InvokeFunction'} operation`);
    }
    if (payload.length) {
      try { JSON.parse(payload.toString()); } catch { throw new CloudError('InvalidRequestContentException', 'Could not parse request body into json: Could not parse payload into json'); }
    }
    if (v.environment[CONSOLE_ENV]) throw invalid(`The function '${v.name}' serves the console of ${v.environment[CONSOLE_ENV]}: open its function URL.`);
    if (type === 'DryRun') return undefined;
    // Counted from here until the handler has answered (an Event invoke too, running in the background).
    const done = this.executing(accountId);
    let call: Promise<InvokeResult>;
    try {
      const o = this.unitOptions(v);
      await this.host.ensure(o);
      call = this.host.invoke(o.key, payload, { requestId: randomUUID(), tail: opts.tail, timeoutSec: v.timeoutSec });
    } catch (err) {
      done();
      throw err;
    }
    void call.then(done, done);
    if (type === 'Event') {
      call.catch((err) => log.warn(`async invoke of ${v.arn}: ${(err as Error).message}`));
      return undefined;
    }
    const res = { ...(await call), version: v.version };
    if (res.status !== 200) throw new CloudError('ServiceException', `The function's runtime answered ${res.status}: ${res.payload.toString().slice(0, 200)}`);
    if (res.payload.length > SYNC_PAYLOAD_MAX) {
      return { ...res, functionError: 'Unhandled', payload: Buffer.from(JSON.stringify({ errorMessage: `Response payload size (${res.payload.length} bytes) exceeded maximum allowed payload size (${SYNC_PAYLOAD_MAX} bytes).`, errorType: 'Function.ResponseSizeTooLarge' })) };
    }
    return res;
  }

  /**
   * GetFunction's Code.Location: which package a version runs, as an opaque name (its function and revision). It names
   * no host path: where the code is unpacked is the host's business, not the tenant's.
   */
  codeLocation(v: FunctionView): string {
    return `pcloud:functions/${encodeURIComponent(v.name)}/${encodeURIComponent(v.revision)}`;
  }

  // ---------------------------------------------------------------- function URLs

  createUrl(accountId: string, ref: string, authType: string | undefined): FunctionRow {
    const { name } = this.parseName(accountId, ref);
    const r = this.row(accountId, name);
    if (authType !== 'NONE' && authType !== 'AWS_IAM') throw new CloudError('ValidationException', `1 validation error detected: Value '${authType}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]`);
    if (r.urlId) throw new CloudError('ResourceConflictException', `Failed to create function url config for [functionArn = ${this.arn(accountId, name)}]. Error message:  FunctionUrlConfig exists for this Lambda function`);
    const urlId = randomBytes(16).toString('hex');
    this.db.update(functions).set({ urlId, urlAuth: authType, urlCreatedAt: Date.now() }).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).run();
    return this.row(accountId, name);
  }

  url(accountId: string, ref: string): FunctionRow {
    const { name } = this.parseName(accountId, ref);
    const r = this.row(accountId, name);
    if (!r.urlId) throw new CloudError('ResourceNotFoundException', 'The resource you requested does not exist.');
    return r;
  }

  async deleteUrl(accountId: string, ref: string): Promise<void> {
    const r = this.url(accountId, ref);
    this.db.update(functions).set({ urlId: null, urlAuth: null, urlCreatedAt: null }).where(and(eq(functions.accountId, accountId), eq(functions.name, r.name))).run();
    await this.syncRoutes();
  }

  /** The function URL's public address (nginx). */
  urlOf(urlId: string): string {
    return `${this.nginx?.baseUrl ?? 'http://nginx-not-running'}/url/${urlId}/`;
  }

  byUrl(urlId: string): FunctionRow | undefined {
    return this.db.select().from(functions).where(eq(functions.urlId, urlId)).get();
  }

  /**
   * A request reaches a function's URL (nginx asked pcloud): a fat lambda's VM is started first if it is stopped, and
   * the request goes on once it runs.
   */
  async opening(accountId: string, name: string): Promise<void> {
    const r = this.row(accountId, name);
    const c = this.consoleOf(r);
    if (!c) return;
    await this.consoles!.ensureRunning(accountId, c.instanceId);
    // Counted from now: the idle time starts when the VM is up, not at the last session.
    await writeFile(c.stateFile, JSON.stringify({ connections: 0, lastActive: Date.now() }));
  }

  /** Fat lambdas whose console has been idle past their idle time: their VM stops (the proxy has left by itself). */
  async sweepConsoles(now = Date.now()): Promise<void> {
    if (!this.consoles) return;
    for (const r of this.servable()) {
      const c = this.consoleOf(r);
      if (!c) continue;
      const state = await readFile(c.stateFile, 'utf8').then((t) => JSON.parse(t) as { connections: number; lastActive: number }, () => undefined);
      if (!state || state.connections > 0 || now - state.lastActive < c.idleSec * 1000) continue;
      await rm(c.stateFile, { force: true });
      if (this.consoles.isRunning(r.accountId, c.instanceId)) {
        log.info(`console of ${c.instanceId} (function ${r.name}) idle for ${c.idleSec} s: stopping the VM`);
        this.consoles.stop(r.accountId, c.instanceId);
      }
    }
  }

  /** Records already reported as unservable (each is reported once per process). */
  private readonly reported = new Set<string>();

  /**
   * Every function that can be served, each record read on its own: one whose name, runtime or environment could not
   * run (stored before names and environments were checked, or damaged) is reported and skipped, never fatal.
   */
  private servable(): FunctionRow[] {
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

  /** Socket units of function versions that no longer exist (deleted while the server died mid-way), or cannot be served: stopped. */
  async reconcile(): Promise<number> {
    const live = new Set<string>();
    for (const r of this.servable()) {
      live.add(this.key(r.accountId, r.name, '$LATEST'));
      const vs = this.db.select({ version: functionVersions.version }).from(functionVersions)
        .where(and(eq(functionVersions.accountId, r.accountId), eq(functionVersions.name, r.name))).all();
      for (const v of vs) live.add(this.key(r.accountId, r.name, String(v.version)));
    }
    let removed = 0;
    for (const key of await this.host.list()) {
      if (live.has(key)) continue;
      try {
        await this.host.stop(key);
        removed++;
      } catch (err) {
        log.error(`stopping the function unit ${key}, skipped: ${(err as Error).message}`);
      }
    }
    return removed;
  }

  /** nginx's routes: every function's URL, to its $LATEST socket (Invoke asks pcloud which socket: invokeSocket). */
  async syncRoutes(): Promise<void> {
    if (!this.nginx) return;
    const rows = this.servable();
    for (const r of rows) await this.host.ensure(this.unitOptions(this.latest(r))).catch((err) => log.warn(`function ${r.name}: ${(err as Error).message}`));
    const routes: FunctionRoute[] = rows.map((r) => ({
      accountId: r.accountId, name: r.name, socket: this.host.socketPath(this.key(r.accountId, r.name, '$LATEST')), urlId: r.urlId ?? undefined,
      urlAuth: r.urlAuth ?? undefined, console: Object.hasOwn(r.environment, CONSOLE_ENV),
    }));
    await this.nginx.sync(routes, { concurrency: this.config.limits.concurrentExecutions }).catch((err) => log.warn(`nginx: ${(err as Error).message}`));
  }
}
