/**
 * Per-instance CPU and memory, from each running instance's unit cgroup (host/cgroups.ts), read at each scrape:
 * `pcloud_instance_cpu_seconds_total` and `pcloud_instance_memory_bytes` by instance id and runtime. Label values are
 * pcloud's own: ids it made (checked to be instance ids) and runtimes from a fixed set, never a user's text; there is a
 * series per running instance of this host (one whose cgroup is not here, on another host, has none).
 */
import { join } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Cloud } from '../cloud/index.js';
import { isId } from '../cloud/ids.js';
import { UNIT_PREFIX } from '../cloud/instances/types.js';
import { runningInstances } from '../cloud/overview.js';
import { unitCgroups, type CgroupUsage, type UnitCgroups } from '../host/cgroups.js';
import { RUNTIMES } from './index.js';

export interface InstanceUsage {
  instanceId: string;
  runtime: string;
  usage: CgroupUsage;
}

/** Each running instance's cgroup reading (those whose cgroup is on this host). */
export function instanceUsage(list: () => Promise<{ id: string; runtime: string }[]>, cgroups: UnitCgroups): () => Promise<InstanceUsage[]> {
  return async () => {
    const read = await Promise.all((await list()).map(async (i) => ({ instanceId: i.id, runtime: i.runtime, usage: await cgroups.usage(UNIT_PREFIX + i.id) })));
    return read.flatMap((r) => (r.usage ? [{ ...r, usage: r.usage }] : []));
  };
}

/** The cloud's running instances and this host's cgroups of their units. */
export function instanceUsageSource(cloud: Pick<Cloud, 'db' | 'host' | 'dataDir'>): () => Promise<InstanceUsage[]> {
  return instanceUsage(() => runningInstances(cloud.db), unitCgroups(cloud.host.units, join(cloud.dataDir, 'run')));
}

/** Register the per-instance series in `registry`, read from `source` once per scrape. */
export function cgroupMetrics(registry: Registry, source: () => Promise<Iterable<InstanceUsage>>): void {
  // Both series' collect() run at once in a scrape: they share one reading.
  let reading: Promise<InstanceUsage[]> | undefined;
  const read = () => (reading ??= source().then((it) => [...it]).finally(() => { reading = undefined; }));
  const labelled = (list: InstanceUsage[]) => list.filter((u) => isId('i', u.instanceId) && (RUNTIMES as readonly string[]).includes(u.runtime));
  const registers = [registry];
  new Counter({
    name: 'pcloud_instance_cpu_seconds_total', help: 'CPU time used by each running instance\'s processes (its unit\'s cgroup), by instance and runtime',
    labelNames: ['instance_id', 'runtime'], registers,
    async collect() {
      const list = labelled(await read());
      this.reset();
      for (const u of list) if (u.usage.cpuUsec !== undefined) this.inc({ instance_id: u.instanceId, runtime: u.runtime }, u.usage.cpuUsec / 1e6);
    },
  });
  new Gauge({
    name: 'pcloud_instance_memory_bytes', help: 'Memory charged to each running instance\'s unit cgroup (a VM\'s: its RAM as QEMU holds it), by instance and runtime',
    labelNames: ['instance_id', 'runtime'], registers,
    async collect() {
      const list = labelled(await read());
      this.reset();
      for (const u of list) if (u.usage.memoryBytes !== undefined) this.set({ instance_id: u.instanceId, runtime: u.runtime }, u.usage.memoryBytes);
    },
  });
}
