/** Reading instances (get, getMany, DescribeInstances and its filters), their attributes, and their console output. */
import { write } from '../../db/store.js';
import { preparedRead } from '../../db/prepared.js';
import { firstOfJsonArray, jsonPairs, parsedJson, subquery } from '../../db/sql.js';
import { and, asc, eq, getTableColumns, gt, inArray, isNull, or, sql, type Placeholder, type SQL } from 'drizzle-orm';
import { addresses, iamProfileAssociations, instances, tags } from '../../db/tables.js';
import { type InstanceAttributes, type MetadataOptions } from '../../db/schema.js';
import { instanceTypes, type InstanceType } from '../catalog.js';
import type { Image, RegisterRequest } from '../images.js';
import { CloudError, invalidParam } from '../errors.js';
import { isId } from '../ids.js';
import { PRIVATE_HOST_PREFIX, privateDnsDomain } from '../ip.js';
import { pageFetched, pageOffset } from '../paging.js';
import { fieldOf, invalidFilter, type Filter } from '../filters.js';
import { Tags } from '../tags.js';
import { lostHosts } from '../hosts/liveness.js';
import type { InstanceContext } from './context.js';
import type { UnitStatus } from '../../host/units/types.js';
import { filterByHealth, instanceHealth, isStatusFilter, needsUnitStatus, needsVmStatus, type InstanceHealth } from './health.js';
import { checkCpuCredits, checkMetadataOptions, decodeUserData, oneOf, shutdownBehaviors } from './params.js';
import { holdsResources, stateCodes, UNIT_PREFIX, type DescribeQuery, type Instance, type PageFacts } from './types.js';

/**
 * Filters DescribeInstances understands, as SQL on the instances table (names and errors as filters.ts's in-memory ones),
 * made per query: of the tables and in the words of the database in use (tables.ts, sql.ts).
 */
const filterColumns = (): Record<string, SQL> => ({
  'instance-id': sql`${instances.id}`,
  'instance-state-name': sql`${instances.state}`,
  'instance-type': sql`${instances.instanceType}`,
  'image-id': sql`${instances.imageId}`,
  'key-name': sql`${instances.keyName}`,
  'vpc-id': sql`${instances.vpcId}`,
  'subnet-id': sql`${instances.subnetId}`,
  'private-ip-address': sql`${instances.privateIp}`,
  'ip-address': sql`${instances.publicIp}`,
  'network-interface.addresses.association.public-ip': sql`${instances.publicIp}`,
  'association.public-ip': sql`${instances.publicIp}`,
  'network-interface.addresses.private-ip-address': sql`${instances.privateIp}`,
  'availability-zone': sql`${instances.availabilityZone}`,
  'client-token': sql`${instances.clientToken}`,
  'reservation-id': sql`${instances.reservationId}`,
  'owner-id': sql`${instances.accountId}`,
  'launch-index': sql`CAST(${instances.launchIndex} AS TEXT)`,
  'network-interface.network-interface-id': sql`${instances.networkInterfaceId}`,
  'network-interface.mac-address': sql`${instances.macAddress}`,
  'root-device-type': sql`'ebs'`,
  'architecture': sql`'x86_64'`,
  'instance-lifecycle': sql`NULL`,
  'block-device-mapping.volume-id': sql`${instances.rootVolumeId}`,
  'instance.group-id': firstOfJsonArray(instances.securityGroupIds),
});

/** An instance's private DNS name in SQL: ip.ts's rule (privateDnsName), in the region's domain. */
function privateDnsNameSql(region: string): SQL {
  return sql`(${PRIVATE_HOST_PREFIX} || replace(${instances.privateIp}, '.', '-') || ${`.${privateDnsDomain(region)}`})`;
}

/** One DescribeInstances filter as SQL on the instances table (private DNS names in `region`). */
export function instanceFilter(f: Filter, region: string): SQL {
  if (f.name === 'instance-state-code') {
    const states = Object.entries(stateCodes).filter(([, c]) => f.values.includes(String(c))).map(([s]) => s);
    return states.length ? inArray(instances.state, states) : sql`false`;
  }
  if (f.name === 'private-dns-name' || f.name === 'dns-name') {
    return Tags.matchSql(privateDnsNameSql(region), f.values);
  }
  const tagCond = Tags.filterSql(sql`${instances.id}`, f);
  if (tagCond) return tagCond;
  const col = fieldOf(filterColumns(), f.name);
  if (!col) throw invalidFilter(f.name);
  return Tags.matchSql(col, f.values);
}

