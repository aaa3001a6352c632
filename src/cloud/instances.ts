/**
 * Instances: the decisions and the state. A launch forks the image's root disk, writes the instance's identity into
 * it and starts its unit, concurrently where the steps allow; the unit's readiness flips the instance to `running`.
 * Every transition of one instance is serialized; the unit manager's events and the API's calls meet here.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { and, asc, eq, gt, inArray, isNull, lt, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { instances, reservations, vpcs, type InstanceAttributes, type MetadataOptions } from '../db/schema.js';
import type { Host } from '../host/index.js';
import { containerUnit, containerUnitName } from '../host/nspawn.js';
import { writeSeed } from '../host/seed.js';
import { capContainer } from '../host/ucounts.js';
import type { FlowRule } from '../host/network.js';
import { isFinal, type UnitStatus } from '../host/units/types.js';
import { log } from '../log.js';
import { instanceTypes, type InstanceType } from './catalog.js';
import type { CloudConfig } from './config.js';
import { CloudError, invalidParam } from './errors.js';
import { isId, newId } from './ids.js';
import type { Images } from './images.js';
import { intToIp, parseCidr, privateDnsName } from './ip.js';
import type { KeyPairs } from './keypairs.js';
import { newMac, type Network } from './network.js';
import { Tags, type Filter, type Tag } from './tags.js';
import { PublicIps } from './public-ips.js';
import { KeyedQueue } from '../serial.js';
import { Slots } from '../slots.js';
import type { Vms } from './vms.js';
import type { Volumes } from './volumes.js';
import { UnsafeImageError } from '../host/rootfs.js';

export type Instance = typeof instances.$inferSelect;
export type InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

/** Why a launch stopped early: its instance was terminated or stopped while it was queued or under way. */
class LaunchCancelled extends Error {
  constructor(id: string) {
    super(`the launch of ${id} was cancelled`);
  }
}

export const stateCodes: Record<InstanceState, number> = {
  pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80,
};

export interface RunParams {
  imageId?: string;
  instanceType?: string;
  minCount?: number;
  maxCount?: number;
  keyName?: string;
  userData?: string;
  clientToken?: string;
  subnetId?: string;
  availabilityZone?: string;
  privateIpAddress?: string;
  /** AssociatePublicIpAddress: overrides the subnet's MapPublicIpOnLaunch. */
  associatePublicIp?: boolean;
  securityGroupIds: string[];
  securityGroups: string[];
  tagSpecifications: { resourceType: string; tags: Tag[] }[];
  metadataOptions: Partial<MetadataOptions>;
  disableApiTermination?: boolean;
  disableApiStop?: boolean;
  instanceInitiatedShutdownBehavior?: string;
  ebsOptimized?: boolean;
  monitoring?: boolean;
  cpuCredits?: string;
  hibernation?: boolean;
}

export interface RunResult {
  reservationId: string;
  instances: Instance[];
}

export interface StateChange {
  instanceId: string;
  previous: InstanceState;
  current: InstanceState;
}

const PREFIX = 'pcloud-instance@';
/** States counted against the account's limits: the instance holds (or is about to hold, or still holds) host resources. */
const COUNTED: InstanceState[] = ['pending', 'running', 'stopping'];
const RAISE = 'Terminate instances you no longer need, or ask the operator of this cloud to raise the limit.';
const TPM_PREFIX = 'pcloud-tpm@';
const MAX_PER_CALL = 100;
const USER_DATA_MAX = 16 * 1024;

export const defaultMetadataOptions: MetadataOptions = {
  httpTokens: 'optional', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled', httpProtocolIpv6: 'disabled',
  instanceMetadataTags: 'disabled',
};

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!allowed.includes(value as T)) throw invalidParam(`Invalid value '${value}' for ${name}. Valid values: ${allowed.join(', ')}`);
  return value as T;
}

export function checkMetadataOptions(m: Partial<MetadataOptions>): Partial<MetadataOptions> {
  const out: Partial<MetadataOptions> = {};
  const tokens = oneOf('HttpTokens', m.httpTokens, ['optional', 'required'] as const);
  if (tokens) out.httpTokens = tokens;
  const ep = oneOf('HttpEndpoint', m.httpEndpoint, ['enabled', 'disabled'] as const);
  if (ep) out.httpEndpoint = ep;
  const v6 = oneOf('HttpProtocolIpv6', m.httpProtocolIpv6, ['enabled', 'disabled'] as const);
  if (v6) out.httpProtocolIpv6 = v6;
  const tags = oneOf('InstanceMetadataTags', m.instanceMetadataTags, ['enabled', 'disabled'] as const);
  if (tags) out.instanceMetadataTags = tags;
  if (m.httpPutResponseHopLimit !== undefined) {
    const n = m.httpPutResponseHopLimit;
    if (!Number.isInteger(n) || n < 1 || n > 64) throw invalidParam('HttpPutResponseHopLimit must be an integer from 1 to 64');
    out.httpPutResponseHopLimit = n;
  }
  return out;
}

export function decodeUserData(b64: string): Buffer {
  const clean = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw invalidParam('Invalid BASE64 encoding of user data.');
  }
  const buf = Buffer.from(clean, 'base64');
  if (buf.length > USER_DATA_MAX) throw invalidParam(`User data is limited to ${USER_DATA_MAX} bytes`);
  return buf;
}

/** Filters DescribeInstances understands, as SQL on the instances table. */
const filterColumns: Record<string, SQL> = {
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
  'instance.group-id': sql`(SELECT value FROM json_each(${instances.securityGroupIds}) LIMIT 1)`,
};

export class Instances {
  /** Every transition of one instance, one at a time. */
  private readonly locks = new KeyedQueue((id, err) => log.error(`instance ${id}: ${err.message}`));
  /** Launches queued or under way, to cancel when their instance is terminated or stopped. */
  private readonly launching = new Map<string, AbortController>();
  /** Launches working on the host at once (forks, networks, units), every account together; the rest wait pending. */
  private readonly launchSlots = new Slots(() => this.config.limits.launchConcurrency);
  /** Teardowns at once: a line of their own, so that a terminate never waits behind queued launches. */
  private readonly teardownSlots = new Slots(() => this.config.limits.launchConcurrency);
  /** Instances this process made whose launch has not touched the host yet: nothing to tear down when cancelled. */
  private readonly untouched = new Set<string>();
  private unsubscribe?: () => void;

  constructor(
    private readonly db: Db,
    private readonly host: Host,
    private readonly config: CloudConfig,
    private readonly images: Images,
    private readonly keyPairs: KeyPairs,
    private readonly network: Network,
    private readonly tags: Tags,
    private readonly vms: Vms,
    private readonly volumes: Volumes,
    private readonly publicIps: PublicIps = new PublicIps(db, config),
  ) {}

