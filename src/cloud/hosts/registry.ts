/**
 * The hosts instances run on (issue 17). An embedded cloud has one: the machine `pcloud serve` runs on, registered by
 * the server itself at every start with what it offers and the boot it is in, and heard from every few seconds while
 * it serves (its heartbeat: a host not heard from for a while is lost, liveness.ts).
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { hosts } from '../../db/tables.js';
import type { HostMachine } from '../../host/index.js';
import { hostZone, type CloudConfig } from '../config.js';
import { log } from '../../log.js';
import { newId } from '../ids.js';

export type HostRow = typeof hosts.$inferSelect;

export interface LocalRegistration {
  host: HostRow;
  /** Whether the machine booted since it last registered (every unit it ran then is gone). */
  rebooted: boolean;
}

export class HostRegistry {
  private localId?: string;
  private heartbeat?: NodeJS.Timeout;

  /**
   * `underlay`: this host's address on the network that joins the hosts (PCLOUD_UNDERLAY_ADDRESS), recorded as its
   * address; a host without one is an embedded cloud's (it serves every zone that has no host of its own).
   */
  constructor(private readonly db: Db, private readonly machine: HostMachine, private readonly config: CloudConfig, private readonly underlay?: string) {}

  /** Register this machine (or refresh its row): its capacity, its zone, its boot; say whether it rebooted since. */
  async registerLocal(now = Date.now()): Promise<LocalRegistration> {
    const [offer, bootId] = await Promise.all([this.machine.capacity(), this.machine.bootId()]);
    const values = {
      availabilityZone: hostZone(this.config), address: this.underlay ?? null, runtimes: offer.runtimes,
      accel: this.config.vmAccel === 'kvm' && offer.kvm ? 'kvm' : 'tcg', vcpus: offer.vcpus, memoryMiB: offer.memoryMiB,
      bootId, heartbeatAt: now,
    };
    const before = (await this.db.select().from(hosts).where(eq(hosts.name, offer.hostname)).limit(1))[0];
    if (before?.state === 'removed') {
      throw new Error(`this machine's host (${offer.hostname}) was removed from the cloud (\`pcloud host remove\`): to serve again, join it anew (\`pcloud host token\` on a control plane, then \`pcloud host join\` here)`);
    }
    // A draining host stays so (hosts/operate.ts) until its operator undoes it.
    if (before) await this.db.update(hosts).set(values).where(eq(hosts.id, before.id));
    else await this.db.insert(hosts).values({ id: newId('h'), name: offer.hostname, createdAt: now, state: 'available', ...values });
    const host = (await this.db.select().from(hosts).where(eq(hosts.name, offer.hostname)).limit(1))[0]!;
    this.localId = host.id;
    return { host, rebooted: before?.bootId != null && before.bootId !== bootId };
  }

  /** This machine's row, once registered. */
  async local(): Promise<HostRow | undefined> {
    return this.localId ? (await this.db.select().from(hosts).where(eq(hosts.id, this.localId)).limit(1))[0] : undefined;
  }

  /** Every host there is. */
  async list(): Promise<HostRow[]> {
    return await this.db.select().from(hosts);
  }

  /** Write this machine's heartbeat (once registered). */
  async beat(now = Date.now()): Promise<void> {
    if (this.localId) await this.db.update(hosts).set({ heartbeatAt: now }).where(eq(hosts.id, this.localId));
  }

  /** Write this machine's heartbeat every few seconds (CloudConfig.hosts.heartbeatSec) until stopHeartbeat(). */
  startHeartbeat(): void {
    this.stopHeartbeat();
    // The database busy past its timeout: the next beat tries again (the timeout spans several).
    this.heartbeat = setInterval(() => void this.beat().catch((err) => log.warn(`host heartbeat: ${(err as Error).message}`)), this.config.hosts.heartbeatSec * 1000);
    this.heartbeat.unref();
  }

  stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** This machine's host id, once registered. */
  localHostId(): string | undefined {
    return this.localId;
  }

  /**
   * Whether this process acts on the host of an instance (its units, disks, network): its own host, or none recorded
   * (an instance from before hosts were, the embedded cloud's). Before this machine registered: only those.
   */
  isLocal(hostId: string | null): boolean {
    return hostId === null || hostId === this.localId;
  }
}
