/**
 * Volumes (EBS): raw files in the storage pool, made (from a snapshot: snapshots.ts) by reflink (milliseconds). A volume
 * attaches to a VM instance: while it is stopped, at once (its next start connects it); while a q35 VM runs, by hot
 * plug. Its QEMU reaches it over iSCSI (src/host/iscsi.ts). A container mounts its volumes over NFS (src/host/nfs.ts),
 * each exported to that instance alone. On a cloud of several hosts a volume is in one host's pool and moves to its
 * instance's host when attached (volume-moves.ts).
 */
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { byChunks } from '../db/chunks.js';
import { instances, volumes } from '../db/tables.js';
import type { Host } from '../host/index.js';
import { nfsClientAddress, uplinkAddresses } from '../host/network.js';
import { NfsMountError, VolumeNotMountable } from '../host/nfs.js';
import { containerLeader } from '../host/nspawn.js';
import { log } from '../log.js';
import type { CloudConfig } from './config.js';
import { CloudError, invalidParam, malformed, notFound, passDryRun } from './errors.js';
import { hostFailure } from './errors/host.js';
import { ClientTokens, type TokenRequest } from './idempotency.js';
import { isId, newId } from './ids.js';
import type { Tag, Tags } from './tags.js';
import type { Snapshot, Snapshots } from './snapshots.js';
import type { VpcSyncs } from './vpc-plane.js';
import { GIVEN_UP, moving, notMoving, whyNotTaken, type VolumeMoves } from './volume-moves.js';
import { write } from '../db/store.js';

export type Volume = typeof volumes.$inferSelect;

const TYPES: Record<string, { min: number; max: number }> = {
  gp2: { min: 1, max: 16384 }, gp3: { min: 1, max: 16384 }, io1: { min: 4, max: 16384 }, io2: { min: 4, max: 65536 },
  st1: { min: 125, max: 16384 }, sc1: { min: 125, max: 16384 }, standard: { min: 1, max: 1024 },
};

export interface CreateVolumeParams {
  availabilityZone?: string;
  size?: number;
  snapshotId?: string;
  volumeType?: string;
  iops?: number;
  throughput?: number;
  tags: Tag[];
  /** Its ClientToken (src/cloud/idempotency.ts): made again, the same volume. */
  request?: TokenRequest;
}

/** What a VM's QEMU is given for each attached volume. */
export interface AttachedVolume {
  id: string;
  file: string;
}

/** The host side of attaching to a running VM (hot plug), given by the VM runtime. */
export interface HotPlug {
  plug(instanceId: string, vpcId: string, volume: AttachedVolume): Promise<void>;
  /** With force, the volume goes even if the guest does not let go of it (its writes in flight are lost). */
  unplug(instanceId: string, volumeId: string, force: boolean): Promise<void>;
}

/** Where a container finds a volume: /mnt/ and the device name it was attached as (/dev/sdf → /mnt/sdf). */
export const containerMountPoint = (device: string) => `/mnt/${device.split('/').pop()}`;

/** A container's side of attaching: NFS from pcloud's ganesha, mounted in the container's namespaces. */
export interface NfsPlug {
  plug(inst: { id: string; vpcId: string }, volume: AttachedVolume, device: string): Promise<void>;
  unplug(inst: { id: string; vpcId: string }, volumeId: string, device: string | null, mounted: boolean): Promise<void>;
}

/** The NFS plug over pcloud's ganesha; the VPC plane lets each container's NFS traffic through its router. */
export function nfsPlug(host: Host, plane: Pick<VpcSyncs, 'syncEdge'>): NfsPlug {
  return {
    async plug(inst, volume, device) {
      const up = uplinkAddresses(inst.vpcId);
      // Exported to this instance's own NFS address only: its router SNATs its NFS traffic (and no one else's) to it.
      await host.nfs.export(volume.id, volume.file, nfsClientAddress(inst.id));
      await plane.syncEdge(inst.vpcId);
      await host.nfs.mountInto(await containerLeader(host.units, inst.id), up.host, volume.id, containerMountPoint(device));
    },
    async unplug(inst, volumeId, device, mounted) {
      if (mounted && device) {
        const leader = await containerLeader(host.units, inst.id).catch(() => undefined);
        if (leader) await host.nfs.unmountFrom(leader, containerMountPoint(device));
      }
      await host.nfs.unexport(volumeId);
      await plane.syncEdge(inst.vpcId);
    },
  };
}

