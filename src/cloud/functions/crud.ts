/**
 * Functions' lifecycle: create, update (code, configuration), publish versions, delete; each account's limits
 * (functions, code storage) checked against what it holds, and its deployment packages unpacked by the host.
 */
import { createHash, randomUUID } from 'node:crypto';
import { and, count, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functions, functionVersions } from '../../db/tables.js';
import { type FunctionLayer } from '../../db/schema.js';
import { PackageRefused, UNZIPPED_MAX } from '../../host/code-package.js';
import type { HostFunctions } from '../../host/index.js';
import { log } from '../../log.js';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import { hostText } from '../errors/host.js';
import { validateTags, type Tag, type Tags } from '../tags.js';
import type { FunctionAliases } from './aliases.js';
import type { FunctionConcurrency } from './concurrency.js';
import type { FunctionCredentials } from './credentials.js';
import type { FatLambdas } from './fat-lambda.js';
import type { FunctionPolicies } from './policy.js';
import { hexOf, type FunctionPackages } from './packages.js';
import type { FunctionLayers } from './layers.js';
import { check, checkZipSize } from './params.js';
import type { FunctionRecords } from './records.js';
import { checkRole, type FunctionIdentity } from './roles.js';
import { storedCode } from './storage.js';
import type { FunctionUrls } from './urls.js';
import { CONSOLE_ENV, MODE_TAG, NAME, ZIP_MAX, functionKey, invalid, type FunctionInput, type FunctionRow, type FunctionView } from './types.js';
import { write } from '../../db/store.js';

/** GetAccountSettings: the account's limits and what it uses of them. */
export interface AccountSettings {
  limits: { totalCodeSize: number; codeSizeZipped: number; codeSizeUnzipped: number; functionCount: number; concurrentExecutions: number; unreservedConcurrentExecutions: number };
  usage: { totalCodeSize: number; functionCount: number };
}

/** What CreateFunction gives besides the configuration: its tags, and the package's kind (pcloud runs x86_64 zips). */
export interface CreateExtras {
  tags?: Tag[];
  packageType?: string;
  imageUri?: string;
  architectures?: string[];
}

/** IAM and STS as functions need them (roles.ts), and the functions' sessions: without them, roles are unchecked. */
export interface FunctionRoleParts {
  identity?: FunctionIdentity;
  credentials: FunctionCredentials;
}

export class FunctionCatalog {
  constructor(
    private readonly db: Db,
    private readonly records: FunctionRecords,
    private readonly host: HostFunctions,
    private readonly config: CloudConfig,
    private readonly tags: Tags,
    private readonly fat: FatLambdas,
    private readonly urls: FunctionUrls,
    private readonly aliases: FunctionAliases,
    private readonly policies: FunctionPolicies,
    private readonly concurrency: FunctionConcurrency,
    private readonly layers: FunctionLayers,
    private readonly packages: FunctionPackages,
    private readonly roles: FunctionRoleParts,
  ) {}

  /** The role given, checked as Lambda does (roles.ts), where pcloud has IAM. */
  private async checkRole(accountId: string, role: string): Promise<void> {
    if (this.roles.identity) await checkRole(this.roles.identity, accountId, role);
  }

  /** Creates, code updates and layer uploads of one account, one at a time: its limits are checked against what it holds. */
  private get uploads() {
    return this.layers.uploads;
  }