/**
 * PageFacts as columns of the instances' own query: each a correlated subquery (db/sql.ts subquery) on its table's index
 * by instance, of the instance's own account.
 */
export const factColumns = () => ({
  tagPairs: jsonPairs(tags.key, tags.value, sql`${tags} WHERE ${tags.resourceId} = ${instances.id} AND ${tags.accountId} = ${instances.accountId}`)
    .mapWith((v) => parsedJson(v) as [string, string][]),
  eip: subquery<string | null>(sql`SELECT ${addresses.publicIp} FROM ${addresses} WHERE ${addresses.instanceId} = ${instances.id} AND ${addresses.accountId} = ${instances.accountId} LIMIT 1`),
  profiled: sql`EXISTS ${subquery(sql`SELECT 1 FROM ${iamProfileAssociations} WHERE ${iamProfileAssociations.instanceId} = ${instances.id} AND ${iamProfileAssociations.accountId} = ${instances.accountId}`)}`
    .mapWith(Boolean),
});
interface FactValues { tagPairs: [string, string][]; eip: string | null; profiled: boolean }

/** Terminated instances stay visible for the TTL, as on AWS: those terminated after `since` (or not at all). */
const visibleSince = (since: number | Placeholder) => or(isNull(instances.terminatedAt), gt(instances.terminatedAt, since))!;

/** DescribeInstances' commonest call, an instance by its id, with its facts: built (and planned) once. */
const oneWithFacts = preparedRead('pcloud_instance_with_facts', (db) => db.select({ ...getTableColumns(instances), ...factColumns() })
  .from(instances)
  .where(and(eq(instances.accountId, sql.placeholder('accountId')), eq(instances.id, sql.placeholder('id')), visibleSince(sql.placeholder('since')))));

/** An instance and its health, as DescribeInstanceStatus lists them. */
export interface InstanceStatus {
  instance: Instance;
  health: InstanceHealth;
}

export class Queries {
  constructor(private readonly ctx: InstanceContext) {}

  /** Terminated instances stay visible for the TTL, as on AWS. */
  private since(): number {
    return Date.now() - this.ctx.config.terminatedTtlMs;
  }

  private visible(): SQL {
    return visibleSince(this.since());
  }

  async get(accountId: string, id: string): Promise<Instance> {
    return (await this.getMany(accountId, [id]))[0]!;
  }