  /** Follow the unit manager: readiness and unexpected ends of instance units. */
  listen(): void {
    this.unsubscribe = this.host.units.onChange((st) => {
      if (st.name.startsWith(PREFIX)) void this.onUnit(st.name.slice(PREFIX.length));
    });
  }

  /** Stop following the units, and cancel the launches still queued or under way (a restart launches them again). */
  close(): void {
    this.unsubscribe?.();
    for (const [id, ctl] of this.launching) ctl.abort(new LaunchCancelled(id));
  }

  /** Wait until every transition under way has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.locks.idle();
  }

  // ---------------------------------------------------------------- launch

  run(accountId: string, p: RunParams, dryRun = false): RunResult {
    if (!p.imageId) throw new CloudError('MissingParameter', 'The request must contain the parameter ImageId');
    if (p.maxCount === undefined) throw new CloudError('MissingParameter', 'The request must contain the parameter MaxCount');
    if (p.minCount === undefined) throw new CloudError('MissingParameter', 'The request must contain the parameter MinCount');
    if (!Number.isSafeInteger(p.minCount) || p.minCount < 1) throw invalidParam(`Value (${p.minCount}) for parameter minCount is invalid. Expected a value greater than or equal to 1.`);
    if (!Number.isSafeInteger(p.maxCount) || p.maxCount < p.minCount) throw invalidParam(`Value (${p.maxCount}) for parameter maxCount is invalid. Expected a value greater than or equal to minCount.`);
    if (p.clientToken !== undefined && (p.clientToken.length > 64 || !/^[\x20-\x7e]*$/.test(p.clientToken))) {
      throw invalidParam('ClientToken must be at most 64 ASCII characters');
    }
    const image = this.images.get(p.imageId, accountId);
    const typeName = p.instanceType ?? 't3.micro';
    const type = instanceTypes.get(typeName);
    if (!type) throw invalidParam(`The instance type '${typeName}' does not exist`);
    if (type.architecture !== image.architecture) {
      throw invalidParam(`The architecture '${type.architecture}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI.`);
    }
    const runtime = this.vms.runtimeFor(type, image);
    if (p.keyName) this.keyPairs.get(accountId, p.keyName);
    if (p.userData) decodeUserData(p.userData);
    const shutdown = oneOf('InstanceInitiatedShutdownBehavior', p.instanceInitiatedShutdownBehavior, ['stop', 'terminate'] as const);
    const credits = oneOf('CpuCredits', p.cpuCredits, ['standard', 'unlimited'] as const);
    const metadataOptions = { ...defaultMetadataOptions, ...checkMetadataOptions(p.metadataOptions) };
    for (const spec of p.tagSpecifications) {
      if (!['instance', 'volume', 'network-interface'].includes(spec.resourceType)) {
        throw invalidParam(`'${spec.resourceType}' is not a valid taggable resource type for this operation.`);
      }
    }
    const subnet = this.network.pickSubnet(accountId, { subnetId: p.subnetId, availabilityZone: p.availabilityZone });
    const groups = this.network.securityGroupsFor(accountId, subnet.vpcId, p.securityGroupIds, p.securityGroups);
    if (dryRun) throw new CloudError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');

    const { clientToken: _t, ...rest } = p;
    const requestHash = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
    const attributes: InstanceAttributes = {
      disableApiTermination: p.disableApiTermination ?? false,
      disableApiStop: p.disableApiStop ?? false,
      instanceInitiatedShutdownBehavior: shutdown ?? 'stop',
      ebsOptimized: p.ebsOptimized ?? false,
      monitoring: p.monitoring ?? false,
      cpuCredits: type.burstable ? (credits ?? (type.name.startsWith('t2') ? 'standard' : 'unlimited')) : undefined,
      sourceDestCheck: true,
      hibernation: p.hibernation ?? false,
      metadataOptions,
    };

    const result = this.db.transaction((tx) => {
      if (p.clientToken) {
        const prior = tx.select().from(reservations)
          .where(and(eq(reservations.accountId, accountId), eq(reservations.clientToken, p.clientToken))).get();
        if (prior) {
          if (prior.requestHash !== requestHash) {
            throw new CloudError('IdempotentParameterMismatch', `Arguments on this idempotent request are inconsistent with arguments used in previous request(s) with client token '${p.clientToken}'.`);
          }
          const rows = tx.select().from(instances).where(eq(instances.reservationId, prior.id)).orderBy(asc(instances.launchIndex)).all();
          return { reservationId: prior.id, instances: rows, fresh: false };
        }
      }
      // As many as asked for that fit in the account's limits; fewer than MinCount is a refusal. In the transaction, so
      // two calls at once cannot both take the last room.
      const count = this.room(accountId, type, p.minCount!, p.maxCount!);
      const reservationId = newId('r');
      const now = Date.now();
      tx.insert(reservations).values({ id: reservationId, accountId, clientToken: p.clientToken || null, requestHash, createdAt: now }).run();
      const ips = this.network.allocateIps(subnet, p.privateIpAddress ? 1 : count, p.privateIpAddress);
      if (ips.length < count && p.privateIpAddress) {
        throw invalidParam('A private IP address can be given only when launching one instance');
      }
      const publics = (p.associatePublicIp ?? subnet.mapPublicIp) ? this.publicIps.allocate(ips.length) : ips.map(() => null);
      const rows: Instance[] = ips.map((ip, i) => ({
        id: newId('i'), accountId, reservationId, launchIndex: i, imageId: image.id, instanceType: type.name,
        runtime, keyName: p.keyName ?? null, state: 'pending', stateTransitionReason: '',
        stateReasonCode: 'pending', stateReasonMessage: 'pending', launchTime: now, subnetId: subnet.id, vpcId: subnet.vpcId,
        availabilityZone: subnet.availabilityZone, privateIp: ip, publicIp: publics[i] ?? null, macAddress: newMac(), networkInterfaceId: newId('eni'),
        securityGroupIds: groups.map((g) => g.id), clientToken: p.clientToken || null, userData: p.userData || null,
        rootVolumeId: newId('vol'), rootVolumeSizeGiB: 8, attributes, terminatedAt: null, updatedAt: now,
      }));
      for (const r of rows) tx.insert(instances).values(r).run();
      for (const spec of p.tagSpecifications) {
        const ids = rows.map((r) => (spec.resourceType === 'instance' ? r.id : spec.resourceType === 'volume' ? r.rootVolumeId : r.networkInterfaceId));
        this.tags.put(accountId, ids, spec.tags);
      }
      return { reservationId, instances: rows, fresh: true };
    });
    if (result.fresh) {
      for (const r of result.instances) {
        this.untouched.add(r.id);
        this.queueLaunch(r.id);
      }
    }
    return { reservationId: result.reservationId, instances: result.instances };
  }

  /** What the account holds against its limits: instances pending, running or stopping, and their vCPUs. */
  private usage(accountId: string): { instances: number; vcpus: number } {
    const used = this.db.select({ type: instances.instanceType, n: sql<number>`count(*)` }).from(instances)
      .where(and(eq(instances.accountId, accountId), inArray(instances.state, COUNTED))).groupBy(instances.instanceType).all();
    return {
      instances: used.reduce((sum, u) => sum + u.n, 0),
      vcpus: used.reduce((sum, u) => sum + u.n * (instanceTypes.get(u.type)?.vcpus ?? 0), 0),
    };
  }

