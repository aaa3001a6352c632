/**
 * Launching: RunInstances stores the reservation and its instances (within the account's limits), then each launch
 * forks the image's root disk, attaches the instance to its VPC, writes its identity (containers' seed) and starts its
 * unit, concurrently where the steps allow, in a bounded number of slots. Stopping or terminating an instance cancels
 * its launch, queued or under way; teardown removes what a launch made.
 */
import { createHash } from 'node:crypto';
import { and, asc, count, eq, inArray } from 'drizzle-orm';
import { instances, reservations } from '../../db/tables.js';
import { tags as tagRows } from '../../db/tables.js';
import { containerUnit, guestProtocol, removeContainerSockets } from '../../host/nspawn.js';
import { UnsafeImageError } from '../../host/rootfs.js';
import { writeSeed } from '../../host/seed.js';
import { makeSshHostKeys } from '../../host/ssh-host-keys.js';
import { log } from '../../log.js';
import { Slots } from '../../slots.js';
import { instanceTypes, type InstanceType } from '../catalog.js';
import { CloudError, invalidParam, passDryRun } from '../errors.js';
import { checkRoomToStart as checkHostRoom, place } from '../hosts/placement.js';
import { newId } from '../ids.js';
import { dnsOf, privateDnsDomain, privateHostLabel } from '../ip.js';
import { newMac } from '../network.js';
import type { InstanceContext } from './context.js';
import { checkRunCounts, decodeUserData, runAttributes } from './params.js';
import { COUNTED, ec2Time, LaunchCancelled, UNIT_PREFIX, type Instance, type RunParams, type RunResult } from './types.js';
import { write } from '../../db/store.js';

const RAISE = 'Terminate instances you no longer need, or ask the operator of this cloud to raise the limit.';
const MAX_PER_CALL = 100;

export class Launcher {
  /** Launches queued or under way, to cancel when their instance is terminated or stopped. */
  private readonly launching = new Map<string, AbortController>();
  /** Launches working on the host at once (forks, networks, units), every account together; the rest wait pending. */
  private readonly launchSlots = new Slots(() => this.ctx.config.limits.launchConcurrency);
  /** Instances this process made whose launch has not touched the host yet: nothing to tear down when cancelled. */
  private readonly untouched = new Set<string>();
  /**
   * Instances whose launch is queued or under way and has not started their unit yet: a unit that shows ended meanwhile
   * is the previous run's (a stop's end heard late), not this launch's failure.
   */
  private readonly unitNotStarted = new Set<string>();
  /**
   * Instances whose unit a launch of this process started (or reconcile found starting), awaiting its readiness: only
   * their unit's end is a launch's failure. A pending instance's unit ending otherwise is an earlier run's, heard after
   * another server started it again (its launch here is yet to be taken up).
   */
  private readonly awaitingReady = new Set<string>();
  /**
   * Instances launched again (StartInstances, a relaunch after a reboot): their disk holds the tenant's data, so a
   * launch that fails leaves them stopped with their disk, never terminated.
   */
  private readonly again = new Set<string>();

  constructor(private readonly ctx: InstanceContext) {}

  /** Cancel the launches still queued or under way (a restart launches them again). */
  close(): void {
    for (const [id, ctl] of this.launching) ctl.abort(new LaunchCancelled(id));
  }