  /** The instances named, all of them, or InvalidInstanceID.Malformed/NotFound. */
  async getMany(accountId: string, ids: string[]): Promise<Instance[]> {
    if (!ids.length) throw new CloudError('MissingParameter', 'The request must contain the parameter InstanceId');
    for (const id of ids) if (!isId('i', id)) throw new CloudError('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    const rows = await this.ctx.db.select().from(instances)
      .where(and(eq(instances.accountId, accountId), inArray(instances.id, ids), this.visible()));
    const missing = ids.filter((id) => !rows.some((r) => r.id === id));
    if (missing.length) {
      throw new CloudError('InvalidInstanceID.NotFound', `The instance ID${missing.length > 1 ? 's' : ''} '${missing.join(', ')}' do${missing.length > 1 ? '' : 'es'} not exist`);
    }
    return ids.map((id) => rows.find((r) => r.id === id)!);
  }

  /**
   * A page of the account's instances, as DescribeInstances lists them; with `facts`, what it shows beside them too,
   * read in the same query on its first page (PageFacts; past it, the caller reads them).
   */
  async describe(accountId: string, q: DescribeQuery): Promise<{ instances: Instance[]; nextToken?: string }>;
  async describe(accountId: string, q: DescribeQuery, opts: { facts: true }): Promise<{ instances: Instance[]; nextToken?: string; facts?: PageFacts }>;
  async describe(accountId: string, q: DescribeQuery, opts: { facts?: boolean } = {}): Promise<{ instances: Instance[]; nextToken?: string; facts?: PageFacts }> {
    if (q.maxResults !== undefined && q.ids.length) {
      throw new CloudError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    }
    if (q.maxResults !== undefined && (q.maxResults < 5 || q.maxResults > 1000)) {
      throw invalidParam(`Value ( ${q.maxResults} ) for parameter maxResults is invalid. Expecting a value greater than 5.`);
    }
    for (const id of q.ids) if (!isId('i', id)) throw new CloudError('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    const conds: SQL[] = [eq(instances.accountId, accountId), this.visible()];
    if (q.ids.length) conds.push(inArray(instances.id, q.ids));
    for (const f of q.filters) conds.push(instanceFilter(f, this.ctx.config.region));
    const offset = pageOffset(q.nextToken);
    // Past the first page, PostgreSQL would work the facts out for every row the offset skips too: read apart there.
    const withFacts = opts.facts === true && offset === 0;
    const columns = withFacts ? { ...getTableColumns(instances), ...factColumns() } : getTableColumns(instances);
    const byOneId = opts.facts && q.ids.length === 1 && !q.filters.length && q.maxResults === undefined && !q.nextToken;
    const found: (Instance & Partial<FactValues>)[] = byOneId
      ? await oneWithFacts(this.ctx.db, { accountId, id: q.ids[0], since: this.since() })
      : await this.ctx.db.select(columns).from(instances).where(and(...conds))
        .orderBy(asc(instances.launchTime), asc(instances.reservationId), asc(instances.launchIndex))
        .limit(q.maxResults === undefined ? -1 : q.maxResults + 1).offset(offset);
    // Fewer rows than ids named: either filters left some out, or some do not exist (InvalidInstanceID.NotFound).
    if (q.ids.length && found.length < new Set(q.ids).size) await this.getMany(accountId, q.ids);
    const page = pageFetched(found, offset, q.maxResults);
    if (!withFacts) return { instances: page.items, nextToken: page.nextToken };
    const facts: PageFacts = { tags: new Map(), eips: new Map(), profiled: new Set() };
    const rows = page.items.map(({ tagPairs, eip, profiled, ...row }) => {
      if (tagPairs?.length) facts.tags.set(row.id, tagPairs.map(([key, value]) => ({ key, value })));
      if (eip) facts.eips.set(row.id, eip);
      if (profiled) facts.profiled.add(row.id);
      return row;
    });
    return { instances: rows, nextToken: page.nextToken, facts };
  }

  /**
   * DescribeInstanceStatus: the instances DescribeInstances would list (running ones only, unless includeAll), each
   * with its health (health.ts), and its own filters (health, events) applied to the page.
   */
  async statuses(accountId: string, q: DescribeQuery, includeAll: boolean): Promise<{ statuses: InstanceStatus[]; nextToken?: string }> {
    const page = await this.describe(accountId, { ...q, filters: q.filters.filter((f) => !isStatusFilter(f.name)) });
    const rows = page.instances.filter((r) => includeAll || r.state === 'running');
    const [units, vmStatus] = await Promise.all([
      this.unitStatuses(rows.filter(needsUnitStatus).map((r) => r.id)),
      Promise.all(rows.filter(needsVmStatus).map(async (r) => [r.id, await this.ctx.vms.status(r.id)] as const)).then((e) => new Map(e)),
    ]);
    const lost = await lostHosts(this.ctx.db, this.ctx.config.hosts);
    const statuses = rows.map((r) => ({
      instance: r, health: instanceHealth(r, { unit: units.get(UNIT_PREFIX + r.id), vmStatus: vmStatus.get(r.id), hostLost: lost(r.hostId) }),
    }));
    return { statuses: filterByHealth(statuses, q.filters), nextToken: page.nextToken };
  }

  /** The units of these instances by name: one question to the unit manager for them all (one unit: its own). */
  private async unitStatuses(ids: string[]): Promise<Map<string, UnitStatus>> {
    const { units } = this.ctx.host;
    if (!ids.length) return new Map();
    const list = ids.length === 1 ? [await units.status(UNIT_PREFIX + ids[0])] : await units.list(UNIT_PREFIX);
    return new Map(list.flatMap((st) => (st ? [[st.name, st] as const] : [])));
  }

  instanceType(inst: Instance): InstanceType {
    return instanceTypes.get(inst.instanceType)!;
  }

  async consoleOutput(accountId: string, id: string): Promise<Buffer> {
    await this.get(accountId, id);
    return await this.ctx.host.units.logs(UNIT_PREFIX + id, 64 * 1024);
  }

  // ---------------------------------------------------------------- attributes

  /** CreateImage: the instance's disk as a new private image of its account. */
  async createImage(accountId: string, id: string, name: string, description: string): Promise<string> {
    const inst = await this.get(accountId, id);
    if (!['running', 'stopped'].includes(inst.state)) {
      throw new CloudError('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be imaged (${inst.state}).`);
    }
    return (await this.ctx.images.fromInstance(accountId, inst, name, description)).id;
  }

  /**
   * RegisterImage from a snapshot: of a VM's root volume, its disk boots with the kernel of the image the VM ran (or
   * from its own firmware with BootMode uefi). A data volume's snapshot has no kernel here: only as a UEFI image, whose
   * firmware boots it if it is bootable (and shows why not on the instance's console if not). A container's root is a
   * directory, not a disk: CreateImage makes its image.
   */
  async registerImage(accountId: string, req: RegisterRequest): Promise<Image> {
    const { snapshots, host, images } = this.ctx;
    const snap = await snapshots.get(accountId, req.snapshotId);
    await snapshots.mustBeHere(snap, 'register an image of it');
    if (req.volumeSize !== undefined && req.volumeSize < snap.sizeGiB) {
      throw new CloudError('InvalidBlockDeviceMapping', `Volume of size ${req.volumeSize}GB is smaller than snapshot '${snap.id}', expect size >= ${snap.sizeGiB}GB`);
    }
    const source = (await this.ctx.db.select().from(instances)
      .where(and(eq(instances.accountId, accountId), eq(instances.rootVolumeId, snap.volumeId))).limit(1))[0];
    if (source?.runtime === 'container') {
      throw new CloudError('UnsupportedOperation', `The snapshot '${snap.id}' is of the root of the container instance '${source.id}', which is a directory, not a disk: make its image with CreateImage.`);
    }
    const base = source ? (await this.imageOf(source)) : undefined;
    if (base && base.architecture !== req.architecture) {
      throw invalidParam(`The architecture '${req.architecture}' does not match the architecture '${base.architecture}' of the instance whose root volume '${snap.volumeId}' the snapshot '${snap.id}' is of.`);
    }
    if (req.bootMode === 'legacy-bios' && !(base && images.hasVm(base))) {
      throw invalidParam(source
        ? `The snapshot '${snap.id}' is of the root volume of '${source.id}', whose image has no kernel to boot it with: register it with BootMode uefi if its disk boots from firmware.`
        : `The snapshot '${snap.id}' is of the data volume '${snap.volumeId}', not of an instance's root volume: it has no kernel to boot with here. Register it with BootMode uefi if the disk boots from firmware, or register a snapshot of a VM's root volume.`);
    }
    return images.fromSnapshot(accountId, req, host.pool.snapshotPath(snap.id), base);
  }

  /** ModifyInstanceMetadataOptions: the record, then the hop limit on the host (it is the TTL of the service's answers). */
  async modifyMetadataOptions(accountId: string, id: string, opts: Partial<MetadataOptions>): Promise<MetadataOptions> {
    const inst = await this.get(accountId, id);
    await this.modifyAttributes(accountId, id, { metadataOptions: { ...inst.attributes.metadataOptions, ...opts } });
    await this.ctx.plane.syncFirewall(accountId, inst.vpcId);
    return (await this.get(accountId, id)).attributes.metadataOptions;
  }

  /**
   * Whether a stopped instance can take a type: the same architecture, and a type its image runs on the same runtime
   * (its disk is a container's root or a VM's raw disk, and stays that); else InvalidParameterValue naming the types it
   * can take.
   */
  private async checkTypeFits(inst: Instance, t: InstanceType): Promise<void> {
    const image = await this.imageOf(inst);
    const runtimeOf = (type: InstanceType) => {
      if (image) {
        try {
          return this.ctx.vms.runtimeFor(type, image);
        } catch {
          return undefined;
        }
      }
      return type.runtime;
    };
    const arch = image?.architecture ?? 'x86_64';
    if (t.architecture === arch && runtimeOf(t) === inst.runtime) return;
    const fits = [...instanceTypes.values()].filter((x) => x.architecture === arch && runtimeOf(x) === inst.runtime).map((x) => x.name);
    const families = [...new Set(fits.map((n) => n.split('.')[0]!))];
    throw invalidParam(`The instance type '${t.name}' is not supported for the instance '${inst.id}': it runs as a ${inst.runtime === 'container' ? 'container' : 'VM'} `
      + `(${inst.runtime}), and '${t.name}' would not. Choose a type of ${families.length ? `these families: ${families.join(', ')}` : 'its own family'}.`);
  }

  /** The image an instance was launched from, if it is still registered. */
  private async imageOf(inst: Instance): Promise<Image | undefined> {
    try {
      return await this.ctx.images.get(inst.imageId);
    } catch {
      return undefined;
    }
  }

  async modifyAttributes(accountId: string, id: string, changes: Partial<InstanceAttributes> & { instanceType?: string; userData?: string }): Promise<void> {
    // Read and written in one transaction: two changes at once both land (neither undoes the other), and a type change
    // never lands on an instance that started meanwhile.
    await write(this.ctx.db, async () => {
      const inst = await this.get(accountId, id);
      const { instanceType, userData, ...attrs } = changes;
      const stoppedOnly = (what: string) => {
        if (inst.state !== 'stopped') {
          throw new CloudError('IncorrectInstanceState', `The instance '${id}' is not in the 'stopped' state. Stop it to change its ${what}.`);
        }
      };
      const set: Partial<Instance> = {};
      if (instanceType !== undefined) {
        const t = instanceTypes.get(instanceType);
        if (!t) throw invalidParam(`The instance type '${instanceType.slice(0, 64)}' does not exist`);
        stoppedOnly('instance type');
        await this.checkTypeFits(inst, t);
        set.instanceType = t.name;
        // Burstable types carry CPU credits; others none (a type changed to burstable starts with its family's default).
        attrs.cpuCredits = t.burstable ? (inst.attributes.cpuCredits ?? (t.name.startsWith('t2') ? 'standard' : 'unlimited')) : undefined;
      }
      if (userData !== undefined) {
        stoppedOnly('userData');
        decodeUserData(userData);
        set.userData = userData || null;
      }
      if (attrs.ebsOptimized !== undefined && attrs.ebsOptimized !== inst.attributes.ebsOptimized) stoppedOnly('ebsOptimized');
      if (attrs.instanceInitiatedShutdownBehavior !== undefined) {
        oneOf('InstanceInitiatedShutdownBehavior', attrs.instanceInitiatedShutdownBehavior, shutdownBehaviors);
      }
      if (attrs.cpuCredits !== undefined) checkCpuCredits(attrs.cpuCredits);
      if (attrs.metadataOptions) attrs.metadataOptions = { ...inst.attributes.metadataOptions, ...checkMetadataOptions(attrs.metadataOptions) };
      const defined = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined));
      set.attributes = { ...inst.attributes, ...defined };
      if (set.instanceType && !attrs.cpuCredits) delete set.attributes.cpuCredits;
      set.updatedAt = Date.now();
      await this.ctx.db.update(instances).set(set).where(eq(instances.id, id));
    });
  }
}

/** The credit specifications DescribeInstanceCreditSpecifications shows: those of burstable instances not terminated. */
export function creditSpecifications(list: Instance[]): { instanceId: string; cpuCredits: string }[] {
  return list.flatMap((i) => (i.attributes.cpuCredits && holdsResources(i) ? [{ instanceId: i.id, cpuCredits: i.attributes.cpuCredits }] : []));
}