export class Volumes {
  constructor(
    private readonly db: Db,
    private readonly host: Host,
    private readonly config: CloudConfig,
    private readonly tags: Tags,
    /** A running q35 VM's side of attaching (the VM runtime's). */
    private readonly hotPlug: HotPlug,
    /** A running container's side of attaching. */
    private readonly nfsPlug: NfsPlug,
    private readonly snapshots: Snapshots,
  ) {}

  /**
   * Whether an instance's host is this server's (hosts/registry.ts; Cloud wires it): the instance's host attaches its
   * volumes (bringing them into its pool first).
   */
  isLocal: (hostId: string | null) => boolean = () => true;

  /** Volumes between hosts (Cloud wires them; unset: one host, every volume here). */
  moves?: VolumeMoves;

  /** Whether the volume's file is in this host's pool. */
  private async isHere(vol: Volume): Promise<boolean> {
    return this.moves ? await this.moves.isHere(vol) : true;
  }

  /**
   * Whether this server's host serves the zone (its instances are launched on the zone's hosts; Cloud wires it): a
   * volume's file is made in this host's pool, where only this host's instances can attach it.
   */
  servesZone: (zone: string) => Promise<boolean> = () => Promise.resolve(true);

  async get(accountId: string, id: string): Promise<Volume> {
    if (!isId('vol', id)) throw malformed('InvalidVolumeID.Malformed', id);
    const row = (await this.db.select().from(volumes).where(and(eq(volumes.id, id), eq(volumes.accountId, accountId))).limit(1))[0];
    if (!row) throw notFound('InvalidVolume.NotFound', id);
    return row;
  }

  async list(accountId: string, ids: string[] = []): Promise<Volume[]> {
    const conds = [eq(volumes.accountId, accountId)];
    if (ids.length) conds.push(inArray(volumes.id, ids));
    return await this.db.select().from(volumes).where(and(...conds)).orderBy(asc(volumes.createdAt));
  }