  async run(accountId: string, p: RunParams, dryRun = false): Promise<RunResult> {
    const { db, images, vms, keyPairs, network, publicIps, tags } = this.ctx;
    const counts = checkRunCounts(p);
    const image = await images.get(counts.imageId, accountId);
    const typeName = p.instanceType ?? 't3.micro';
    const type = instanceTypes.get(typeName);
    if (!type) throw invalidParam(`The instance type '${typeName}' does not exist`);
    if (type.architecture !== image.architecture) {
      throw invalidParam(`The architecture '${type.architecture}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI.`);
    }
    const runtime = vms.runtimeFor(type, image);
    if (p.keyName) await keyPairs.get(accountId, p.keyName);
    const attributes = runAttributes(p, type);
    const subnet = await network.pickSubnet(accountId, { subnetId: p.subnetId, availabilityZone: p.availabilityZone });
    // Placement.AvailabilityZone and the subnet's zone are one zone: its hosts (hosts/placement.ts).
    if (p.subnetId && p.availabilityZone && p.availabilityZone !== subnet.availabilityZone) {
      throw invalidParam(`Value (${p.availabilityZone.slice(0, 64)}) for parameter availabilityZone is invalid. Subnet '${subnet.id}' is in the availability zone ${subnet.availabilityZone}`);
    }
    const groups = await network.securityGroupsFor(accountId, subnet.vpcId, p.securityGroupIds, p.securityGroups);
    const profile = p.iamInstanceProfile && (await this.ctx.profiles.resolve(accountId, p.iamInstanceProfile));
    passDryRun(dryRun);

    const { clientToken: _t, ...rest } = p;
    const requestHash = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
    // Placed and inserted in one transaction, which holds the write lock from its start (src/db/index.ts): no other
    // server's launch changes the counts in between.
    const result = await write(db, async (tx) => {
      if (p.clientToken) {
        const prior = (await tx.select().from(reservations)
          .where(and(eq(reservations.accountId, accountId), eq(reservations.clientToken, p.clientToken))).limit(1))[0];
        if (prior) {
          if (prior.requestHash !== requestHash) {
            throw new CloudError('IdempotentParameterMismatch', `Arguments on this idempotent request are inconsistent with arguments used in previous request(s) with client token '${p.clientToken}'.`);
          }
          const rows = await tx.select().from(instances).where(eq(instances.reservationId, prior.id)).orderBy(asc(instances.launchIndex));
          return { reservationId: prior.id, instances: rows, fresh: false };
        }
      }
      // As many as asked for that fit in the account's limits and on the zone's hosts; fewer than MinCount is a refusal.
      // In the transaction (holding the write lock from its start), so two calls at once, in this server or another on
      // the same database, cannot both take the last room.
      const hostIds = await place(tx, this.ctx.config, {
              type, runtime, zone: subnet.availabilityZone, min: counts.minCount, max: await this.room(accountId, type, counts.minCount, counts.maxCount),
      });
      const count = hostIds.length;
      const reservationId = newId('r');
      const now = Date.now();
      await tx.insert(reservations).values({ id: reservationId, accountId, clientToken: p.clientToken || null, requestHash, createdAt: now });
      const ips = await network.allocateIps(subnet, p.privateIpAddress ? 1 : count, p.privateIpAddress);
      if (ips.length < count && p.privateIpAddress) {
        throw invalidParam('A private IP address can be given only when launching one instance');
      }
      const publics = (p.associatePublicIp ?? subnet.mapPublicIp) ? (await publicIps.allocate(ips.length)) : ips.map(() => null);
      const rows: Instance[] = ips.map((ip, i) => ({
        id: newId('i'), accountId, reservationId, launchIndex: i, imageId: image.id, instanceType: type.name,
        runtime, keyName: p.keyName ?? null, state: 'pending', stateTransitionReason: '',
        stateReasonCode: 'pending', stateReasonMessage: 'pending', launchTime: now, subnetId: subnet.id, vpcId: subnet.vpcId,
        availabilityZone: subnet.availabilityZone, privateIp: ip, publicIp: publics[i] ?? null, macAddress: newMac(), networkInterfaceId: newId('eni'),
        securityGroupIds: groups.map((g) => g.id), clientToken: p.clientToken || null, userData: p.userData || null,
        rootVolumeId: newId('vol'), rootVolumeSizeGiB: 8, attributes, terminatedAt: null, updatedAt: now, hostId: hostIds[i]!,
      }));
      for (const r of rows) await tx.insert(instances).values(r);
      await this.ctx.events.record(rows.map((r) => ({ of: r, event: { kind: 'state', code: 'pending', message: 'User initiated (RunInstances)' } })), { fresh: true });
      if (profile) await this.ctx.profiles.launched(tx, profile, rows.map((r) => r.id), now);
      // From a template: AWS's own tags naming it (tenants cannot write aws: keys; DescribeTags and Terraform read them).
      if (p.fromTemplate) {
        const { id: templateId, version } = p.fromTemplate;
        for (const r of rows) {
          for (const [key, value] of [['aws:ec2launchtemplate:id', templateId], ['aws:ec2launchtemplate:version', String(version)]]) {
            await tx.insert(tagRows).values({ accountId, resourceId: r.id, resourceType: 'instance', key: key!, value: value! });
          }
        }
      }
      for (const spec of p.tagSpecifications) {
        const ids = rows.map((r) => (spec.resourceType === 'instance' ? r.id : spec.resourceType === 'volume' ? r.rootVolumeId : r.networkInterfaceId));
        await tags.put(accountId, ids, spec.tags);
      }
      return { reservationId, instances: rows, fresh: true };
    });
    if (result.fresh) {
      // This host's launch here; another host's is its agent's, told now (it launches from the database).
      for (const r of result.instances) {
        if (!this.ctx.hosts.isLocal(r.hostId)) continue;
        this.untouched.add(r.id);
        this.queue(r.id);
      }
      for (const hostId of new Set(result.instances.map((r) => r.hostId).filter((h) => !this.ctx.hosts.isLocal(h)))) this.ctx.wakeups.tell('host', hostId!);
      if (result.instances.length) this.ctx.wakeups.tell('vpc', result.instances[0]!.vpcId);
    }
    return { reservationId: result.reservationId, instances: result.instances };
  }

