/** The hosts as an operator reads them (`pcloud host list`): capacity, what their instances hold, whether they are heard from. */
import { asc } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { hosts } from '../../db/tables.js';
import type { HostsConfig } from '../config.js';
import { heard } from './liveness.js';
import { hostLimits, hostUsage } from './placement.js';

export interface HostView {
  id: string;
  name: string;
  availabilityZone: string;
  /** Its underlay address; null: an embedded cloud's own host. */
  address: string | null;
  state: string;
  /** Not heard from for the configured timeout: nothing is placed on it, its instances show impaired. */
  lost: boolean;
  runtimes: string[];
  accel: string;
  /** What its instances (pending, running, stopping) hold, what it has, and what placement lets them hold (over-commit). */
  vcpus: { used: number; total: number; limit: number };
  memoryMiB: { used: number; total: number; limit: number };
  instances: number;
  /** Seconds since its last heartbeat. */
  heartbeatAgeSec: number;
}

/** Every host, by zone and name. */
export async function hostViews(db: Pick<Db, 'select'>, config: HostsConfig, now = Date.now()): Promise<HostView[]> {
  const all = await db.select().from(hosts).orderBy(asc(hosts.availabilityZone), asc(hosts.name));
  const usage = await hostUsage(db, all);
  return all.map((h) => {
    const used = usage.get(h.id) ?? { vcpus: 0, memoryMiB: 0, instances: 0 };
    const limits = hostLimits(h, config);
    return {
      id: h.id, name: h.name, availabilityZone: h.availabilityZone, address: h.address, state: h.state, lost: !heard(h, config, now),
      runtimes: h.runtimes, accel: h.accel,
      vcpus: { used: used.vcpus, total: h.vcpus, limit: Math.floor(limits.vcpus) },
      memoryMiB: { used: used.memoryMiB, total: h.memoryMiB, limit: Math.floor(limits.memoryMiB) },
      instances: used.instances,
      heartbeatAgeSec: Math.max(0, Math.round((now - h.heartbeatAt) / 1000)),
    };
  });
}