  async create(accountId: string, p: CreateVolumeParams, dryRun = false): Promise<Volume> {
    if (!p.availabilityZone) throw new CloudError('MissingParameter', 'The request must contain the parameter availabilityZone');
    if (!this.config.availabilityZones.includes(p.availabilityZone)) {
      throw new CloudError('InvalidParameterValue', `Value (${p.availabilityZone}) for parameter availabilityZone is invalid. Volumes can currently only be created in the following availability zones: ${this.config.availabilityZones.join(', ')}.`);
    }
    const type = p.volumeType ?? 'gp2';
    const limits = TYPES[type];
    if (!limits) throw invalidParam(`Value (${type}) for parameter volumeType is invalid. Valid values: ${Object.keys(TYPES).join(', ')}`);
    const snap = p.snapshotId ? (await this.snapshots.get(accountId, p.snapshotId)) : undefined;
    const size = p.size ?? snap?.sizeGiB;
    if (size === undefined) throw new CloudError('MissingParameter', 'The request must contain the parameter size or snapshotId');
    if (!Number.isInteger(size) || size < limits.min || size > limits.max) {
      throw invalidParam(`Volume of ${size}GiB is too ${size < limits.min ? 'small' : 'large'}; ${type} volumes are ${limits.min}-${limits.max}GiB.`);
    }
    if (snap && size < snap.sizeGiB) throw invalidParam(`Volume of ${size}GiB is too small; minimum is ${snap.sizeGiB}GiB.`);
    passDryRun(dryRun);
    const tokens = new ClientTokens(this.db);
    const request = p.request;
    const prior = request && (await tokens.prior(request));
    if (prior) return await this.get(accountId, prior);
    if (snap) await this.snapshots.mustBeHere(snap, 'create a volume from it (in that zone)');
    // Made in this host's pool: only if an instance of its zone could attach it (it moves only within its zone).
    if (!(await this.servesZone(p.availabilityZone))) {
      throw new CloudError('Unsupported', `A volume is made in the pool of the host of the server that creates it, and this server's host is not in ${p.availabilityZone}: create the volume through the API of a server in ${p.availabilityZone}, whose instances can attach it.`);
    }
    const id = newId('vol');
    await this.host.pool.createVolume(id, size, snap?.id);
    const row: Volume = {
      id, accountId, availabilityZone: p.availabilityZone, sizeGiB: size, volumeType: type,
      iops: type === 'gp3' ? (p.iops ?? 3000) : type.startsWith('io') ? (p.iops ?? 100) : type === 'gp2' ? Math.min(16000, Math.max(100, size * 3)) : null,
      throughput: type === 'gp3' ? (p.throughput ?? 125) : null, snapshotId: snap?.id ?? null, state: 'available',
      instanceId: null, device: null, attachState: null, attachTime: null, deleteOnTermination: false, createdAt: Date.now(),
      hostId: this.moves?.hostId() ?? null, moveTo: null, moveAt: null, moveSource: null,
    };
    let made: string;
    try {
      // Another server may have made it for the same token while this one made its disk: theirs is the answer.
      made = await write(this.db, async () => {
        const raced = request && (await tokens.prior(request));
        if (raced) return raced;
        await this.db.insert(volumes).values(row);
        if (p.tags.length) await this.tags.put(accountId, [id], p.tags);
        if (request) await tokens.record(request, id);
        return id;
      });
    } catch (e) {
      await this.host.pool.removeVolume(id);
      throw e;
    }
    if (made === id) return row;
    await this.host.pool.removeVolume(id);
    return await this.get(accountId, made);
  }

  async delete(accountId: string, id: string): Promise<void> {
    const vol = await this.get(accountId, id);
    if (vol.instanceId) throw new CloudError('VolumeInUse', `Volume ${id} is currently attached to ${vol.instanceId}`);
    const here = await this.isHere(vol);
    const gone = await write(this.db, async (tx) => {
      const taken = await tx.delete(volumes).where(and(eq(volumes.id, id), isNull(volumes.instanceId), notMoving())).returning({ id: volumes.id });
      if (taken.length) await this.tags.removeAll([id]);
      return taken.length > 0;
    });
    if (!gone) throw await whyNotTaken(this.db, id);
    // Its file goes where it is: here, or on its own host, told (volume-moves.ts).
    if (here) await this.host.pool.removeVolume(id);
    this.moves?.tell(id);
  }

