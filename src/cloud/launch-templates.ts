/**
 * Launch templates (EC2): named, versioned sets of RunInstances parameters. Each version's data is kept as the request
 * gave it (RequestLaunchTemplateData by the model's member names, read at the edge) and served back as given; what it
 * means is checked when an instance launches from it (as AWS does: "parameters are not fully validated when you create
 * the launch template"), except what could never be served or launched (user data, metadata options, tags).
 * RunInstances with a LaunchTemplate merges the version's data under the request's own parameters (merge()).
 */
import { inOrder } from './in-order.js';
import { and, asc, count as countAll, eq, gte, inArray, lte } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { launchTemplates, launchTemplateVersions } from '../db/tables.js';
import { type LaunchTemplateData, type MetadataOptions } from '../db/schema.js';
import { instanceTypes } from './catalog.js';
import { CloudError, invalidParam, missingParam } from './errors.js';
import { filterRows, type Fields, type Filter } from './filters.js';
import { ClientTokens, type TokenRequest } from './idempotency.js';
import { isId, newId } from './ids.js';
import { pageOf } from './paging.js';
import { checkMetadataOptions, decodeUserData } from './instances/params.js';
import type { RunParams } from './instances/types.js';
import { validateTags, type Tag, type Tags } from './tags.js';
import { write } from '../db/store.js';

export type LaunchTemplate = typeof launchTemplates.$inferSelect;
export type LaunchTemplateVersion = typeof launchTemplateVersions.$inferSelect & { templateName: string; isDefault: boolean };

/** AWS's quotas: launch templates per account and Region, versions per template. */
export const TEMPLATES_MAX = 5000;
export const VERSIONS_MAX = 10000;

const NAME_RE = /^[a-zA-Z0-9().\-/_]{3,128}$/;
const DESCRIPTION_MAX = 255;
/** Resource types a template's TagSpecifications may name (AWS's list for launch template data). */
const TAGGABLE = ['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu'];

/** Which template a request names: by id or by name (one of them), and a version (`$Latest`, `$Default`, or a number). */
export interface TemplateRef {
  id?: string;
  name?: string;
}

export interface CreateTemplateParams {
  /** Its ClientToken (src/cloud/idempotency.ts; launch templates take up to TEMPLATE_TOKEN_MAX characters). */
  request?: TokenRequest;
  name: string;
  description?: string;
  data: LaunchTemplateData;
  tags: Tag[];
}

const malformedName = () => new CloudError('InvalidLaunchTemplateName.MalformedException',
  "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.'");

export const templateFields: Fields<LaunchTemplate> = {
  'launch-template-name': (t) => t.name,
  'create-time': (t) => new Date(t.createdAt).toISOString(),
};

/** DescribeLaunchTemplateVersions' filters over a version and its data (AWS's names). */
export const versionFields: Fields<LaunchTemplateVersion> = {
  'create-time': (v) => new Date(v.createdAt).toISOString(),
  'is-default-version': (v) => String(v.isDefault),
  'image-id': (v) => str(v.data.ImageId),
  'instance-type': (v) => str(v.data.InstanceType),
  'kernel-id': (v) => str(v.data.KernelId),
  'ram-disk-id': (v) => str(v.data.RamDiskId),
  'ebs-optimized': (v) => (typeof v.data.EbsOptimized === 'boolean' ? String(v.data.EbsOptimized) : undefined),
  'iam-instance-profile': (v) => str(obj(v.data.IamInstanceProfile)?.Arn) ?? str(obj(v.data.IamInstanceProfile)?.Name),
  'http-endpoint': (v) => str(obj(v.data.MetadataOptions)?.HttpEndpoint),
  'http-tokens': (v) => str(obj(v.data.MetadataOptions)?.HttpTokens),
  'http-put-response-hop-limit': (v) => {
    const n = obj(v.data.MetadataOptions)?.HttpPutResponseHopLimit;
    return typeof n === 'number' ? String(n) : undefined;
  },
};