  /**
   * How many of MinCount..MaxCount instances of a type the account has room for: at most MAX_PER_CALL, within its
   * instance and vCPU limits. Less than MinCount: the limit's error, as EC2 words it.
   */
  private room(accountId: string, type: InstanceType, min: number, max: number): number {
    const used = this.usage(accountId);
    const byCount = Math.min(MAX_PER_CALL, this.config.limits.instances - used.instances);
    const byVcpus = Math.floor((this.config.limits.vcpus - used.vcpus) / type.vcpus);
    if (min > byCount) throw this.instanceLimit(min, used.instances, Math.min(MAX_PER_CALL, this.config.limits.instances));
    if (min > byVcpus) throw this.vcpuLimit(used.vcpus, `${min} ${type.name} need ${min * type.vcpus}`);
    return Math.min(max, byCount, byVcpus);
  }

  /** StartInstances: the stopped instances to start must fit in the account's limits, all of them. */
  private checkRoomToStart(accountId: string, rows: Instance[]): void {
    if (!rows.length) return;
    const used = this.usage(accountId);
    const vcpus = rows.reduce((sum, r) => sum + (instanceTypes.get(r.instanceType)?.vcpus ?? 0), 0);
    if (used.instances + rows.length > this.config.limits.instances) throw this.instanceLimit(rows.length, used.instances, this.config.limits.instances);
    if (used.vcpus + vcpus > this.config.limits.vcpus) throw this.vcpuLimit(used.vcpus, `starting ${rows.length} instance${rows.length > 1 ? 's' : ''} needs ${vcpus}`);
  }

  private instanceLimit(asked: number, used: number, limit: number): CloudError {
    return new CloudError('InstanceLimitExceeded', `You have requested more instances (${asked}) than your current instance limit of ${limit} allows${used ? ` (${used} pending, running or stopping already)` : ''}. ${RAISE}`);
  }

  private vcpuLimit(used: number, need: string): CloudError {
    return new CloudError('VcpuLimitExceeded', `You have requested more vCPU capacity than your current vCPU limit of ${this.config.limits.vcpus} allows for the instance bucket that the specified instance type belongs to (${used} vCPUs in use; ${need}). ${RAISE}`);
  }

  /**
   * Queue an instance's launch: after its earlier transitions, once a launch slot is free. Terminating or stopping the
   * instance cancels it, waiting or under way (between its steps).
   */
  private queueLaunch(id: string): void {
    this.launching.get(id)?.abort(new LaunchCancelled(id));
    const ctl = new AbortController();
    this.launching.set(id, ctl);
    this.background(id, () => this.launchSlots.run(() => this.launch(id, ctl.signal), ctl.signal).catch((err) => {
      if (!ctl.signal.aborted) throw err;
      log.debug(`launch of ${id} cancelled before it began`);
    }).finally(() => {
      if (this.launching.get(id) === ctl) this.launching.delete(id);
    }));
  }

  private cancelLaunch(id: string): void {
    this.launching.get(id)?.abort(new LaunchCancelled(id));
  }

  private async launch(id: string, signal: AbortSignal): Promise<void> {
    const inst = this.row(id);
    if (!inst || inst.state !== 'pending') return;
    // Between steps: a launch whose instance was terminated or stopped meanwhile goes no further (what it made is the
    // terminate's or stop's to remove, after this returns).
    const checkpoint = () => {
      signal.throwIfAborted();
      if (this.row(id)?.state !== 'pending') throw new LaunchCancelled(id);
    };
    this.untouched.delete(id);
    try {
      const image = this.images.get(inst.imageId);
      const type = instanceTypes.get(inst.instanceType)!;
      const hostname = privateDnsName(inst.privateIp, this.config.region).split('.')[0]!;
      let unit;
      if (inst.runtime !== 'container') {
        // A VM: its raw disk forked from the image's, its tap in the router; cloud-init in the guest does the rest
        // from the metadata service (no seed is written).
        unit = await this.vms.prepare(inst, image, type, () => this.attachNetwork(inst), this.volumes.attached(id), checkpoint);
      } else {
        // The fork, the network and the seed's contents are independent: make them at once.
        const [disk, netns, seed] = await Promise.all([
          this.host.pool.fork(image.rootPath, id, inst.rootVolumeSizeGiB),
          this.config.networking === 'vpc' ? this.attachNetwork(inst) : Promise.resolve(undefined),
          Promise.resolve(this.seedFor(inst, hostname)),
        ]);
        unit = containerUnit({
          instanceId: id, rootDir: disk, hostname, vcpus: type.vcpus, memoryMiB: type.memoryMiB,
          register: this.host.units.kind === 'systemd', readyTimeoutSec: this.config.readyTimeoutSec, networkNamespace: netns,
        });
        checkpoint();
        await writeSeed(disk, seed);
      }
      checkpoint();
      await this.host.units.start(unit);
    } catch (err) {
      if (err instanceof LaunchCancelled || signal.aborted) {
        log.info(`launch of ${id} cancelled: its instance is ${this.row(id)?.state ?? 'gone'}`);
        return;
      }
      log.error(`launch of ${id} failed: ${(err as Error).message}`);
      await this.teardown(id);
      await this.volumes.released(id).catch(() => undefined);
      // The reason is the user's to read: a domain error says what to do; a host failure's detail (command lines,
      // paths) stays in the server's log.
      const reason = err instanceof CloudError || err instanceof UnsafeImageError ? err.message
        : 'the host could not start the instance; launch it again, and if it fails again ask the operator (the server log has the detail)';
      this.setState(id, 'terminated', {
        stateReasonCode: 'Server.InternalError',
        stateReasonMessage: `Server.InternalError: ${reason}`.slice(0, 500),
      });
    }
  }