  /**
   * AttachVolume: to an instance in its zone through its host's server: a running container (NFS), a stopped VM (at its
   * next start), a running q35 VM (hot plug).
   */
  async attach(accountId: string, volumeId: string, instanceId: string, device: string | undefined): Promise<Volume> {
    const vol = await this.get(accountId, volumeId);
    if (!device) throw new CloudError('MissingParameter', 'The request must contain the parameter device');
    if (!/^\/dev\/(sd[b-z]|xvd[b-z]|sd[b-z][1-9]|xvd[b-z][a-z]?|nvme\d+n1)$/.test(device)) throw invalidParam(`Value (${device}) for parameter device is invalid. ${device} is not a valid EBS device name.`);
    const inst = (await this.db.select().from(instances).where(and(eq(instances.id, instanceId), eq(instances.accountId, accountId))).limit(1))[0];
    if (!inst || inst.state === 'terminated') throw notFound('InvalidInstanceID.NotFound', instanceId);
    if (vol.instanceId) throw new CloudError('VolumeInUse', `${volumeId} is already attached to an instance`);
    if (vol.availabilityZone !== inst.availabilityZone) {
      throw new CloudError('InvalidVolume.ZoneMismatch', `The volume '${volumeId}' is not in the same availability zone as instance '${instanceId}'`);
    }
    if ((await this.forInstance(instanceId)).some((v) => v.device === device)) throw invalidParam(`Attachment point ${device} is already in use`);
    if (!this.isLocal(inst.hostId)) {
      throw new CloudError('IncorrectState', `The instance '${instanceId}' runs on another host of this cloud than this server's: attach the volume through the API of a server in ${inst.availabilityZone} (the instance's host attaches it).`);
    }
    const hot = inst.state === 'running';
    if (inst.runtime === 'container') {
      if (!hot) throw new CloudError('IncorrectState', `The instance '${inst.id}' is a container, which mounts volumes (NFS) while it runs: start it first.`);
    } else if (hot && inst.runtime !== 'q35') {
      throw new CloudError('IncorrectState', `The instance '${instanceId}' is a microvm, which takes volumes while it is stopped: stop it, attach, start it.`);
    } else if (!hot && inst.state !== 'stopped') throw new CloudError('IncorrectState', `The instance '${instanceId}' is ${inst.state}: attach while it is running or stopped.`);
    if (!(await this.isHere(vol))) {
      if (vol.hostId === null || !this.moves) {
        throw new CloudError('IncorrectState', `The volume '${volumeId}' is on another host of this cloud than the instance '${instanceId}', recorded before volumes moved between hosts: attach it to an instance of its own host.`);
      }
      // A volume of another host of its zone: taken at once (attaching), moved here in the background, then connected
      // as one of this host's (DescribeVolumes shows it attached; a move that fails leaves it available where it was).
      const set = await this.moves.begin(vol, instanceId, device);
      void this.moves.complete(vol, instanceId, set.moveAt!).then(async (moved) => { if (moved) await this.attachMoved(volumeId, instanceId, device); })
        .catch((err: unknown) => log.warn(`attaching ${volumeId} to ${instanceId} after its move: ${(err as Error).message}`));
      return { ...vol, ...set };
    }
    const set = await this.claim(volumeId, instanceId, device, vol.hostId);
    await this.connect(volumeId, instanceId, device);
    return { ...vol, ...set };
  }

  /**
   * A volume moved here for an instance: connected to it if it is still attaching to it (not detached meanwhile), then
   * `attached`. A failure undoes the attachment (connect()); the server's log says why.
   */
  private async attachMoved(volumeId: string, instanceId: string, device: string): Promise<void> {
    const still = and(eq(volumes.id, volumeId), eq(volumes.instanceId, instanceId), eq(volumes.attachState, 'attaching'));
    if (!(await this.db.select({ id: volumes.id }).from(volumes).where(still).limit(1)).length) return;
    await this.connect(volumeId, instanceId, device);
    await this.db.update(volumes).set({ attachState: 'attached' }).where(still);
  }

  /**
   * The host's side of an attachment, as the instance is now: a running container mounts it (NFS from pcloud's
   * ganesha, at /mnt/DEVICE, again at each start), a running q35 VM takes it by hot plug, a stopped VM at its next
   * start. A running microvm cannot take it (it started while the volume moved here). Failed, the attachment is
   * undone and the error says why; a kernel without an NFS client cannot mount it, and the error says so.
   */
  private async connect(volumeId: string, instanceId: string, device: string): Promise<void> {
    const inst = (await this.db.select().from(instances).where(eq(instances.id, instanceId)).limit(1))[0];
    if (inst?.state !== 'running') return;
    const volume = { id: volumeId, file: this.host.pool.volumePath(volumeId) };
    try {
      if (inst.runtime === 'container') await this.nfsPlug.plug(inst, volume, device);
      else if (inst.runtime === 'q35') await this.hotPlug.plug(instanceId, inst.vpcId, volume);
      else throw new CloudError('IncorrectState', `The instance '${instanceId}' is a microvm, which takes volumes while it is stopped: stop it, attach, start it.`);
    } catch (err) {
      await this.setDetached(volumeId);
      if (inst.runtime === 'container') await this.nfsPlug.unplug(inst, volumeId, device, false).catch(() => undefined);
      // The user reads what to do; the command line, PIDs and addresses of the failure stay in the server's log.
      throw hostFailure(err, `${inst.runtime === 'container' ? 'mounting' : 'hot plugging'} ${volumeId} in ${instanceId}`, (e) => e instanceof NfsMountError && e.kernelLacksNfs
        ? new CloudError('UnsupportedOperation', `The volume '${volumeId}' could not be mounted in the container '${instanceId}': this host cannot attach volumes to container instances; use an instance type that runs as a VM (m5, c5, r5, ...), which takes volumes over iSCSI.`)
        : e instanceof VolumeNotMountable && e.why === 'no-file-system'
          ? new CloudError('UnsupportedOperation', `The volume '${volumeId}' holds no file system a container can mount (a partition table?): it is left as it is. Attach it to an instance type that runs as a VM (m5, c5, r5, ...), or use a volume with one file system on the whole disk.`)
          : undefined);
    }
  }

