/**
 * Lambda layers: versions published per layer (numbers from 1, never reused), listed and deleted; and a function's
 * Layers (up to 5 layer version ARNs, in order) resolved to what its /opt is made of. A layer's zip is hostile as a
 * function's package is: the same size limits, the host's confined unzip (src/host/layers.ts), stored once by its
 * sha256. Its content outlives a deleted version for as long as a function (or a version of one) uses it, as on AWS.
 * Layer versions count toward the account's code storage.
 */
import { createHash } from 'node:crypto';
import { and, asc, desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { lambdaLayers, lambdaLayerVersions } from '../../db/tables.js';
import { type FunctionLayer } from '../../db/schema.js';
import { PackageRefused, UNZIPPED_MAX } from '../../host/code-package.js';
import { isDigest } from '../../host/layers.js';
import type { HostFunctions } from '../../host/index.js';
import { log } from '../../log.js';
import { KeyedQueue } from '../../serial.js';
import { layerNamed, type FunctionPackages } from './packages.js';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import { hostText } from '../errors/host.js';
import { pageOf, type Page, type PageRequest } from '../paging.js';
import { checkZipSize } from './params.js';
import { storedCode } from './storage.js';
import { invalid } from './types.js';
import { write } from '../../db/store.js';

/** A layer's name as Lambda takes it (LayerName may also be its ARN: 140 characters in all). */
const LAYER_NAME = /^[a-zA-Z0-9_-]{1,140}$/;
const LAYER_REF = /^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):layer:([a-zA-Z0-9_-]+)$/;
const LAYER_VERSION_ARN = /^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):layer:([a-zA-Z0-9_-]+):([0-9]{1,15})$/;
const LAYER_VERSION_PATTERN = 'arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+';
const ARN_MAX = 140;
/** How many layers a function may use, as on Lambda. */
export const LAYERS_MAX = 5;
const ARCHITECTURES = ['x86_64', 'arm64'];
const RUNTIME = /^[a-z][a-z0-9.]{0,31}$/;

/** What PublishLayerVersion gives. */
export interface LayerInput {
  description?: string;
  compatibleRuntimes?: string[];
  compatibleArchitectures?: string[];
  licenseInfo?: string;
  /** Content.S3Bucket was given: refused, content is taken inline only. */
  s3?: boolean;
}

/** A layer version as Get/ListLayerVersions show it. */
export interface LayerVersionView {
  name: string;
  layerArn: string;
  arn: string;
  version: number;
  description: string;
  compatibleRuntimes: string[];
  compatibleArchitectures: string[];
  licenseInfo?: string;
  codeSha256: string;
  codeSize: number;
  createdAt: number;
}

type Row = typeof lambdaLayerVersions.$inferSelect;

const validation = (message: string) => new CloudError('ValidationException', `1 validation error detected: ${message}`);

export class FunctionLayers {
  /** Uploads of one account (function packages and layer zips), one at a time: its storage is checked against what it holds. */
  readonly uploads = new KeyedQueue();

  constructor(
    private readonly db: Db,
    private readonly host: HostFunctions,
    private readonly config: Pick<CloudConfig, 'region' | 'limits'>,
    private readonly packages: FunctionPackages,
  ) {}

  layerArn(accountId: string, name: string): string {
    return `arn:aws:lambda:${this.config.region}:${accountId}:layer:${name}`;
  }

  /** LayerName (a name, or the layer's ARN in this account and region) to a name. */
  private nameOf(accountId: string, ref: string): string {
    if (LAYER_NAME.test(ref)) return ref;
    const m = ref.length <= ARN_MAX ? LAYER_REF.exec(ref) : null;
    if (!m) throw validation(`Value '${ref.slice(0, ARN_MAX)}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+`);
    if (m[2] !== accountId) throw new CloudError('AccessDeniedException', `User is not authorized to access ${ref}`);
    if (m[1] !== this.config.region) throw new CloudError('ResourceNotFoundException', 'The resource you requested does not exist.');
    return m[3]!;
  }