  // ---------------------------------------------------------------- limits

  /** What the account holds against its limits: instances pending, running or stopping, and their vCPUs. */
  private async usage(accountId: string): Promise<{ instances: number; vcpus: number }> {
    const used = await this.ctx.db.select({ type: instances.instanceType, n: count() }).from(instances)
      .where(and(eq(instances.accountId, accountId), inArray(instances.state, COUNTED))).groupBy(instances.instanceType);
    return {
      instances: used.reduce((sum, u) => sum + u.n, 0),
      vcpus: used.reduce((sum, u) => sum + u.n * (instanceTypes.get(u.type)?.vcpus ?? 0), 0),
    };
  }

  /**
   * How many of MinCount..MaxCount instances of a type the account has room for: at most MAX_PER_CALL, within its
   * instance and vCPU limits. Less than MinCount: the limit's error, as EC2 words it.
   */
  private async room(accountId: string, type: InstanceType, min: number, max: number): Promise<number> {
    const limits = this.ctx.config.limits;
    const used = await this.usage(accountId);
    const byCount = Math.min(MAX_PER_CALL, limits.instances - used.instances);
    const byVcpus = Math.floor((limits.vcpus - used.vcpus) / type.vcpus);
    if (min > byCount) throw this.instanceLimit(min, used.instances, Math.min(MAX_PER_CALL, limits.instances));
    if (min > byVcpus) throw this.vcpuLimit(used.vcpus, `${min} ${type.name} need ${min * type.vcpus}`);
    return Math.min(max, byCount, byVcpus);
  }

  /**
   * StartInstances: the stopped instances to start must fit in the account's limits, all of them, and on their hosts
   * (each starts again where its root volume is: hosts/placement.ts).
   */
  async checkRoomToStart(accountId: string, rows: Instance[]): Promise<void> {
    if (!rows.length) return;
    const limits = this.ctx.config.limits;
    const used = await this.usage(accountId);
    const vcpus = rows.reduce((sum, r) => sum + (instanceTypes.get(r.instanceType)?.vcpus ?? 0), 0);
    if (used.instances + rows.length > limits.instances) throw this.instanceLimit(rows.length, used.instances, limits.instances);
    if (used.vcpus + vcpus > limits.vcpus) throw this.vcpuLimit(used.vcpus, `starting ${rows.length} instance${rows.length > 1 ? 's' : ''} needs ${vcpus}`);
    await checkHostRoom(this.ctx.db, this.ctx.config, rows);
  }

  private instanceLimit(asked: number, used: number, limit: number): CloudError {
    return new CloudError('InstanceLimitExceeded', `You have requested more instances (${asked}) than your current instance limit of ${limit} allows${used ? ` (${used} pending, running or stopping already)` : ''}. ${RAISE}`);
  }

  private vcpuLimit(used: number, need: string): CloudError {
    return new CloudError('VcpuLimitExceeded', `You have requested more vCPU capacity than your current vCPU limit of ${this.ctx.config.limits.vcpus} allows for the instance bucket that the specified instance type belongs to (${used} vCPUs in use; ${need}). ${RAISE}`);
  }