  /**
   * CreateFunction; its tags are stored with it, and the invoke-mode tag sets its mode (a process per request, or a
   * warm worker).
   */
  async create(accountId: string, ref: string, config: FunctionInput, zip: Buffer | undefined, publish: boolean, extras: CreateExtras = {}): Promise<FunctionView> {
    if (extras.packageType === 'Image' || extras.imageUri) throw invalid('Container image functions are not supported by pcloud: use a Zip package.');
    if (extras.architectures?.some((a) => a !== 'x86_64')) throw invalid('Only the x86_64 architecture runs on this host.');
    const tags = extras.tags ?? [];
    validateTags(tags);
    const mode = tags.find((t) => t.key === MODE_TAG)?.value;
    const input = mode === undefined ? config : { ...config, mode };
    const name = this.records.names.forCreate(accountId, ref);
    check(input, true);
    await this.checkRole(accountId, input.role!);
    await this.fat.checkOwner(accountId, input.environment);
    if (!zip) throw invalid('Code.ZipFile is required: pcloud takes deployment packages inline (no S3 yet).');
    checkZipSize(zip, 'CreateFunction');
    const layers = await this.layers.resolve(accountId, input.layers ?? []);
    const view = await this.uploads.run(accountId, async () => {
      if ((await this.records.exists(accountId, name))) {
        throw new CloudError('ResourceConflictException', `Function already exist: ${name}`);
      }
      const { functions: most } = this.config.limits;
      const count = await this.functionCount(accountId);
      if (count >= most) {
        throw new CloudError('ServiceQuotaExceededException', `This account has ${count} functions, as many as this cloud allows one account (${most}). Delete functions you no longer need, or ask the operator of this cloud to raise the limit.`);
      }
      await this.checkCodeStorage(accountId, zip.length);
      const code = await this.unpack(accountId, name, zip, layers);
      const now = Date.now();
      // The row and the package it names (kept for other hosts where they share the state) in one transaction.
      await write(this.db, async (tx) => {
        await tx.insert(functions).values({
          accountId, name, runtime: input.runtime!, handler: input.handler ?? '', role: input.role!, description: input.description ?? '',
          memoryMiB: input.memoryMiB ?? 128, timeoutSec: input.timeoutSec ?? 3, environment: input.environment ?? {},
          mode: (input.mode as 'per-request' | 'warm' | undefined) ?? 'per-request', ...code, layers, createdAt: now, updatedAt: now,
        });
        await this.packages.keep(tx, zip, hexOf(code.codeSha256));
      });
      return publish ? (await this.publish(accountId, name, '')) : (await this.records.get(accountId, name));
    });
    if (tags.length) await this.tags.put(accountId, [this.records.names.arn(accountId, view.name)], tags);
    await this.urls.sync();
    return view;
  }

  /**
   * The account's deployment packages with one more of `adding` bytes (replacing `replacing`'s revision, if no version
   * keeps it) must fit in its code storage: CodeStorageExceededException otherwise.
   */
  private async checkCodeStorage(accountId: string, adding: number, replacing?: FunctionRow): Promise<void> {
    const stored = await storedCode(this.db, accountId, replacing);
    const limit = this.config.limits.codeStorageBytes;
    if (stored + adding > limit) {
      throw new CloudError('CodeStorageExceededException', `Code storage limit exceeded: this account stores ${stored} bytes of deployment packages, and ${adding} more would pass its limit of ${limit} bytes. Delete functions or versions you no longer need, or ask the operator of this cloud to raise the limit.`);
    }
  }

  /** GetAccountSettings: the account's limits and what it uses of them. */
  async accountSettings(accountId: string): Promise<AccountSettings> {
    const concurrent = this.config.limits.concurrentExecutions;
    return {
      limits: {
        totalCodeSize: this.config.limits.codeStorageBytes, codeSizeZipped: ZIP_MAX, codeSizeUnzipped: UNZIPPED_MAX, functionCount: this.config.limits.functions,
        concurrentExecutions: concurrent, unreservedConcurrentExecutions: await this.concurrency.unreserved(accountId),
      },
      usage: { totalCodeSize: await storedCode(this.db, accountId), functionCount: await this.functionCount(accountId) },
    };
  }

  private async functionCount(accountId: string): Promise<number> {
    return (await this.db.select({ n: count() }).from(functions).where(eq(functions.accountId, accountId)).limit(1))[0]!.n;
  }

  /** The package unpacked as a new revision; with layers, what it unzips to must leave room for theirs. */
  private async unpack(accountId: string, name: string, zip: Buffer, layers: FunctionLayer[]): Promise<{ codeSha256: string; codeSize: number; revision: string }> {
    if (zip.length < 4 || zip.readUInt32LE(0) !== 0x04034b50) throw invalid('Could not unzip uploaded file. Please check your file, then try to upload again.');
    const revision = randomUUID();
    try {
      await this.host.unpack(accountId, name, revision, zip, layers.length ? this.layers.roomFor(layers) : undefined);
    } catch (err) {
      // The host's own refusals (the unzipped size) are already in Lambda's words; anything else is said to the log only
      // (unzip's message names host paths).
      if (err instanceof PackageRefused && layers.length && err.message.startsWith('Unzipped size')) {
        throw invalid(`Function code combined with layers exceeds the maximum allowed size of ${UNZIPPED_MAX} bytes.`);
      }
      if (err instanceof PackageRefused) throw invalid(hostText(err.message, 300));
      log.warn(`unpacking a package of ${accountId}'s ${name}: ${(err as Error).message}`);
      throw invalid('Could not unzip uploaded file. Please check your file, then try to upload again.');
    }
    return { codeSha256: createHash('sha256').update(zip).digest('base64'), codeSize: zip.length, revision };
  }