  private versionOf(v: string): number {
    if (!/^\d{1,15}$/.test(v)) throw validation(`Value '${v.slice(0, 40)}' at 'versionNumber' failed to satisfy constraint: Member must be a number`);
    return Number(v);
  }

  /** PublishLayerVersion: the zip unpacked once (by its sha256), the next version number of the layer. */
  async publish(accountId: string, ref: string, zip: Buffer | undefined, input: LayerInput): Promise<LayerVersionView> {
    const name = this.nameOf(accountId, ref);
    checkLayerInput(input);
    if (input.s3) throw invalid('pcloud takes layer content inline (Content.ZipFile): S3 locations are not offered.');
    if (!zip) throw invalid('Content.ZipFile is required.');
    checkZipSize(zip, 'PublishLayerVersion');
    if (zip.length < 4 || zip.readUInt32LE(0) !== 0x04034b50) throw invalid('Could not unzip uploaded file. Please check your file, then try to upload again.');
    if (!this.host.unpackLayer) throw invalid('This cloud\'s host does not run layers.');
    const digest = createHash('sha256').update(zip).digest('hex');
    return this.uploads.run(accountId, async () => {
      const stored = await storedCode(this.db, accountId);
      const limit = this.config.limits.codeStorageBytes;
      if (stored + zip.length > limit) {
        throw new CloudError('CodeStorageExceededException', `Code storage limit exceeded: this account stores ${stored} bytes of deployment packages and layers, and ${zip.length} more would pass its limit of ${limit} bytes. Delete functions, versions or layer versions you no longer need, or ask the operator of this cloud to raise the limit.`);
      }
      let unzippedSize: number;
      try {
        unzippedSize = await this.host.unpackLayer!(digest, zip);
      } catch (err) {
        if (err instanceof PackageRefused) throw invalid(hostText(err.message, 300));
        log.warn(`unpacking a layer of ${accountId}'s ${name}: ${(err as Error).message}`);
        throw invalid('Could not unzip uploaded file. Please check your file, then try to upload again.');
      }
      const version = await write(this.db, async (tx) => {
        const last = (await tx.select({ n: lambdaLayers.lastVersion }).from(lambdaLayers).where(and(eq(lambdaLayers.accountId, accountId), eq(lambdaLayers.name, name))).limit(1))[0]?.n ?? 0;
        const n = last + 1;
        await tx.insert(lambdaLayers).values({ accountId, name, lastVersion: n })
          .onConflictDoUpdate({ target: [lambdaLayers.accountId, lambdaLayers.name], set: { lastVersion: n } });
        await tx.insert(lambdaLayerVersions).values({
          accountId, name, version: n, description: input.description ?? '', compatibleRuntimes: input.compatibleRuntimes ?? [],
          compatibleArchitectures: input.compatibleArchitectures ?? [], licenseInfo: input.licenseInfo ?? null,
          codeSha256: Buffer.from(digest, 'hex').toString('base64'), digest, codeSize: zip.length, unzippedSize, createdAt: Date.now(),
        });
        await this.packages.keep(tx, zip, digest);
        return n;
      });
      return await this.get(accountId, name, String(version));
    });
  }

  private async row(accountId: string, name: string, version: number): Promise<Row | undefined> {
    return (await this.db.select().from(lambdaLayerVersions)
      .where(and(eq(lambdaLayerVersions.accountId, accountId), eq(lambdaLayerVersions.name, name), eq(lambdaLayerVersions.version, version))).limit(1))[0];
  }

  private view(r: Row): LayerVersionView {
    const layerArn = this.layerArn(r.accountId, r.name);
    return {
      name: r.name, layerArn, arn: `${layerArn}:${r.version}`, version: r.version, description: r.description,
      compatibleRuntimes: r.compatibleRuntimes, compatibleArchitectures: r.compatibleArchitectures, licenseInfo: r.licenseInfo ?? undefined,
      codeSha256: r.codeSha256, codeSize: r.codeSize, createdAt: r.createdAt,
    };
  }