  /**
   * The volume attached to the instance at `device` in its record, if it is still attached to nothing, still on the
   * instance's host (`hostId`; null: recorded without one) and not moving, and the device still free there (checked
   * and taken in one transaction: two attachments at once, one of them refused).
   */
  private async claim(volumeId: string, instanceId: string, device: string, hostId: string | null) {
    const set = { instanceId, device, attachState: 'attached', attachTime: Date.now(), state: 'in-use' };
    const onHost = hostId === null ? isNull(volumes.hostId) : eq(volumes.hostId, hostId);
    const taken = await write(this.db, async (tx) => {
      if ((await this.forInstance(instanceId)).some((v) => v.device === device)) throw invalidParam(`Attachment point ${device} is already in use`);
      return (await tx.update(volumes).set(set).where(and(eq(volumes.id, volumeId), isNull(volumes.instanceId), onHost, notMoving())).returning({ id: volumes.id })).length > 0;
    });
    if (!taken) throw await whyNotTaken(this.db, volumeId);
    return set;
  }

  /** A moving volume's move and attachment given up together, if it is still moving for that instance; whether it was. */
  private async giveUpMove(vol: Volume): Promise<boolean> {
    const given = await this.db.update(volumes).set(GIVEN_UP)
      .where(and(eq(volumes.id, vol.id), eq(volumes.moveTo, vol.moveTo!), eq(volumes.instanceId, vol.instanceId!))).returning({ id: volumes.id });
    if (given.length) this.moves?.givenUp(vol.id);
    return given.length > 0;
  }

  /** The volume's record back to `available`, attached to nothing. */
  private async setDetached(volumeId: string): Promise<void> {
    await this.db.update(volumes).set({ instanceId: null, device: null, attachState: null, attachTime: null, state: 'available' }).where(eq(volumes.id, volumeId));
  }

  /** A container started again: its volumes are mounted again. */
  async remount(inst: { id: string; vpcId: string }): Promise<void> {
    for (const v of (await this.forInstance(inst.id)).filter((v) => !moving(v))) {
      await this.nfsPlug.plug(inst, { id: v.id, file: this.host.pool.volumePath(v.id) }, v.device!).catch((err) => log.warn(`mounting ${v.id} in ${inst.id}: ${(err as Error).message}`));
    }
  }