  async updateCode(accountId: string, ref: string, zip: Buffer | undefined, publish: boolean): Promise<FunctionView> {
    const { name } = this.records.names.parse(accountId, ref);
    await this.records.row(accountId, name);
    if (!zip) throw invalid('ZipFile is required: pcloud takes deployment packages inline (no S3 yet).');
    checkZipSize(zip, 'UpdateFunctionCode');
    await this.uploads.run(accountId, async () => {
      const row = await this.records.row(accountId, name);
      await this.checkCodeStorage(accountId, zip.length, row);
      const code = await this.unpack(accountId, name, zip, row.layers);
      await write(this.db, async (tx) => {
        const updated = await tx.update(functions).set({ ...code, updatedAt: Date.now() })
          .where(and(eq(functions.accountId, accountId), eq(functions.name, name))).returning({ name: functions.name });
        // (Deleted meanwhile through another server: nothing names the package.)
        if (updated.length) await this.packages.keep(tx, zip, hexOf(code.codeSha256));
      });
      await this.packages.release([hexOf(row.codeSha256)]);
    });
    await this.host.stop(functionKey(accountId, name, '$LATEST'));
    return publish ? (await this.publish(accountId, name, '')) : (await this.records.get(accountId, name));
  }

  async updateConfiguration(accountId: string, ref: string, input: FunctionInput): Promise<FunctionView> {
    const { name } = this.records.names.parse(accountId, ref);
    const before = await this.records.row(accountId, name);
    const servedConsole = Object.hasOwn(before.environment, CONSOLE_ENV);
    check(input, false);
    if (input.role !== undefined) await this.checkRole(accountId, input.role);
    await this.fat.checkOwner(accountId, input.environment);
    const set: Partial<FunctionRow> = { updatedAt: Date.now() };
    if (input.layers !== undefined) {
      set.layers = await this.layers.resolve(accountId, input.layers);
      if (set.layers.length) this.layers.checkUnzipped(await this.host.codeBytes?.(accountId, name, before.revision) ?? 0, set.layers);
    }
    if (input.runtime !== undefined) set.runtime = input.runtime;
    if (input.handler !== undefined) set.handler = input.handler;
    if (input.role !== undefined) set.role = input.role;
    if (input.description !== undefined) set.description = input.description;
    if (input.memoryMiB !== undefined) set.memoryMiB = input.memoryMiB;
    if (input.timeoutSec !== undefined) set.timeoutSec = input.timeoutSec;
    if (input.environment !== undefined) set.environment = input.environment;
    if (input.mode !== undefined) set.mode = input.mode as 'per-request' | 'warm';
    await this.db.update(functions).set(set).where(and(eq(functions.accountId, accountId), eq(functions.name, name)));
    // The next invoke starts the unit with the new configuration.
    await this.host.stop(functionKey(accountId, name, '$LATEST'));
    // A new role: the old one's sessions end (published versions keep their role: theirs are minted again).
    if (input.role !== undefined && input.role !== before.role) {
      const latest = functionKey(accountId, name, '$LATEST');
      await this.roles.credentials.end(accountId, name, (key) => key !== latest);
    }
    if (set.layers) await this.layers.release(before.layers.map((l) => l.digest));
    // A function that starts or stops serving a VM's console changes its URL's route.
    if (input.environment !== undefined && Object.hasOwn(input.environment, CONSOLE_ENV) !== servedConsole) await this.urls.sync();
    return await this.records.get(accountId, name);
  }