  /** The instance's eth0 on its VPC's bridge, with the address and MAC the API reported at launch. */
  private async attachNetwork(inst: Instance): Promise<string> {
    const subnets = this.network.subnets(inst.accountId).filter((s) => s.vpcId === inst.vpcId);
    const vpc = this.network.vpc(inst.accountId, inst.vpcId);
    const dns = dnsOf(vpc.cidr);
    const addresses = [
      ...subnets.map((s) => ({ address: gatewayOf(s.cidr), prefixLength: parseCidr(s.cidr).bits })),
      { address: dns, prefixLength: 32 },
    ];
    await this.host.network.ensureVpc(inst.vpcId, addresses);
    await this.syncEdge(inst.vpcId);
    const subnet = subnets.find((s) => s.id === inst.subnetId)!;
    const [path] = await Promise.all([
      (async () => {
        const nic = {
          instanceId: inst.id, vpcId: inst.vpcId, ip: inst.privateIp, prefixLength: parseCidr(subnet.cidr).bits,
          gateway: gatewayOf(subnet.cidr), mac: inst.macAddress,
        };
        if (inst.runtime === 'container') return this.host.network.attach(nic);
        await this.host.network.attachTap(nic);
        return '';
      })().then(async (p) => {
        await this.syncFirewall(inst.accountId, inst.vpcId);
        return p;
      }),
      this.host.metadata.ensure(inst.vpcId),
      this.host.dns.ensure(inst.vpcId, {
        listen: dns, domain: this.dnsDomain(),
        subnets: subnets.map((s) => ({ id: s.id, network: s.cidr.split('/')[0]!, netmask: netmaskOf(s.cidr), gateway: gatewayOf(s.cidr) })),
      }).then(() => this.publishDns(inst.accountId, inst.vpcId)),
    ]);
    return path;
  }

  /** Host-side syncs of one VPC, one at a time: each computes from the database when it runs, so the last wins. */
  private readonly firewalls = new KeyedQueue((vpcId, err) => log.warn(`firewall of ${vpcId}: ${err.message}`));
  private readonly edges = new KeyedQueue((vpcId, err) => log.warn(`edge of ${vpcId}: ${err.message}`));

  /**
   * Bring the VPC router's edge in line with the database: NAT while an internet gateway is attached, and the public
   * IPs of its instances that hold a network. One at a time per VPC, computed when it runs.
   */
  syncEdge(vpcId: string): Promise<void> {
    if (this.config.networking !== 'vpc') return Promise.resolve();
    const apply = async () => {
      if (!this.vpcExists(vpcId)) return; // deleted meanwhile: its router is gone and stays gone
      const ext = this.config.external;
      const maps = this.publicIps.mappings(vpcId);
      const vpcCidr = this.db.select({ cidr: vpcs.cidr }).from(vpcs).where(eq(vpcs.id, vpcId)).get()?.cidr;
      const nfsClients = this.volumes.nfsClients(vpcId);
      await this.host.network.setEdge(vpcId, {
        internet: this.network.hasInternet(vpcId),
        nfs: nfsClients.length ? { clients: nfsClients, port: this.host.nfs.port } : undefined,
        external: ext && vpcCidr ? { parent: ext.parent, cidr: ext.cidr, gateway: ext.gateway, vpcCidr, maps } : undefined,
      });
    };
    return this.edges.run(vpcId, apply);
  }

  /**
   * Bring the VPC's security group rules on the host in line with the database. Runs one at a time per VPC and
   * computes when it runs, so the last one applied always reflects the latest instances and rules.
   */
  syncFirewall(accountId: string, vpcId: string): Promise<void> {
    if (this.config.networking !== 'vpc') return Promise.resolve();
    const apply = async () => {
      if (!this.vpcExists(vpcId)) return; // deleted meanwhile: its router is gone and stays gone
      const rows = this.db.select().from(instances)
        .where(and(eq(instances.accountId, accountId), eq(instances.vpcId, vpcId), inArray(instances.state, ['pending', 'running']))).all();
      const groupIds = [...new Set(rows.flatMap((r) => r.securityGroupIds))];
      const rules = this.network.rules(accountId, groupIds);
      const members = (groupId: string) => rows.filter((r) => r.securityGroupIds.includes(groupId)).map((r) => `${r.privateIp}/32`);
      const flows = (inst: Instance, egress: boolean): FlowRule[] => rules
        .filter((r) => r.isEgress === egress && inst.securityGroupIds.includes(r.groupId))
        .map((r) => ({ protocol: r.protocol, fromPort: r.fromPort ?? undefined, toPort: r.toPort ?? undefined, cidrs: r.cidr ? [r.cidr] : members(r.refGroupId!) }));
      await this.host.network.applyFirewall(vpcId, rows.map((r) => ({
        instanceId: r.id, ingress: flows(r, false), egress: flows(r, true), ip: r.privateIp, hopLimit: r.attributes.metadataOptions.httpPutResponseHopLimit,
      })));
    };
    return this.firewalls.run(vpcId, apply);
  }

  private vpcExists(vpcId: string): boolean {
    return this.db.select({ id: vpcs.id }).from(vpcs).where(eq(vpcs.id, vpcId)).get() !== undefined;
  }

  private dnsDomain(): string {
    return this.config.region === 'us-east-1' ? 'ec2.internal' : `${this.config.region}.compute.internal`;
  }

  /** Publish the DNS records of the instances' VPCs again (their Name tags changed). */
  async refreshNames(accountId: string, instanceIds: string[]): Promise<void> {
    if (this.config.networking !== 'vpc') return;
    const vpcIds = new Set(this.db.select({ vpcId: instances.vpcId }).from(instances)
      .where(and(eq(instances.accountId, accountId), inArray(instances.id, instanceIds), ne(instances.state, 'terminated'))).all().map((r) => r.vpcId));
    await Promise.all([...vpcIds].map((v) => this.publishDns(accountId, v)));
  }

  /** The VPC's names (ip-a-b-c-d, and the Name tag) and DHCP hosts, for every instance that keeps its address. */
  private async publishDns(accountId: string, vpcId: string): Promise<void> {
    if (!this.vpcExists(vpcId)) return; // deleted meanwhile: its DNS unit is gone and stays gone
    const rows = this.db.select({ id: instances.id, ip: instances.privateIp, mac: instances.macAddress }).from(instances)
      .where(and(eq(instances.accountId, accountId), eq(instances.vpcId, vpcId), inArray(instances.state, ['pending', 'running', 'stopping', 'stopped']))).all();
    const tags = this.tags.of(rows.map((r) => r.id));
    const records = rows.map((r) => {
      const host = `ip-${r.ip.replaceAll('.', '-')}`;
      // A DNS label: at most 63 characters of letters, digits and inner hyphens.
      const name = tags.get(r.id)?.find((t) => t.key === 'Name')?.value.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
      return { ip: r.ip, mac: r.mac, names: [host, ...(name ? [name] : [])] };
    });
    await this.host.dns.publish(vpcId, records);
  }