  /** GetLayerVersion. */
  async get(accountId: string, ref: string, version: string): Promise<LayerVersionView> {
    const r = await this.row(accountId, this.nameOf(accountId, ref), this.versionOf(version));
    if (!r) throw new CloudError('ResourceNotFoundException', 'The resource you requested does not exist.');
    return this.view(r);
  }

  /** GetLayerVersionByArn. */
  async getByArn(accountId: string, arn: string): Promise<LayerVersionView> {
    const { name, version } = this.parseVersionArn(accountId, arn, 'arn');
    return await this.get(accountId, name, String(version));
  }

  /** A layer version ARN of this account and region (another account's: AccessDeniedException, none is shared). */
  private parseVersionArn(accountId: string, arn: string, member: string): { name: string; version: number; region: string } {
    const m = arn.length <= ARN_MAX ? LAYER_VERSION_ARN.exec(arn) : null;
    if (!m) {
      throw validation(`Value '${arn.slice(0, ARN_MAX)}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${LAYER_VERSION_PATTERN}`);
    }
    if (m[2] !== accountId) {
      throw new CloudError('AccessDeniedException', `User: arn:aws:iam::${accountId}:root is not authorized to perform: lambda:GetLayerVersion on resource: ${arn} because no resource-based policy allows the lambda:GetLayerVersion action`);
    }
    return { region: m[1]!, name: m[3]!, version: Number(m[4]) };
  }

  /** ListLayerVersions: newest first, filtered by runtime and architecture (a layer with none: an empty list). */
  async versionsPage(accountId: string, ref: string, filter: { runtime?: string; architecture?: string }, page: PageRequest): Promise<Page<LayerVersionView>> {
    const name = this.nameOf(accountId, ref);
    const rows = await this.db.select().from(lambdaLayerVersions).where(and(eq(lambdaLayerVersions.accountId, accountId), eq(lambdaLayerVersions.name, name)))
      .orderBy(desc(lambdaLayerVersions.version));
    return pageOf(rows.filter((r) => matches(r, filter)).map((r) => this.view(r)), page, 'InvalidParameterValueException');
  }

  /** ListLayers: each layer with its latest version that matches the filters, by name. */
  async layersPage(accountId: string, filter: { runtime?: string; architecture?: string }, page: PageRequest): Promise<Page<LayerVersionView>> {
    const rows = await this.db.select().from(lambdaLayerVersions).where(eq(lambdaLayerVersions.accountId, accountId))
      .orderBy(asc(lambdaLayerVersions.name), desc(lambdaLayerVersions.version));
    const latest = new Map<string, Row>();
    for (const r of rows) if (!latest.has(r.name) && matches(r, filter)) latest.set(r.name, r);
    return pageOf([...latest.values()].map((r) => this.view(r)), page, 'InvalidParameterValueException');
  }

  /** DeleteLayerVersion: gone from the API (done already: the same answer); its content stays while functions use it. */
  async delete(accountId: string, ref: string, version: string): Promise<void> {
    const name = this.nameOf(accountId, ref);
    const n = this.versionOf(version);
    const r = await this.row(accountId, name, n);
    if (!r) return;
    await this.db.delete(lambdaLayerVersions)
      .where(and(eq(lambdaLayerVersions.accountId, accountId), eq(lambdaLayerVersions.name, name), eq(lambdaLayerVersions.version, n)));
    await this.release([r.digest]);
  }

