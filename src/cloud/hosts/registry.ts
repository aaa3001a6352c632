/**
 * The hosts instances run on (issue 17). An embedded cloud has one: the machine `pcloud serve` runs on, registered by
 * the server itself at every start with what it offers and the boot it is in, and heard from every few seconds while
 * it serves (its heartbeat: a host not heard from for a while is lost, liveness.ts).
 */
import { and, eq, ne } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { hosts } from '../../db/tables.js';
import type { HostMachine } from '../../host/index.js';
import { hostZone, type CloudConfig } from '../config.js';
import { log } from '../../log.js';
import { newId } from '../ids.js';
import { write } from '../../db/store.js';

/**
 * This machine's host was removed from the cloud (`pcloud host remove`): it serves no more under it. Its server exits
 * with HOST_REMOVED_EXIT, which pcloud's systemd unit does not restart.
 */
export class HostRemoved extends Error {
  constructor(name: string) {
    super(`this machine's host (${name}) was removed from the cloud (\`pcloud host remove\`): it does not serve under it. To serve again, join it anew (\`pcloud host token\` on a control plane, then \`pcloud host join\` here)`);
  }
}

/** The exit status of a server whose host was removed (systemd/pcloud.service: RestartPreventExitStatus). */
export const HOST_REMOVED_EXIT = 78;

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
    // Read and written in one transaction: a removal at the same moment comes first or sees this row registered.
    const { before, host } = await write(this.db, async (tx) => {
      const was = (await tx.select().from(hosts).where(eq(hosts.name, offer.hostname)).limit(1))[0];
      if (was?.state === 'removed') throw new HostRemoved(offer.hostname);
      // A draining host stays so (hosts/operate.ts) until its operator undoes it.
      if (was) await tx.update(hosts).set(values).where(eq(hosts.id, was.id));
      else await tx.insert(hosts).values({ id: newId('h'), name: offer.hostname, createdAt: now, state: 'available', ...values });
      return { before: was, host: (await tx.select().from(hosts).where(eq(hosts.name, offer.hostname)).limit(1))[0]! };
    });
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

  /** Called once when a heartbeat finds this machine's host removed from the cloud (its server stops serving). */
  onRemoved: (err: HostRemoved) => void = (err) => log.error(err.message);

  /** Write this machine's heartbeat (once registered); a host removed meanwhile is told to onRemoved, and beats no more. */
  async beat(now = Date.now()): Promise<void> {
    if (!this.localId) return;
    const beaten = await this.db.update(hosts).set({ heartbeatAt: now }).where(and(eq(hosts.id, this.localId), ne(hosts.state, 'removed'))).returning({ name: hosts.name });
    if (beaten.length) return;
    const row = (await this.db.select({ name: hosts.name }).from(hosts).where(eq(hosts.id, this.localId)).limit(1))[0];
    this.stopHeartbeat();
    this.onRemoved(new HostRemoved(row?.name ?? this.localId));
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