  private seedFor(inst: Instance, hostname: string) {
    const key = inst.keyName ? this.keyPairs.list(inst.accountId, [inst.keyName])[0] : undefined;
    const metaData = [
      `instance-id: ${inst.id}`,
      `local-hostname: ${hostname}`,
      `hostname: ${hostname}`,
      `local-ipv4: ${inst.privateIp}`,
      `availability-zone: ${inst.availabilityZone}`,
      ...(key ? ['public-keys:', `  - ${JSON.stringify(key.publicKey)}`] : []),
      '',
    ].join('\n');
    return {
      instanceId: inst.id,
      hostname,
      machineId: createHash('sha256').update(inst.id).digest('hex').slice(0, 32),
      metaData,
      userData: inst.userData ? decodeUserData(inst.userData) : undefined,
      authorizedKeys: key?.publicKey,
      nameserver: this.config.networking === 'vpc' ? dnsOf(this.network.vpc(inst.accountId, inst.vpcId).cidr) : undefined,
      searchDomain: this.dnsDomain(),
    };
  }

  // ---------------------------------------------------------------- unit events

  private onUnit(id: string): Promise<void> {
    return this.serial(id, async () => {
      const inst = this.row(id);
      if (!inst) return;
      const st = await this.host.units.status(PREFIX + id);
      if (!st) return;
      if (!isFinal(st.state) && (inst.state === 'terminated' || inst.state === 'stopped')) {
        // A unit that came up after its instance left (a start the host carried out late): it goes too.
        log.warn(`${id} is ${inst.state} but its unit is ${st.state}: stopping it`);
        await this.host.units.stop(PREFIX + id);
        if (inst.state === 'terminated') await this.host.units.remove(PREFIX + id);
        return;
      }
      if (inst.runtime === 'container' && !isFinal(st.state)) await capContainer(this.host.units, id); // its own kernel budgets (ucounts.ts)
      if (st.state === 'active' && inst.state === 'pending') {
        this.setState(id, 'running', { stateReasonCode: null, stateReasonMessage: null });
        // A container started again mounts its volumes again (NFS, inside it).
        if (inst.runtime === 'container' && this.volumes.forInstance(id).length) await this.volumes.remount(inst);
        return;
      }
      if (!isFinal(st.state)) return;
      if (inst.state === 'pending') {
        logEnd(id, st);
        await this.teardown(id);
        this.setState(id, 'terminated', {
          stateReasonCode: 'Server.InternalError',
          stateReasonMessage: `Server.InternalError: the instance did not become ready (${describeEnd(st)})`,
        });
      } else if (inst.state === 'running') {
        await this.ended(inst, st);
      }
    });
  }

  /** A running instance's unit ended without being asked to: as on EC2, per its shutdown behaviour. */
  private async ended(inst: Instance, st: UnitStatus): Promise<void> {
    const clean = st.result === 'success';
    if (!clean) logEnd(inst.id, st);
    const code = clean ? 'Client.InstanceInitiatedShutdown' : 'Server.InternalError';
    const message = clean ? 'Client.InstanceInitiatedShutdown: Instance initiated shutdown' : `Server.InternalError: the instance's unit failed (${describeEnd(st)})`;
    const reason = `${clean ? 'User initiated' : 'Server error'} (${ec2Time(new Date())})`;
    if (inst.attributes.instanceInitiatedShutdownBehavior === 'terminate') {
      await this.teardown(inst.id);
      this.setState(inst.id, 'terminated', { stateReasonCode: code, stateReasonMessage: message, stateTransitionReason: reason });
    } else {
      this.setState(inst.id, 'stopped', { stateReasonCode: code, stateReasonMessage: message, stateTransitionReason: reason });
    }
  }

  // ---------------------------------------------------------------- lifecycle calls

  terminate(accountId: string, ids: string[]): StateChange[] {
    const rows = this.getMany(accountId, [...new Set(ids)]);
    for (const r of rows) {
      if (r.attributes.disableApiTermination && r.state !== 'terminated') {
        throw new CloudError('OperationNotPermitted', `The instance '${r.id}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`);
      }
    }
    return rows.map((r) => {
      const previous = r.state as InstanceState;
      if (previous === 'terminated') return { instanceId: r.id, previous, current: previous };
      if (previous !== 'shutting-down') {
        this.setState(r.id, 'shutting-down', {
          stateReasonCode: 'Client.UserInitiatedShutdown', stateReasonMessage: 'Client.UserInitiatedShutdown: User initiated shutdown',
          stateTransitionReason: `User initiated (${ec2Time(new Date())})`,
        });
        this.cancelLaunch(r.id);
        this.background(r.id, () => this.teardownSlots.run(() => this.finishTerminate(r.id)));
      }
      return { instanceId: r.id, previous, current: 'shutting-down' };
    });
  }

  private async finishTerminate(id: string): Promise<void> {
    // A launch cancelled before it touched the host left nothing there.
    if (!this.untouched.delete(id)) await this.teardown(id);
    await this.volumes.released(id).catch((err) => log.warn(`volumes of ${id}: ${(err as Error).message}`));
    // Its name and rules leave the VPC before it shows terminated: a client that then deletes the VPC (Terraform's
    // destroy) never races a DNS or firewall sync that would bring the VPC's router back.
    await this.unpublish(id);
    this.setState(id, 'terminated', {});
  }

  /**
   * Remove what an instance holds on the host: its units, lease, network and disk. Each step is tried and logged on
   * its own: none may keep the caller from recording the instance's end (a pending one would count against limits).
   */
  private async teardown(id: string): Promise<void> {
    for (const name of [PREFIX + id, ...this.vms.companions(id)]) {
      try {
        await this.host.units.stop(name);
        await this.host.units.remove(name);
      } catch (err) {
        log.warn(`stopping ${name}: ${(err as Error).message}`);
      }
    }
    // Its DHCP lease goes before its port does, so the address can go to a new instance straight away.
    const row = this.db.select({ vpcId: instances.vpcId, ip: instances.privateIp, mac: instances.macAddress }).from(instances).where(eq(instances.id, id)).get();
    if (row && this.config.networking === 'vpc') {
      await this.host.dns.release(row.vpcId, id, row.ip, row.mac).catch((err) => log.warn(`releasing the lease of ${id}: ${(err as Error).message}`));
    }
    await this.detachNetwork(id);
    await this.host.pool.removeDisk(id).catch((err) => log.warn(`removing disk of ${id}: ${(err as Error).message}`));
  }