  /**
   * A function's Layers (ARNs, in order) to what its /opt is made of, refused as Lambda refuses them: more than 5, a
   * malformed ARN, two versions of one layer, another region, another account's (none is shared), one that does not
   * exist (deleted: its users keep it, a new one cannot take it).
   */
  async resolve(accountId: string, arns: string[]): Promise<FunctionLayer[]> {
    if (arns.length > LAYERS_MAX) throw invalid(`Cannot reference more than ${LAYERS_MAX} layers.`);
    if (arns.length && !this.host.unpackLayer) throw invalid('This cloud\'s host does not run layers.');
    const seen = new Map<string, string>();
    const layers: FunctionLayer[] = [];
    for (const arn of arns) {
      const { name, version, region } = this.parseVersionArn(accountId, arn, 'layers');
      const before = seen.get(name);
      if (before !== undefined) throw invalid(`Two different versions of the same layer are not allowed to be referenced in the same function. ${before} and ${arn} are versions of the same layer.`);
      seen.set(name, arn);
      if (region !== this.config.region) throw invalid(`Layers are not in the same region as the function. Layers are expected to be in region ${this.config.region}.`);
      const r = await this.row(accountId, name, version);
      if (!r) throw invalid(`Layer version ${arn} does not exist.`);
      layers.push({ arn: `${this.layerArn(accountId, name)}:${version}`, codeSize: r.codeSize, digest: r.digest, unzippedSize: r.unzippedSize });
    }
    return layers;
  }

  /** A function's code of `codeBytes` unzipped with its layers must stay under Lambda's 250 MB. */
  checkUnzipped(codeBytes: number, layers: FunctionLayer[]): void {
    const total = codeBytes + layers.reduce((a, l) => a + l.unzippedSize, 0);
    if (layers.length && total >= UNZIPPED_MAX) {
      throw invalid(`Function code combined with layers exceeds the maximum allowed size of ${UNZIPPED_MAX} bytes. The actual size is ${total} bytes.`);
    }
  }

  /** What a function's package may unzip to beside its layers (the host refuses more). */
  roomFor(layers: FunctionLayer[]): number {
    return UNZIPPED_MAX - layers.reduce((a, l) => a + l.unzippedSize, 0);
  }

  /** Layer contents on this host nothing names any more (their last user may have gone through another host): removed. */
  async sweep(): Promise<void> {
    for (const digest of await this.host.layerDigests?.() ?? []) {
      if (!(await layerNamed(this.db, digest))) await this.host.removeLayer?.(digest);
    }
  }

  /** Layer contents no layer version and no function (or version of one) uses any more: removed from the host. */
  async release(digests: string[]): Promise<void> {
    for (const digest of new Set(digests)) {
      if (isDigest(digest) && !(await layerNamed(this.db, digest))) await this.host.removeLayer?.(digest);
    }
    await this.packages.release(digests);
  }
}

function matches(r: Row, f: { runtime?: string; architecture?: string }): boolean {
  return (f.runtime === undefined || r.compatibleRuntimes.includes(f.runtime))
    && (f.architecture === undefined || r.compatibleArchitectures.includes(f.architecture));
}

/** PublishLayerVersion's members, in Lambda's words. */
function checkLayerInput(input: LayerInput): void {
  const rt = input.compatibleRuntimes ?? [];
  if (rt.length > 15) throw validation("Value at 'compatibleRuntimes' failed to satisfy constraint: Member must have length less than or equal to 15");
  for (const r of rt) if (!RUNTIME.test(r)) throw validation(`Value '[${r.slice(0, 40)}]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set`);
  const arch = input.compatibleArchitectures ?? [];
  if (arch.length > 2) throw validation("Value at 'compatibleArchitectures' failed to satisfy constraint: Member must have length less than or equal to 2");
  for (const a of arch) if (!ARCHITECTURES.includes(a)) throw validation(`Value '[${a.slice(0, 40)}]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]`);
  if (input.description !== undefined && (input.description.length > 256 || input.description.includes('\0'))) {
    throw validation("Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256");
  }
  if (input.licenseInfo !== undefined && (input.licenseInfo.length > 512 || input.licenseInfo.includes('\0'))) {
    throw validation("Value at 'licenseInfo' failed to satisfy constraint: Member must have length less than or equal to 512");
  }
}
