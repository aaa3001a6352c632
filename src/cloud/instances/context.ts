/**
 * What every piece of instances/ shares: the services it works with, and the few primitives that all of them use on
 * one instance: its record, the one write of its state, and the per-instance line its transitions run in one at a time.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import type { Wakeups } from '../../db/wakeups.js';
import { write } from '../../db/store.js';
import { instances } from '../../db/tables.js';
import type { Host } from '../../host/index.js';
import { log } from '../../log.js';
import { KeyedQueue } from '../../serial.js';
import type { CloudConfig } from '../config.js';
import type { Events, FailureCode } from '../events.js';
import type { HostRegistry } from '../hosts/registry.js';
import type { IamAssociations } from '../iam-associations.js';
import type { Images } from '../images.js';
import type { KeyPairs } from '../keypairs.js';
import type { Network } from '../network.js';
import type { PublicIps } from '../public-ips.js';
import type { Tags } from '../tags.js';
import type { Vms } from '../vms.js';
import type { Snapshots } from '../snapshots.js';
import type { Volumes } from '../volumes.js';
import type { VpcPlane } from '../vpc-plane.js';
import { instanceRow, type Instance, type InstanceState } from './types.js';

/** The services instances work with, made before them by the cloud. */
export interface InstanceDeps {
  db: Db;
  host: Host;
  config: CloudConfig;
  images: Images;
  keyPairs: KeyPairs;
  network: Network;
  tags: Tags;
  vms: Vms;
  volumes: Volumes;
  /** Snapshots, which RegisterImage makes images of (../snapshots.ts). */
  snapshots: Snapshots;
  plane: VpcPlane;
  publicIps: PublicIps;
  /** Instance profiles on instances (IamInstanceProfile). */
  profiles: IamAssociations;
  /** What happens to instances, recorded (state changes, status checks, failures) and told (../events.ts). */
  events: Events;
  /** Which host is this one: an instance on another is that host's to act on (hosts/registry.ts). */
  hosts: Pick<HostRegistry, 'isLocal'>;
  /** Telling the other hosts (an instance of theirs to act on, a VPC whose instances changed): db/wakeups.ts. */
  wakeups: Wakeups;
}

export class InstanceContext implements InstanceDeps {
  readonly db: Db;
  readonly host: Host;
  readonly config: CloudConfig;
  readonly images: Images;
  readonly keyPairs: KeyPairs;
  readonly network: Network;
  readonly tags: Tags;
  readonly vms: Vms;
  readonly volumes: Volumes;
  readonly snapshots: Snapshots;
  readonly plane: VpcPlane;
  readonly publicIps: PublicIps;
  readonly profiles: IamAssociations;
  readonly events: Events;
  readonly hosts: Pick<HostRegistry, 'isLocal'>;
  readonly wakeups: Wakeups;
  /** Every transition of one instance, one at a time. */
  private readonly locks = new KeyedQueue((id, err) => log.error(`instance ${id}: ${err.message}`));

  constructor(deps: InstanceDeps) {
    this.db = deps.db;
    this.host = deps.host;
    this.config = deps.config;
    this.images = deps.images;
    this.keyPairs = deps.keyPairs;
    this.network = deps.network;
    this.tags = deps.tags;
    this.vms = deps.vms;
    this.volumes = deps.volumes;
    this.snapshots = deps.snapshots;
    this.plane = deps.plane;
    this.publicIps = deps.publicIps;
    this.profiles = deps.profiles;
    this.events = deps.events;
    this.hosts = deps.hosts;
    this.wakeups = deps.wakeups;
  }

  /** The instance's record, whatever its account (internal callers). */
  async row(id: string): Promise<Instance | undefined> {
    return await instanceRow(this.db, id);
  }

  /**
   * The one write of an instance's state (and the reason fields that go with it), and its event (the state before, and
   * why: `why`, else the state reason written), in one transaction.
   */
  async setState(id: string, state: InstanceState, extra: Partial<Instance>, why?: string): Promise<void> {
    const now = Date.now();
    const before = await write(this.db, async () => {
      const before = await this.row(id);
      await this.db.update(instances).set({
        ...extra, state, updatedAt: now, ...(state === 'terminated' ? { terminatedAt: now } : {}),
      }).where(eq(instances.id, id));
      if (before && before.state !== state) {
        await this.events.recordOne(before, { kind: 'state', code: state, previous: before.state, message: why ?? reasonOf(state, extra) });
      }
      return before;
    });
    // The other hosts with this VPC follow where its instances are (their overlay, names and rules).
    if (before && before.state !== state) {
      this.wakeups.tell('vpc', before.vpcId);
      // Another host's instance changed by this server (a stop or termination asked here): this host follows too.
      if (!this.hosts.isLocal(before.hostId)) void this.plane.followVpc(before.vpcId).catch((err) => log.warn(`following ${before.vpcId}: ${(err as Error).message}`));
    }
    // A terminated instance has no instance profile any more, nor its role's sessions.
    if (state === 'terminated') await this.profiles.instanceGone(id);
    log.debug(`instance ${id} → ${state}`);
  }

  /** Record a failure of the instance, with its reason (the tenant's words). */
  async failure(id: string, code: FailureCode, message: string): Promise<void> {
    const inst = await this.row(id);
    if (inst) await this.events.recordOne(inst, { kind: 'failure', code, message });
  }

  /** Run fn after every earlier transition of the same instance. */
  serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  /** A transition nobody awaits: its failure is logged (by the lock), never an unhandled rejection. */
  background(id: string, fn: () => Promise<unknown>): void {
    this.serial(id, fn).catch(() => undefined);
  }

  /** Wait until every transition under way has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.locks.idle();
  }
}

/** A state change's reason, from the state reason written with it (the placeholder `pending` says nothing). */
function reasonOf(state: InstanceState, extra: Partial<Instance>): string {
  const message = extra.stateReasonMessage;
  if (message && message !== state) return message;
  return extra.stateTransitionReason ?? '';
}