  /** The instance's namespace (container) or tap (VM). */
  private async detachNetwork(id: string): Promise<void> {
    const inst = this.row(id);
    await this.host.network.detach(id).catch((err) => log.warn(`removing network of ${id}: ${(err as Error).message}`));
    if (inst && inst.runtime !== 'container' && this.config.networking === 'vpc') {
      await this.host.network.detachTap(inst.vpcId, id).catch((err) => log.warn(`removing the tap of ${id}: ${(err as Error).message}`));
    }
  }

  /** After an instance left (or stopped): its name leaves the VPC's DNS, its addresses the VPC's rules and edge. */
  private async unpublish(id: string): Promise<void> {
    const inst = this.row(id);
    if (!inst || this.config.networking !== 'vpc') return;
    await this.publishDns(inst.accountId, inst.vpcId).catch((err) => log.warn(`dns of ${inst.vpcId}: ${(err as Error).message}`));
    await this.syncFirewall(inst.accountId, inst.vpcId).catch(() => undefined);
    await this.syncEdge(inst.vpcId).catch(() => undefined);
  }

  stop(accountId: string, ids: string[], force = false): StateChange[] {
    const rows = this.getMany(accountId, [...new Set(ids)]);
    for (const r of rows) {
      if (r.attributes.disableApiStop && (r.state === 'running' || r.state === 'pending')) {
        throw new CloudError('OperationNotPermitted', `The instance '${r.id}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`);
      }
      if (!['running', 'pending', 'stopping', 'stopped'].includes(r.state)) {
        throw new CloudError('IncorrectInstanceState', `This instance '${r.id}' is not in a state from which it can be stopped.`);
      }
    }
    return rows.map((r) => {
      const previous = r.state as InstanceState;
      if (previous === 'stopped' || previous === 'stopping') return { instanceId: r.id, previous, current: previous };
      this.setState(r.id, 'stopping', {
        stateReasonCode: 'Client.UserInitiatedShutdown', stateReasonMessage: 'Client.UserInitiatedShutdown: User initiated shutdown',
        stateTransitionReason: `User initiated (${ec2Time(new Date())})`,
      });
      this.cancelLaunch(r.id);
      this.background(r.id, () => this.finishStop(r.id, !force));
      return { instanceId: r.id, previous, current: 'stopping' };
    });
  }

  private async finishStop(id: string, graceful = false): Promise<void> {
    if (graceful && this.row(id)?.runtime !== 'container') await this.shutDownVm(id);
    for (const name of [PREFIX + id, ...this.vms.companions(id)]) {
      await this.host.units.stop(name).catch((err) => log.warn(`stopping ${name}: ${(err as Error).message}`));
    }
    await this.detachNetwork(id);
    await this.volumes.disconnected(id);
    if (this.row(id)?.state === 'stopping') this.setState(id, 'stopped', {});
    await this.unpublish(id);
  }