  // ---------------------------------------------------------------- launch and cancel

  /**
   * Queue an instance's launch: after its earlier transitions, once a launch slot is free. Terminating or stopping the
   * instance cancels it, waiting or under way (between its steps).
   */
  queue(id: string, opts: { again?: boolean } = {}): void {
    if (opts.again) this.again.add(id);
    else this.again.delete(id);
    this.launching.get(id)?.abort(new LaunchCancelled(id));
    const ctl = new AbortController();
    this.launching.set(id, ctl);
    this.unitNotStarted.add(id);
    this.ctx.background(id, () => this.launchSlots.run(() => this.launch(id, ctl.signal), ctl.signal).catch((err) => {
      if (!ctl.signal.aborted) throw err;
      log.debug(`launch of ${id} cancelled before it began`);
    }).finally(() => {
      if (this.launching.get(id) !== ctl) return;
      this.launching.delete(id);
      this.unitNotStarted.delete(id);
    }));
  }

  /** Whether this process has the instance's launch queued or under way. */
  busy(id: string): boolean {
    return this.launching.has(id);
  }

  cancel(id: string): void {
    this.launching.get(id)?.abort(new LaunchCancelled(id));
  }

  /** Whether the instance's launch is queued or under way and has not started its unit yet. */
  beforeUnit(id: string): boolean {
    return this.unitNotStarted.has(id);
  }

  /** Whether the instance's launch never touched the host (so there is nothing to tear down); forgets it. */
  takeUntouched(id: string): boolean {
    return this.untouched.delete(id);
  }

  private async launch(id: string, signal: AbortSignal): Promise<void> {
    const { host, config, images, vms, volumes, plane } = this.ctx;
    const inst = await this.ctx.row(id);
    if (!inst || inst.state !== 'pending') return;
    // An instance placed on another host is that host's agent's to launch (StartInstances through this server).
    if (!this.ctx.hosts.isLocal(inst.hostId)) {
      this.ctx.wakeups.tell('host', inst.hostId!);
      return;
    }
    // Between steps: a launch whose instance was terminated or stopped meanwhile goes no further (what it made is the
    // terminate's or stop's to remove, after this returns).
    const checkpoint = async () => {
      signal.throwIfAborted();
      if ((await this.ctx.row(id))?.state !== 'pending') throw new LaunchCancelled(id);
    };
    this.untouched.delete(id);
    try {
      const image = await images.get(inst.imageId);
      // Its files in this host's pool (a joined host fetches them from the control plane first, once: image-fetch.ts).
      const root = await images.local(image);
      const type = instanceTypes.get(inst.instanceType)!;
      const hostname = privateHostLabel(inst.privateIp);
      let unit;
      if (inst.runtime !== 'container') {
        // A VM: its raw disk forked from the image's, its tap on the router; cloud-init in the guest does the rest
        // from the metadata service (no seed is written).
        unit = await vms.prepare(inst, image, type, () => plane.attach(inst), await volumes.attached(id), checkpoint);
      } else {
        // The fork, the network and the seed's contents are independent: make them at once.
        const [disk, netns, seed] = await Promise.all([
          host.pool.fork(root, id, inst.rootVolumeSizeGiB),
          plane.enabled ? plane.attach(inst) : Promise.resolve(undefined),
          makeSshHostKeys(config.runDir ?? '/run/pcloud', `root@${hostname}`).then(async (hostKeys) => ({ ...(await this.seedFor(inst, hostname)), hostKeys })),
        ]);
        unit = containerUnit({
          instanceId: id, rootDir: disk, hostname, vcpus: type.vcpus, memoryMiB: type.memoryMiB,
          register: host.units.registersMachines, readyTimeoutSec: config.readyTimeoutSec, networkNamespace: netns,
          runDir: this.runDir(), guestProtocol: await guestProtocol(disk),
        });
        await checkpoint();
        await writeSeed(disk, seed);
      }
      await checkpoint();
      this.unitNotStarted.delete(id);
      this.awaitingReady.add(id);
      await host.units.start(unit);
    } catch (err) {
      if (err instanceof LaunchCancelled || signal.aborted) {
        log.info(`launch of ${id} cancelled: its instance is ${(await this.ctx.row(id))?.state ?? 'gone'}`);
        return;
      }
      log.error(`launch of ${id} failed: ${(err as Error).message}`);
      // The reason is the user's to read: a domain error says what to do; a host failure's detail (command lines,
      // paths) stays in the server's log.
      const reason = err instanceof CloudError || err instanceof UnsafeImageError ? err.message
        : `the host could not start the instance; ${this.again.has(id) ? 'start' : 'launch'} it again, and if it fails again ask the operator (the server log has the detail)`;
      await this.failed(id, `Server.InternalError: ${reason}`);
    }
  }

