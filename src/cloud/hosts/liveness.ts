/**
 * Which host an instance is on, and whether that host is heard from. A host writes its heartbeat every few seconds
 * while it serves (registry.ts); one not heard from for the configured timeout is lost: nothing is placed on it, and
 * its instances show impaired (they may well run on; nobody can tell), never moved elsewhere.
 */
import type { Db } from '../../db/index.js';
import { hosts } from '../../db/tables.js';
import type { HostsConfig } from '../config.js';

type HostRow = typeof hosts.$inferSelect;

/** Whether the host's heartbeat is recent enough (at `now`). */
export function heard(host: Pick<HostRow, 'heartbeatAt'>, config: HostsConfig, now: number): boolean {
  return now - host.heartbeatAt <= config.heartbeatTimeoutSec * 1000;
}

/** Whether a host takes new instances: available, and heard from. */
export function takesInstances(host: Pick<HostRow, 'state' | 'heartbeatAt'>, config: HostsConfig, now: number): boolean {
  return host.state === 'available' && heard(host, config, now);
}

/**
 * An embedded cloud's own host: the machine a `pcloud serve` runs on has no underlay address (a joined host has one).
 * The first registered stands for them all where one is needed.
 */
export function isEmbedded(host: Pick<HostRow, 'address'>): boolean {
  return host.address === null;
}

/**
 * The host that holds instances recorded before hosts were (host_id null): the embedded cloud's own, the one machine
 * there was then.
 */
export function embeddedHost<T extends Pick<HostRow, 'address' | 'createdAt' | 'id'>>(hosts: T[]): T | undefined {
  return hosts.filter(isEmbedded).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))[0];
}

/** The id of the host an instance is on: its own, or (recorded before hosts were) the embedded cloud's. */
export function hostIdOf(hostId: string | null, embedded: Pick<HostRow, 'id'> | undefined): string | undefined {
  return hostId ?? embedded?.id;
}

/**
 * Which instances' hosts are lost (at `now`), by the instance's host_id: one not heard from, removed, or no longer
 * registered.
 * Instances from before hosts were are on the embedded host (lost only if it is).
 */
export async function lostHosts(db: Pick<Db, 'select'>, config: HostsConfig, now = Date.now()): Promise<(hostId: string | null) => boolean> {
  const all = await db.select({ id: hosts.id, address: hosts.address, createdAt: hosts.createdAt, heartbeatAt: hosts.heartbeatAt, state: hosts.state }).from(hosts);
  const embedded = embeddedHost(all);
  const byId = new Map(all.map((h) => [h.id, h]));
  return (hostId) => {
    const id = hostIdOf(hostId, embedded);
    if (id === undefined) return false;
    const host = byId.get(id);
    return !host || host.state === 'removed' || !heard(host, config, now);
  };
}