  /** PublishVersion: $LATEST frozen as the next number; unchanged since the last one, that one. */
  async publish(accountId: string, ref: string, description: string): Promise<FunctionView> {
    const { name } = this.records.names.parse(accountId, ref);
    // Read and numbered in one transaction (it holds the write lock): two servers publishing at once get two numbers.
    return await write(this.db, async (tx) => {
      const r = await this.records.row(accountId, name);
      const { version: _v, arn: _a, name: _n, accountId: _acc, lastModified: _l, ...config } = this.records.latest(r);
      const last = r.lastVersion ? (await this.records.get(accountId, name, String(r.lastVersion))) : undefined;
      if (last && last.revision === config.revision && JSON.stringify({ ...last, description: '' }) === JSON.stringify({ ...last, ...config, description: '' })) return last;
      const version = r.lastVersion + 1;
      await tx.insert(functionVersions).values({ accountId, name, version, config: { ...config, description: description || config.description }, createdAt: Date.now() });
      await tx.update(functions).set({ lastVersion: version }).where(and(eq(functions.accountId, accountId), eq(functions.name, name)));
      return await this.records.get(accountId, name, String(version));
    });
  }

  /** DeleteFunction (a version, with a qualifier): resolves to the name of the function deleted. */
  async delete(accountId: string, ref: string, qualifier?: string): Promise<string> {
    // A record stored under a name Lambda would not take (before names were checked) is deleted by that name exactly.
    if (!NAME.test(ref) && qualifier === undefined && (await this.records.exists(accountId, ref))) {
      await this.remove(accountId, ref);
      return ref;
    }
    const q = this.records.names.parse(accountId, ref, qualifier);
    await this.records.row(accountId, q.name);
    if (q.qualifier && q.qualifier !== '$LATEST') {
      const gone = await this.records.get(accountId, q.name, q.qualifier);
      if (gone.version !== q.qualifier) throw invalid(`Deletion of aliases is not supported by DeleteFunction: use DeleteAlias (${q.qualifier}).`);
      const routing = await this.aliases.routingTo(accountId, q.name, q.qualifier);
      if (routing.length) {
        throw new CloudError('ResourceConflictException', `Unable to delete version because the following aliases reference it: [${routing.map((a) => a.name).join(', ')}]`);
      }
      await this.policies.deleteFor(accountId, q.name, q.qualifier);
      await this.db.delete(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, q.name), eq(functionVersions.version, Number(q.qualifier))));
      await this.host.stop(functionKey(accountId, q.name, q.qualifier));
      await this.layers.release((gone.layers ?? []).map((l) => l.digest));
      await this.packages.release([hexOf(gone.codeSha256)]);
      return q.name;
    }
    await this.remove(accountId, q.name);
    return q.name;
  }

  /** A function with all its versions: the records, its tags, its routes, its units, its code. */
  private async remove(accountId: string, name: string): Promise<void> {
    const versions = await this.records.versionNumbers(accountId, name);
    // (Read as stored: the name may be one Lambda would not take, stored before names were checked.)
    const row = (await this.db.select({ layers: functions.layers, codeSha256: functions.codeSha256 }).from(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name))).limit(1))[0];
    const kept = await this.db.select({ config: functionVersions.config }).from(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name)));
    const layers = [...(row?.layers ?? []), ...kept.flatMap((v) => v.config.layers ?? [])].map((l) => l.digest);
    const packages = [...(row ? [row.codeSha256] : []), ...kept.map((v) => v.config.codeSha256)].filter((c) => typeof c === 'string').map(hexOf);
    await write(this.db, async (tx) => {
      await tx.delete(functionVersions).where(and(eq(functionVersions.accountId, accountId), eq(functionVersions.name, name)));
      await tx.delete(functions).where(and(eq(functions.accountId, accountId), eq(functions.name, name)));
    });
    // Its aliases (and their URLs) and its resource policies go with it.
    await this.aliases.deleteAll(accountId, name);
    await this.policies.deleteFor(accountId, name);
    await this.tags.removeAll([this.records.names.arn(accountId, name)]);
    await this.urls.sync();
    for (const v of ['$LATEST', ...versions]) await this.host.stop(functionKey(accountId, name, v));
    // Its sessions end with it.
    await this.roles.credentials.end(accountId, name);
    await this.host.removeCode(accountId, name);
    await this.layers.release(layers);
    await this.packages.release(packages);
  }
}