  /** Whether the instance's launch under way is a launch again (its disk is the tenant's: see `again`). */
  launchedAgain(id: string): boolean {
    return this.again.has(id);
  }

  /**
   * A launch that failed (its unit did not start, or never became ready): a first launch is undone and terminated; an
   * instance launched again is stopped, keeping its disk and volumes, as a StartInstances that failed leaves it on EC2.
   */
  async failed(id: string, message: string): Promise<void> {
    const { host, vms, plane, volumes } = this.ctx;
    this.awaitingReady.delete(id);
    const reason = { stateReasonCode: 'Server.InternalError', stateReasonMessage: message.slice(0, 500) };
    await this.ctx.failure(id, 'launch-failed', reason.stateReasonMessage);
    if (!this.again.delete(id)) {
      await this.teardown(id);
      await volumes.released(id).catch(() => undefined);
      await this.ctx.setState(id, 'terminated', reason);
      return;
    }
    for (const name of [UNIT_PREFIX + id, ...vms.companions(id)]) {
      await host.units.stop(name).catch((err) => log.warn(`stopping ${name}: ${(err as Error).message}`));
    }
    await plane.detach(id);
    await volumes.disconnected(id).catch((err) => log.warn(`volumes of ${id}: ${(err as Error).message}`));
    await this.ctx.setState(id, 'stopped', { ...reason, stateTransitionReason: `Server error (${ec2Time(new Date())})` });
    await plane.unpublish(id);
  }

  /** The instance is running (or gone): its launch is over. */
  settled(id: string): void {
    this.again.delete(id);
    this.awaitingReady.delete(id);
  }

  /** Whether the instance's unit was started by a launch here (or found starting by reconcile), its readiness awaited. */
  awaitsReady(id: string): boolean {
    return this.awaitingReady.has(id);
  }

  /** A pending instance's unit found starting (reconcile): its end is the launch's failure. */
  watchReadiness(id: string): void {
    this.awaitingReady.add(id);
  }

  /** Where the host's runtime state (sockets) lives. */
  private runDir(): string {
    return this.ctx.config.runDir ?? '/run/pcloud';
  }

  private async seedFor(inst: Instance, hostname: string) {
    const { config, keyPairs, network } = this.ctx;
    const key = inst.keyName ? (await keyPairs.list(inst.accountId, [inst.keyName]))[0] : undefined;
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
      nameserver: config.networking === 'vpc' ? dnsOf((await network.vpc(inst.accountId, inst.vpcId)).cidr) : undefined,
      searchDomain: privateDnsDomain(config.region),
      // pcloud's CA, which the API in the VPC answers with (cloud-init's ca_certs, in the seed's vendor-data).
      caCerts: [this.ctx.host.tls.certificate()],
    };
  }

  /**
   * Remove what an instance holds on the host: its units, lease, network and disk. Each step is tried and logged on
   * its own: none may keep the caller from recording the instance's end (a pending one would count against limits).
   */
  async teardown(id: string): Promise<void> {
    const { host, vms, plane } = this.ctx;
    for (const name of [UNIT_PREFIX + id, ...vms.companions(id)]) {
      try {
        await host.units.stop(name);
        await host.units.remove(name);
      } catch (err) {
        log.warn(`stopping ${name}: ${(err as Error).message}`);
      }
    }
    // Its DHCP lease goes before its port does, so the address can go to a new instance straight away.
    await plane.releaseLease(id);
    await plane.detach(id);
    await host.pool.removeDisk(id).catch((err) => log.warn(`removing disk of ${id}: ${(err as Error).message}`));
    await removeContainerSockets(this.runDir(), id).catch(() => undefined);
  }
}