const obj = (v: unknown): LaunchTemplateData | undefined =>
  (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as LaunchTemplateData : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const objs = (v: unknown): LaunchTemplateData[] => (Array.isArray(v) ? v.map(obj).filter((x): x is LaunchTemplateData => !!x) : []);

/** What a template's data must be to be kept: user data, metadata options and tags it could never launch with are refused now. */
function checkData(data: LaunchTemplateData): void {
  if (!Object.keys(data).length) throw missingParam('LaunchTemplateData');
  const type = str(data.InstanceType);
  if (type !== undefined && !instanceTypes.has(type)) throw invalidParam(`The instance type '${type.slice(0, 64)}' does not exist`);
  const ud = str(data.UserData);
  if (ud) decodeUserData(ud);
  const md = obj(data.MetadataOptions);
  if (md) checkMetadataOptions(metadataOf(md));
  for (const spec of objs(data.TagSpecifications)) {
    const type = str(spec.ResourceType) ?? '';
    if (!TAGGABLE.includes(type)) throw invalidParam(`'${type}' is not a valid taggable resource type for this operation.`);
    validateTags(tagsOf(spec));
  }
}

function metadataOf(md: LaunchTemplateData): Partial<MetadataOptions> {
  const out: Partial<MetadataOptions> = {};
  const set = <K extends keyof MetadataOptions>(k: K, v: unknown) => { if (v !== undefined) out[k] = v as MetadataOptions[K]; };
  set('httpTokens', str(md.HttpTokens));
  set('httpEndpoint', str(md.HttpEndpoint));
  set('httpProtocolIpv6', str(md.HttpProtocolIpv6));
  set('instanceMetadataTags', str(md.InstanceMetadataTags));
  set('httpPutResponseHopLimit', typeof md.HttpPutResponseHopLimit === 'number' ? md.HttpPutResponseHopLimit : undefined);
  return out;
}

function tagsOf(spec: LaunchTemplateData): Tag[] {
  return objs(spec.Tags).map((t) => ({ key: str(t.Key) ?? '', value: str(t.Value) ?? '' }));
}

/** Launch templates' ClientToken: at most 128 ASCII characters (AWS's constraint; other actions take 64). */
export const TEMPLATE_TOKEN_MAX = 128;

function checkDescription(d: string | undefined): void {
  if (d !== undefined && d.length > DESCRIPTION_MAX) throw invalidParam(`VersionDescription is limited to ${DESCRIPTION_MAX} characters`);
}

/**
 * RunInstances from a template: the version's data under the request's own parameters (those the request gives win,
 * as on AWS); tags of both (the request's last, so its keys win); the primary network interface's subnet, groups and
 * public address unless the request gives its own.
 */
/** A template's IamInstanceProfile ({Arn, Name}), as RunInstances' own. */
function profileOf(p: LaunchTemplateData | undefined): RunParams['iamInstanceProfile'] {
  const arn = str(p?.Arn);
  const name = str(p?.Name);
  return arn || name ? { ...(arn ? { arn } : {}), ...(name ? { name } : {}) } : undefined;
}

export function mergeTemplate(p: RunParams, data: LaunchTemplateData): RunParams {
  const nic = objs(data.NetworkInterfaces).find((n) => (n.DeviceIndex ?? 0) === 0);
  const md = obj(data.MetadataOptions);
  const ownGroups = p.securityGroupIds.length > 0 || p.securityGroups.length > 0;
  const templateSpecs = objs(data.TagSpecifications).map((s) => ({ resourceType: str(s.ResourceType) ?? '', tags: tagsOf(s) }));
  return {
    ...p,
    imageId: p.imageId ?? str(data.ImageId),
    instanceType: p.instanceType ?? str(data.InstanceType),
    keyName: p.keyName ?? str(data.KeyName),
    userData: p.userData ?? str(data.UserData),
    subnetId: p.subnetId ?? str(nic?.SubnetId),
    availabilityZone: p.availabilityZone ?? str(obj(data.Placement)?.AvailabilityZone),
    privateIpAddress: p.privateIpAddress ?? str(nic?.PrivateIpAddress),
    associatePublicIp: p.associatePublicIp ?? bool(nic?.AssociatePublicIpAddress),
    securityGroupIds: ownGroups ? p.securityGroupIds : [...strs(data.SecurityGroupIds), ...strs(nic?.Groups)],
    securityGroups: ownGroups ? p.securityGroups : strs(data.SecurityGroups),
    tagSpecifications: [...templateSpecs.filter((s) => s.resourceType !== 'spot-instances-request' && s.resourceType !== 'elastic-gpu'), ...p.tagSpecifications],
    metadataOptions: { ...(md ? metadataOf(md) : {}), ...p.metadataOptions },
    disableApiTermination: p.disableApiTermination ?? bool(data.DisableApiTermination),
    disableApiStop: p.disableApiStop ?? bool(data.DisableApiStop),
    instanceInitiatedShutdownBehavior: p.instanceInitiatedShutdownBehavior ?? str(data.InstanceInitiatedShutdownBehavior),
    ebsOptimized: p.ebsOptimized ?? bool(data.EbsOptimized),
    monitoring: p.monitoring ?? bool(obj(data.Monitoring)?.Enabled),
    cpuCredits: p.cpuCredits ?? str(obj(data.CreditSpecification)?.CpuCredits),
    hibernation: p.hibernation ?? bool(obj(data.HibernationOptions)?.Configured),
    iamInstanceProfile: p.iamInstanceProfile ?? profileOf(obj(data.IamInstanceProfile)),
  };
}

export class LaunchTemplates {
  constructor(private readonly db: Db, private readonly tags: Tags) {}

  private createdBy(accountId: string): string {
    return `arn:aws:iam::${accountId}:root`;
  }

  /** The template a request names by id or name (exactly one), or AWS's error. */
  async get(accountId: string, ref: TemplateRef): Promise<LaunchTemplate> {
    if (ref.id !== undefined && ref.name !== undefined) {
      throw new CloudError('InvalidParameterCombination', 'The parameters LaunchTemplateId and LaunchTemplateName cannot be used together. Specify one or the other.');
    }
    if (ref.id !== undefined) {
      if (!isId('lt', ref.id)) throw new CloudError('InvalidLaunchTemplateId.Malformed', `The specified ID for the launch template, ${ref.id.slice(0, 64)}, is malformed.`);
      const row = (await this.db.select().from(launchTemplates).where(and(eq(launchTemplates.accountId, accountId), eq(launchTemplates.id, ref.id))).limit(1))[0];
      if (!row) throw new CloudError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${ref.id}, does not exist.`);
      return row;
    }
    if (ref.name !== undefined) {
      if (!NAME_RE.test(ref.name)) throw malformedName();
      const row = (await this.db.select().from(launchTemplates).where(and(eq(launchTemplates.accountId, accountId), eq(launchTemplates.name, ref.name))).limit(1))[0];
      if (!row) throw new CloudError('InvalidLaunchTemplateName.NotFoundException', `The specified launch template, with template name ${ref.name}, does not exist.`);
      return row;
    }
    throw new CloudError('MissingParameter', 'The request must contain the parameter LaunchTemplateName or LaunchTemplateId');
  }

  /** A version number, `$Latest` or `$Default` as the template's version number (not checked to exist). */
  private versionNumber(t: LaunchTemplate, v: string | undefined): number {
    if (v === undefined || v === '' || v === '$Default') return t.defaultVersion;
    if (v === '$Latest') return t.latestVersion;
    if (!/^\d{1,9}$/.test(v)) throw new CloudError('InvalidLaunchTemplateId.VersionNotFound', `The specified launch template version ${v.slice(0, 32)} does not exist.`);
    return Number(v);
  }

  /** One version of a template (`$Default` when none is given), or InvalidLaunchTemplateId.VersionNotFound. */
  async version(t: LaunchTemplate, v: string | undefined): Promise<LaunchTemplateVersion> {
    const n = this.versionNumber(t, v);
    const row = (await this.db.select().from(launchTemplateVersions)
      .where(and(eq(launchTemplateVersions.templateId, t.id), eq(launchTemplateVersions.version, n))).limit(1))[0];
    if (!row) throw new CloudError('InvalidLaunchTemplateId.VersionNotFound', `The specified launch template version ${v ?? n} does not exist.`);
    return { ...row, templateName: t.name, isDefault: n === t.defaultVersion };
  }

  async create(accountId: string, p: CreateTemplateParams, dryRun = false): Promise<{ template: LaunchTemplate; version: LaunchTemplateVersion }> {
    if (!NAME_RE.test(p.name)) throw malformedName();
    checkDescription(p.description);
    checkData(p.data);
    validateTags(p.tags);
    if (dryRun) throw new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    const now = Date.now();
    const template: LaunchTemplate = {
      id: newId('lt'), accountId, name: p.name, defaultVersion: 1, latestVersion: 1, createdBy: this.createdBy(accountId), createdAt: now,
      clientToken: null,
    };
    const version = { templateId: template.id, version: 1, description: p.description ?? null, data: p.data, createdBy: template.createdBy, createdAt: now, clientToken: null };
    const replay = async (id: string) => {
      const prior = await this.get(accountId, { id });
      return { template: prior, version: await this.version(prior, '1') };
    };
    return await new ClientTokens(this.db).once(p.request ?? { accountId, operation: 'CreateLaunchTemplate', token: undefined, params: [] }, replay, async () => await write(this.db, async (tx) => {
      if ((await tx.select({ id: launchTemplates.id }).from(launchTemplates).where(and(eq(launchTemplates.accountId, accountId), eq(launchTemplates.name, p.name))).limit(1))[0]) {
        throw new CloudError('InvalidLaunchTemplateName.AlreadyExistsException', `Launch template name already in use.`);
      }
      const count = (await tx.select({ n: countAll() }).from(launchTemplates).where(eq(launchTemplates.accountId, accountId)).limit(1))[0]!.n;
      if (count >= TEMPLATES_MAX) {
        throw new CloudError('LaunchTemplateLimitExceeded', `You have reached the maximum number of launch templates (${TEMPLATES_MAX}) for this account. Delete launch templates you no longer need.`);
      }
      await tx.insert(launchTemplates).values(template);
      await tx.insert(launchTemplateVersions).values(version);
      if (p.tags.length) await this.tags.put(accountId, [template.id], p.tags);
      return { id: template.id, value: { template, version: { ...version, templateName: template.name, isDefault: true } } };
    }));
  }

  /** CreateLaunchTemplateVersion: the source version's data (if named) with the request's members over it. */
  async createVersion(accountId: string, ref: TemplateRef, p: { request?: TokenRequest; sourceVersion?: string; description?: string; data: LaunchTemplateData }, dryRun = false): Promise<LaunchTemplateVersion> {
    const t = await this.get(accountId, ref);
    checkDescription(p.description);
    const tokens = new ClientTokens(this.db);
    const request = p.request ?? { accountId, operation: 'CreateLaunchTemplateVersion', token: undefined, params: [] };
    /** The version a request made before: `lt-…:N`. */
    const replay = async (made: string) => {
      const [id, n] = made.split(':');
      const cur = await this.get(accountId, { id });
      return await this.version(cur, n);
    };
    if (!dryRun) {
      const prior = await tokens.prior(request);
      if (prior) return await replay(prior);
    }
    const base = p.sourceVersion !== undefined ? (await this.version(t, p.sourceVersion)).data : undefined;
    const data = base ? { ...base, ...p.data } : p.data;
    checkData(data);
    if (dryRun) throw new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    return await tokens.once(request, replay, async () => await write(this.db, async (tx) => {
      const cur = (await tx.select().from(launchTemplates).where(eq(launchTemplates.id, t.id)).limit(1))[0];
      if (!cur) throw new CloudError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${t.id}, does not exist.`);
      const count = (await tx.select({ n: countAll() }).from(launchTemplateVersions).where(eq(launchTemplateVersions.templateId, t.id)).limit(1))[0]!.n;
      if (count >= VERSIONS_MAX) {
        throw new CloudError('VersionLimitExceeded', `The launch template ${t.id} has the maximum number of versions (${VERSIONS_MAX}). Delete versions you no longer need.`);
      }
      const row = {
        templateId: t.id, version: cur.latestVersion + 1, description: p.description ?? null, data, createdBy: this.createdBy(accountId), createdAt: Date.now(),
        clientToken: null,
      };
      await tx.insert(launchTemplateVersions).values(row);
      await tx.update(launchTemplates).set({ latestVersion: row.version }).where(eq(launchTemplates.id, t.id));
      return { id: `${t.id}:${row.version}`, value: { ...row, templateName: t.name, isDefault: false } };
    }));
  }

  /** ModifyLaunchTemplate: its default version (which must exist). */
  async setDefault(accountId: string, ref: TemplateRef, version: string | undefined, dryRun = false): Promise<LaunchTemplate> {
    const t = await this.get(accountId, ref);
    if (version === undefined) {
      if (dryRun) throw new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
      return t;
    }
    const v = await this.version(t, version);
    if (dryRun) throw new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    await this.db.update(launchTemplates).set({ defaultVersion: v.version }).where(eq(launchTemplates.id, t.id));
    return { ...t, defaultVersion: v.version };
  }

  async describe(accountId: string, q: { ids: string[]; names: string[]; filters: Filter[]; maxResults?: number; nextToken?: string }): Promise<{ templates: LaunchTemplate[]; nextToken?: string }> {
    if (q.maxResults !== undefined && (q.maxResults < 1 || q.maxResults > 200)) {
      throw invalidParam(`Value ( ${q.maxResults} ) for parameter maxResults is invalid. Expecting a value between 1 and 200.`);
    }
    const conds = [eq(launchTemplates.accountId, accountId)];
    if (q.ids.length) {
      for (const id of q.ids) await this.get(accountId, { id });
      conds.push(inArray(launchTemplates.id, q.ids));
    }
    if (q.names.length) {
      for (const name of q.names) await this.get(accountId, { name });
      conds.push(inArray(launchTemplates.name, q.names));
    }
    const rows = await this.db.select().from(launchTemplates).where(and(...conds)).orderBy(asc(launchTemplates.createdAt), asc(launchTemplates.id));
    const filtered = q.filters.length ? filterRows(rows, q.filters, templateFields, await this.tags.of(rows.map((r) => r.id))) : rows;
    const page = pageOf(filtered, { max: q.maxResults, token: q.nextToken });
    return { templates: page.items, nextToken: page.nextToken };
  }

  /**
   * DescribeLaunchTemplateVersions of one template: the versions named (numbers, `$Latest`, `$Default`), or those
   * between MinVersion and MaxVersion, or all of them.
   */
  async describeVersions(accountId: string, ref: TemplateRef, q: { versions: string[]; min?: string; max?: string; filters?: Filter[]; maxResults?: number; nextToken?: string }): Promise<{ versions: LaunchTemplateVersion[]; nextToken?: string }> {
    const t = await this.get(accountId, ref);
    let rows: LaunchTemplateVersion[];
    if (q.versions.length) {
      const seen = new Set<number>();
      rows = (await inOrder(q.versions, (v) => this.version(t, v))).filter((v) => !seen.has(v.version) && seen.add(v.version));
    } else {
      const conds = [eq(launchTemplateVersions.templateId, t.id)];
      if (q.min !== undefined) conds.push(gte(launchTemplateVersions.version, this.versionNumber(t, q.min)));
      if (q.max !== undefined) conds.push(lte(launchTemplateVersions.version, this.versionNumber(t, q.max)));
      rows = (await this.db.select().from(launchTemplateVersions).where(and(...conds)).orderBy(asc(launchTemplateVersions.version)))
        .map((r) => ({ ...r, templateName: t.name, isDefault: r.version === t.defaultVersion }));
    }
    if (q.filters?.length) rows = filterRows(rows, q.filters, versionFields);
    const page = pageOf(rows, { max: q.maxResults, token: q.nextToken });
    return { versions: page.items, nextToken: page.nextToken };
  }

  async delete(accountId: string, ref: TemplateRef, dryRun = false): Promise<LaunchTemplate> {
    const t = await this.get(accountId, ref);
    if (dryRun) throw new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    await write(this.db, async (tx) => {
      await tx.delete(launchTemplateVersions).where(eq(launchTemplateVersions.templateId, t.id));
      await tx.delete(launchTemplates).where(eq(launchTemplates.id, t.id));
      await this.tags.removeAll([t.id]);
    });
    return t;
  }

  /**
   * DeleteLaunchTemplateVersions: each version deleted, or why not (the default version cannot be; a version that
   * does not exist), as AWS lists them.
   */
  async deleteVersions(accountId: string, ref: TemplateRef, versions: string[], dryRun = false): Promise<{ template: LaunchTemplate; deleted: number[]; failed: { version: string; code: string; message: string }[] }> {
    const t = await this.get(accountId, ref);
    if (!versions.length) throw missingParam('LaunchTemplateVersion');
    if (dryRun) throw new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    const deleted: number[] = [];
    const failed: { version: string; code: string; message: string }[] = [];
    for (const v of versions) {
      if (!/^\d{1,9}$/.test(v)) {
        failed.push({ version: v, code: 'launchTemplateVersionDoesNotExist', message: 'The specified launch template version does not exist.' });
        continue;
      }
      const n = Number(v);
      if (n === t.defaultVersion) {
        failed.push({ version: v, code: 'unexpectedError', message: 'Cannot delete the default version of a launch template. Make another version the default, or delete the launch template.' });
        continue;
      }
      const res = await this.db.delete(launchTemplateVersions).where(and(eq(launchTemplateVersions.templateId, t.id), eq(launchTemplateVersions.version, n)))
        .returning({ version: launchTemplateVersions.version });
      if (res.length) deleted.push(n);
      else failed.push({ version: v, code: 'launchTemplateVersionDoesNotExist', message: 'The specified launch template version does not exist.' });
    }
    return { template: t, deleted, failed };
  }

  /**
   * RunInstances' LaunchTemplate: the request's parameters merged over the version's data, and which template and
   * version the instances came from.
   */
  async resolve(accountId: string, ref: TemplateRef, version: string | undefined, p: RunParams): Promise<{ params: RunParams; from: { id: string; version: number } }> {
    const t = await this.get(accountId, ref);
    const v = await this.version(t, version);
    return { params: mergeTemplate(p, v.data), from: { id: t.id, version: v.version } };
  }

}