  async detach(accountId: string, volumeId: string, instanceId?: string, force = false): Promise<Volume> {
    const vol = await this.get(accountId, volumeId);
    if (!vol.instanceId) throw new CloudError('IncorrectState', `Volume '${volumeId}' is in the 'available' state.`);
    if (instanceId && instanceId !== vol.instanceId) throw new CloudError('InvalidAttachment.NotFound', `Volume '${volumeId}' is not attached to instance '${instanceId}'`);
    // Still moving to its instance's host: nothing is connected yet. The move is given up with the attachment (its
    // taker, finding it so, removes its copy; its giver, told, closes its export). Done meanwhile: detached as any.
    if (moving(vol) && await this.giveUpMove(vol)) return { ...vol, attachState: 'detaching' };
    const inst = (await this.db.select().from(instances).where(eq(instances.id, vol.instanceId)).limit(1))[0];
    if (inst?.runtime === 'container') {
      await this.setDetached(volumeId);
      await this.nfsPlug.unplug(inst, volumeId, vol.device, inst.state === 'running').catch((err) => { throw hostFailure(err, `unmounting ${volumeId} from ${inst.id}`); });
      return { ...vol, attachState: 'detaching' };
    }
    if (inst?.state === 'running') {
      if (inst.runtime !== 'q35' && !force) throw new CloudError('IncorrectState', `The instance '${inst.id}' is a microvm, which gives volumes back while it is stopped.`);
      if (inst.runtime === 'q35') await this.hotPlug.unplug(inst.id, volumeId, force).catch((err) => { throw hostFailure(err, `unplugging ${volumeId} from ${inst.id}`); });
    }
    await this.host.iscsi.unexport(volumeId).catch(() => undefined);
    await this.setDetached(volumeId);
    return { ...vol, attachState: 'detaching' };
  }

  /** The volumes attached to an instance, in attachment order (the guest's vdb, vdc, ...). */
  async forInstance(instanceId: string): Promise<Volume[]> {
    return await this.db.select().from(volumes).where(eq(volumes.instanceId, instanceId)).orderBy(asc(volumes.attachTime));
  }

  /** The volumes attached to each of these instances, by instance id, each list in attachment order (a query per 500). */
  async forInstances(instanceIds: readonly string[]): Promise<Map<string, Volume[]>> {
    const out = new Map<string, Volume[]>();
    const rows = await byChunks(instanceIds, (chunk) => this.db.select().from(volumes).where(inArray(volumes.instanceId, chunk))
      .orderBy(asc(volumes.attachTime)));
    for (const v of rows) {
      const list = out.get(v.instanceId!) ?? [];
      list.push(v);
      out.set(v.instanceId!, list);
    }
    return out;
  }

  /** What a VM's launch connects (not a volume still moving here: connected once it is here). */
  async attached(instanceId: string): Promise<AttachedVolume[]> {
    return (await this.forInstance(instanceId)).filter((v) => !moving(v)).map((v) => ({ id: v.id, file: this.host.pool.volumePath(v.id) }));
  }

  /** Its instance terminated: volumes come back available (or go, with DeleteOnTermination). */
  async released(instanceId: string): Promise<void> {
    for (const v of (await this.forInstance(instanceId))) {
      await this.host.iscsi.unexport(v.id).catch(() => undefined);
      await this.host.nfs.unexport(v.id).catch(() => undefined);
      // A volume still moving here is given back where it was; otherwise as DeleteOnTermination says.
      if (moving(v) && await this.giveUpMove(v)) continue;
      if (v.deleteOnTermination) await this.delete(v.accountId, v.id);
      else await this.setDetached(v.id);
    }
  }

  /** CreateSnapshot of a volume of this host: a reflink copy of its file, kept here (snapshots.ts). */
  async createSnapshot(accountId: string, volumeId: string, description: string, tags: Tag[]): Promise<Snapshot> {
    const vol = await this.get(accountId, volumeId);
    if (!(await this.isHere(vol))) {
      throw new CloudError('IncorrectState', `The volume '${volumeId}' is on another host of this cloud: snapshot it through the API of a server of that host (the host of the instance it is attached to, if it is).`);
    }
    return this.snapshots.take(accountId, { id: volumeId, sizeGiB: vol.sizeGiB, file: this.host.pool.volumePath(volumeId) }, description, tags);
  }

  /** Its VM stopped: the volumes stay attached; their targets close until it starts again. */
  async disconnected(instanceId: string): Promise<void> {
    for (const v of (await this.forInstance(instanceId))) {
      await this.host.iscsi.unexport(v.id).catch(() => undefined);
      await this.host.nfs.unexport(v.id).catch(() => undefined);
    }
  }
}