  /**
   * A VM's operating system shuts down as on EC2's stop: the ACPI power button, then as long as the guest takes, up
   * to vmShutdownTimeoutSec; whatever still runs after that is stopped by its unit (QEMU gets SIGTERM).
   */
  private async shutDownVm(id: string): Promise<void> {
    if (!(await this.vms.powerButton(id))) return;
    const until = Date.now() + this.config.vmShutdownTimeoutSec * 1000;
    while (Date.now() < until) {
      const st = await this.host.units.status(PREFIX + id);
      if (!st || isFinal(st.state)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    log.warn(`${id} did not power off in ${this.config.vmShutdownTimeoutSec} s: stopping its QEMU`);
  }

  start(accountId: string, ids: string[]): StateChange[] {
    const rows = this.getMany(accountId, [...new Set(ids)]);
    for (const r of rows) {
      if (!['running', 'pending', 'stopped'].includes(r.state)) {
        throw new CloudError('IncorrectInstanceState', `The instance '${r.id}' is not in a state from which it can be started.`);
      }
    }
    this.checkRoomToStart(accountId, rows.filter((r) => r.state === 'stopped'));
    return rows.map((r) => {
      const previous = r.state as InstanceState;
      if (previous !== 'stopped') return { instanceId: r.id, previous, current: previous };
      this.setState(r.id, 'pending', { stateReasonCode: 'pending', stateReasonMessage: 'pending', stateTransitionReason: '' });
      this.queueLaunch(r.id);
      return { instanceId: r.id, previous, current: 'pending' };
    });
  }

  /** A VM a console opens (a fat lambda): started if it is stopped; resolves once it runs. */
  async ensureRunning(accountId: string, id: string, timeoutMs = 120_000): Promise<void> {
    const inst = this.get(accountId, id);
    if (inst.runtime !== 'q35') throw new CloudError('UnsupportedOperation', `The instance '${id}' has no display: only UEFI and Windows VMs (q35) have one.`);
    if (inst.state === 'stopped') this.start(accountId, [id]);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const state = this.row(id)?.state;
      if (state === 'running') return;
      if (state !== 'pending' && state !== 'stopping' && state !== 'stopped') throw new CloudError('IncorrectInstanceState', `The instance '${id}' is ${state}.`);
      if (state === 'stopped' && this.row(id)) this.start(accountId, [id]);
      if (Date.now() > until) throw new CloudError('IncorrectInstanceState', `The instance '${id}' did not start in ${timeoutMs / 1000} s.`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  reboot(accountId: string, ids: string[]): void {
    const rows = this.getMany(accountId, ids);
    for (const r of rows) {
      if (r.state !== 'running') continue;
      // A VM resets in place (its QEMU, TPM and network stay); a container's unit restarts.
      const reboot = r.runtime === 'container' ? () => this.host.units.restart(PREFIX + r.id) : () => this.vms.reset(r.id);
      this.background(r.id, () => reboot().catch((err) => log.warn(`reboot ${r.id}: ${(err as Error).message}`)));
    }
  }

  // ---------------------------------------------------------------- reads

  row(id: string): Instance | undefined {
    return this.db.select().from(instances).where(eq(instances.id, id)).get();
  }

  private visible(): SQL {
    return or(isNull(instances.terminatedAt), gt(instances.terminatedAt, Date.now() - this.config.terminatedTtlMs))!;
  }

  get(accountId: string, id: string): Instance {
    return this.getMany(accountId, [id])[0]!;
  }

  /** The instances named, all of them, or InvalidInstanceID.Malformed/NotFound. */
  getMany(accountId: string, ids: string[]): Instance[] {
    if (!ids.length) throw new CloudError('MissingParameter', 'The request must contain the parameter InstanceId');
    for (const id of ids) if (!isId('i', id)) throw new CloudError('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    const rows = this.db.select().from(instances)
      .where(and(eq(instances.accountId, accountId), inArray(instances.id, ids), this.visible())).all();
    const missing = ids.filter((id) => !rows.some((r) => r.id === id));
    if (missing.length) {
      throw new CloudError('InvalidInstanceID.NotFound', `The instance ID${missing.length > 1 ? 's' : ''} '${missing.join(', ')}' do${missing.length > 1 ? '' : 'es'} not exist`);
    }
    return ids.map((id) => rows.find((r) => r.id === id)!);
  }

  describe(accountId: string, q: { ids: string[]; filters: Filter[]; maxResults?: number; nextToken?: string }): { instances: Instance[]; nextToken?: string } {
    if (q.maxResults !== undefined && q.ids.length) {
      throw new CloudError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    }
    if (q.maxResults !== undefined && (q.maxResults < 5 || q.maxResults > 1000)) {
      throw invalidParam(`Value ( ${q.maxResults} ) for parameter maxResults is invalid. Expecting a value greater than 5.`);
    }
    for (const id of q.ids) if (!isId('i', id)) throw new CloudError('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    const conds: SQL[] = [eq(instances.accountId, accountId), this.visible()];
    if (q.ids.length) conds.push(inArray(instances.id, q.ids));
    for (const f of q.filters) conds.push(instanceFilter(f));
    const offset = decodeToken(q.nextToken);
    const limit = q.maxResults ?? -1;
    const rows = this.db.select().from(instances).where(and(...conds))
      .orderBy(asc(instances.launchTime), asc(instances.reservationId), asc(instances.launchIndex))
      .limit(limit === -1 ? -1 : limit + 1).offset(offset).all();
    // Fewer rows than ids named: either filters left some out, or some do not exist (InvalidInstanceID.NotFound).
    if (q.ids.length && rows.length < new Set(q.ids).size) this.getMany(accountId, q.ids);
    let nextToken: string | undefined;
    if (limit !== -1 && rows.length > limit) {
      rows.length = limit;
      nextToken = Buffer.from(JSON.stringify({ o: offset + limit })).toString('base64url');
    }
    return { instances: rows, nextToken };
  }

  instanceType(inst: Instance): InstanceType {
    return instanceTypes.get(inst.instanceType)!;
  }

  async consoleOutput(accountId: string, id: string): Promise<Buffer> {
    this.get(accountId, id);
    return this.host.units.logs(PREFIX + id, 64 * 1024);
  }

  // ---------------------------------------------------------------- attributes

  /** CreateImage: the instance's disk as a new private image of its account. */
  async createImage(accountId: string, id: string, name: string, description: string): Promise<string> {
    const inst = this.get(accountId, id);
    if (!['running', 'stopped'].includes(inst.state)) {
      throw new CloudError('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be imaged (${inst.state}).`);
    }
    return (await this.images.fromInstance(accountId, inst, name, description)).id;
  }

  /** ModifyInstanceMetadataOptions: the record, then the hop limit on the host (it is the TTL of the service's answers). */
  async modifyMetadataOptions(accountId: string, id: string, opts: Partial<MetadataOptions>): Promise<MetadataOptions> {
    const inst = this.get(accountId, id);
    this.modifyAttributes(accountId, id, { metadataOptions: { ...inst.attributes.metadataOptions, ...opts } });
    await this.syncFirewall(accountId, inst.vpcId);
    return this.get(accountId, id).attributes.metadataOptions;
  }

  modifyAttributes(accountId: string, id: string, changes: Partial<InstanceAttributes> & { instanceType?: string; userData?: string }): void {
    const inst = this.get(accountId, id);
    const { instanceType, userData, ...attrs } = changes;
    const stoppedOnly = (what: string) => {
      if (inst.state !== 'stopped') {
        throw new CloudError('IncorrectInstanceState', `The instance '${id}' is not in the 'stopped' state; ${what} can only be modified on a stopped instance.`);
      }
    };
    const set: Partial<Instance> = {};
    if (instanceType !== undefined) {
      stoppedOnly('instanceType');
      const t = instanceTypes.get(instanceType);
      if (!t) throw invalidParam(`The instance type '${instanceType}' does not exist`);
      if (t.runtime !== inst.runtime) throw invalidParam(`The instance type '${instanceType}' runs on the ${t.runtime} runtime, not ${inst.runtime}`);
      set.instanceType = instanceType;
    }
    if (userData !== undefined) {
      stoppedOnly('userData');
      decodeUserData(userData);
      set.userData = userData || null;
    }
    if (attrs.ebsOptimized !== undefined && attrs.ebsOptimized !== inst.attributes.ebsOptimized) stoppedOnly('ebsOptimized');
    if (attrs.instanceInitiatedShutdownBehavior !== undefined) {
      oneOf('InstanceInitiatedShutdownBehavior', attrs.instanceInitiatedShutdownBehavior, ['stop', 'terminate'] as const);
    }
    if (attrs.metadataOptions) attrs.metadataOptions = { ...inst.attributes.metadataOptions, ...checkMetadataOptions(attrs.metadataOptions) };
    const defined = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined));
    set.attributes = { ...inst.attributes, ...defined };
    set.updatedAt = Date.now();
    this.db.update(instances).set(set).where(eq(instances.id, id)).run();
  }

  // ---------------------------------------------------------------- reconcile

  /**
   * Bring the database and the host back in line after a restart or a crash: finish or roll back what was under
   * way, notice units that ended while nobody watched, and remove disks and units no instance owns. An instance (or a
   * host object) that cannot be brought in line is reported and skipped: the server starts whatever the database holds.
   */
  async reconcile(): Promise<{ relaunched: number; ended: number; orphans: number; skipped: number }> {
    const stats = { relaunched: 0, ended: 0, orphans: 0, skipped: 0 };
    // Ids first (plain columns): a record whose other columns cannot be read is skipped on its own.
    const liveIds = new Set(this.db.select({ id: instances.id }).from(instances).where(ne(instances.state, 'terminated')).all().map((r) => r.id));
    const skip = (what: string, err: unknown) => {
      stats.skipped++;
      log.error(`reconcile: ${what} skipped: ${(err as Error).message}`);
    };
    await Promise.all([...liveIds].map((id) => this.serial(id, async () => {
      try {
        await this.reconcileOne(id, stats);
      } catch (err) {
        skip(`instance ${id}`, err);
      }
    })));
    const holding = new Set(this.db.select({ id: instances.id }).from(instances)
      .where(inArray(instances.state, ['pending', 'running'])).all().map((r) => r.id));
    const each = async <T>(items: T[], name: (item: T) => string, fn: (item: T) => Promise<void>) => {
      for (const item of items) await fn(item).catch((err) => skip(name(item), err));
    };
    await each(await this.host.units.list(TPM_PREFIX), (st) => `unit ${st.name}`, async (st) => {
      // A TPM whose VM is gone (stopped or terminated while nobody watched).
      if (holding.has(st.name.slice(TPM_PREFIX.length)) && !isFinal(st.state)) return;
      if (!isFinal(st.state)) stats.orphans++;
      await this.host.units.stop(st.name);
      await this.host.units.remove(st.name);
    });
    // Units of instances terminated or unknown here (this data dir's units only: the manager lists no other's).
    await each(await this.host.units.list(PREFIX), (st) => `unit ${st.name}`, async (st) => {
      if (liveIds.has(st.name.slice(PREFIX.length))) return;
      stats.orphans++;
      await this.host.units.stop(st.name);
      await this.host.units.remove(st.name);
    });
    await each(await this.host.pool.listDisks(), (id) => `disk ${id}`, async (id) => {
      if (liveIds.has(id)) return;
      stats.orphans++;
      await this.host.pool.removeDisk(id);
    });
    // Network namespaces of instances that no longer run (terminated, stopped, or never finished launching).
    await each(await this.host.network.namespaces(), (ns) => `namespace ${ns}`, async (ns) => {
      const id = ns.slice('pcloud-'.length);
      if (!id.startsWith('i-') || holding.has(id)) return;
      stats.orphans++;
      await this.host.network.detach(id);
    });
    return stats;
  }

  /** One instance after a restart (under its lock): its record against its unit. */
  private async reconcileOne(id: string, stats: { relaunched: number; ended: number }): Promise<void> {
    const inst = this.row(id);
    if (!inst) return;
    const st = await this.host.units.status(PREFIX + id);
    const up = st && !isFinal(st.state);
    switch (inst.state) {
      case 'pending':
        if (st?.state === 'active') this.setState(id, 'running', { stateReasonCode: null, stateReasonMessage: null });
        else if (!up) {
          // Interrupted mid-launch: every launch step is idempotent, so it is launched again (queued behind this).
          if (st) await this.host.units.remove(PREFIX + id);
          stats.relaunched++;
          this.queueLaunch(id);
        }
        break;
      case 'running':
        if (!up) {
          stats.ended++;
          await this.ended(inst, st ?? { name: PREFIX + id, state: 'failed', result: 'unit-missing' });
        }
        break;
      case 'stopping':
        await this.finishStop(id);
        break;
      case 'shutting-down':
        await this.teardownSlots.run(() => this.finishTerminate(id));
        break;
      case 'stopped':
        if (up) await this.host.units.stop(PREFIX + id);
        break;
    }
  }

  /** Forget terminated instances older than the TTL (AWS keeps them visible for about an hour). */
  sweep(): number {
    const cutoff = Date.now() - this.config.terminatedTtlMs;
    const old = this.db.select({ id: instances.id, vol: instances.rootVolumeId, eni: instances.networkInterfaceId })
      .from(instances).where(and(eq(instances.state, 'terminated'), lt(instances.terminatedAt, cutoff))).all();
    if (!old.length) return 0;
    this.db.transaction(() => {
      this.tags.removeAll(old.flatMap((o) => [o.id, o.vol, o.eni]));
      this.db.delete(instances).where(inArray(instances.id, old.map((o) => o.id))).run();
      this.db.run(sql`DELETE FROM reservations WHERE id NOT IN (SELECT reservation_id FROM instances)`);
    });
    return old.length;
  }

  // ---------------------------------------------------------------- internals

  private setState(id: string, state: InstanceState, extra: Partial<Instance>): void {
    const now = Date.now();
    this.db.update(instances).set({
      ...extra, state, updatedAt: now, ...(state === 'terminated' ? { terminatedAt: now } : {}),
    }).where(eq(instances.id, id)).run();
    log.debug(`instance ${id} → ${state}`);
  }

  /** Run fn after every earlier transition of the same instance. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  /** A transition nobody awaits: its failure is logged (by the lock), never an unhandled rejection. */
  private background(id: string, fn: () => Promise<unknown>): void {
    this.serial(id, fn).catch(() => undefined);
  }

}

function netmaskOf(cidr: string): string {
  const { bits } = parseCidr(cidr);
  return intToIp(bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0);
}

/** The VPC router's address in a subnet: the first after the network address, as on AWS. */
function gatewayOf(cidr: string): string {
  return intToIp(parseCidr(cidr).base + 1);
}

/** The VPC's DNS server: its base address + 2, as Amazon's resolver. */
function dnsOf(vpcCidr: string): string {
  return intToIp(parseCidr(vpcCidr).base + 2);
}

function instanceFilter(f: Filter): SQL {
  if (f.name === 'instance-state-code') {
    const states = Object.entries(stateCodes).filter(([, c]) => f.values.includes(String(c))).map(([s]) => s);
    return states.length ? inArray(instances.state, states) : sql`0`;
  }
  if (f.name === 'private-dns-name' || f.name === 'dns-name') {
    const name = sql`('ip-' || replace(${instances.privateIp}, '.', '-') || '.ec2.internal')`;
    return Tags.matchSql(name, f.values);
  }
  const tagCond = Tags.filterSql(sql`${instances.id}`, f);
  if (tagCond) return tagCond;
  const col = Object.hasOwn(filterColumns, f.name) ? filterColumns[f.name] : undefined;
  if (!col) throw invalidParam(`The filter '${f.name}' is invalid`);
  return Tags.matchSql(col, f.values);
}

function decodeToken(token: string | undefined): number {
  if (token === undefined) return 0;
  try {
    const o = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o: unknown }).o;
    // Tokens are pcloud's own: offsets far past any page it hands out are forged (and SQLite's OFFSET is 64-bit).
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0 && o <= 2 ** 31) return o;
  } catch { /* fall through */ }
  throw new CloudError('InvalidPaginationToken', `Invalid pagination token: ${token.slice(0, 40)}`);
}

/**
 * How a unit ended, for the tenant's StateReason: its result, exit code and signal. Its status text (a spawn error,
 * nspawn's STATUS=) can name host paths and commands: that goes to the server's log only (logEnd).
 */
function describeEnd(st: UnitStatus): string {
  const parts = [st.result ?? st.state];
  if (st.exitCode !== undefined) parts.push(`exit ${st.exitCode}`);
  if (st.signal) parts.push(st.signal);
  return parts.join(', ');
}

function logEnd(id: string, st: UnitStatus): void {
  log.warn(`${id}: its unit ended (${describeEnd(st)})${st.statusText ? `: ${st.statusText}` : ''}`);
}

export function ec2Time(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' GMT');
}
