/**
 * Placement: which host each instance of a launch goes to. A host qualifies when it serves the launch's availability
 * zone, takes instances (available, heard from: liveness.ts), runs the type's runtime, and has room: the vCPUs and
 * memory of the instances it holds (pending, running, stopping) plus the new one stay within its own times the
 * over-commit ratios (CloudConfig.hosts). Instances spread: each goes to the host with room for the most more of its
 * type, ties to the lower host id. A launch places at least MinCount (else nothing: InsufficientInstanceCapacity, as
 * EC2 words it) and up to MaxCount.
 *
 * Zones are host groups: a host serves the zone of its row. An embedded cloud's own host (no underlay address) also
 * serves every zone no host of its own serves, so a one-host cloud launches in every configured zone, as it always
 * has, and a zone gets hosts of its own as they join.
 *
 * Callers run this in the transaction that inserts the instances (write-locked from its start: src/db/index.ts): the
 * counts it reads cannot change before the rows that use them are written, whichever server on the database writes next.
 */
import { count, inArray } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { hosts, instances } from '../../db/tables.js';
import { instanceTypes, type InstanceType, type Runtime } from '../catalog.js';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import { COUNTED } from '../instances/types.js';
import { embeddedHost, hostIdOf, isEmbedded, takesInstances } from './liveness.js';
import type { HostRow } from './registry.js';

/** What the instances on a host hold (pending, running, stopping), and how many they are. */
export interface HostUsage {
  vcpus: number;
  memoryMiB: number;
  instances: number;
}

type Reader = Pick<Db, 'select'>;

/** What the instances on each host hold, by host id (instances from before hosts were: on the embedded host). */
export async function hostUsage(db: Reader, known?: HostRow[]): Promise<Map<string, HostUsage>> {
  const all = known ?? await db.select().from(hosts);
  const embedded = embeddedHost(all);
  const out = new Map<string, HostUsage>();
  const rows = await db.select({ hostId: instances.hostId, type: instances.instanceType, n: count() }).from(instances)
    .where(inArray(instances.state, COUNTED)).groupBy(instances.hostId, instances.instanceType);
  for (const r of rows) {
    const id = hostIdOf(r.hostId, embedded);
    if (!id) continue;
    const t = instanceTypes.get(r.type);
    const u = out.get(id) ?? { vcpus: 0, memoryMiB: 0, instances: 0 };
    u.vcpus += r.n * (t?.vcpus ?? 0);
    u.memoryMiB += r.n * (t?.memoryMiB ?? 0);
    u.instances += r.n;
    out.set(id, u);
  }
  return out;
}

/** What a host may hold: its own vCPUs and memory times the over-commit ratios. */
export function hostLimits(host: Pick<HostRow, 'vcpus' | 'memoryMiB'>, config: CloudConfig['hosts']): { vcpus: number; memoryMiB: number } {
  return { vcpus: host.vcpus * config.cpuOvercommit, memoryMiB: host.memoryMiB * config.memoryOvercommit };
}

/**
 * The hosts of a zone: those whose row names it (not removed ones); a zone none names falls to the embedded cloud's own
 * host.
 */
export function zoneHosts(all: HostRow[], zone: string): HostRow[] {
  const own = all.filter((h) => h.availabilityZone === zone && h.state !== 'removed');
  return own.length ? own : all.filter(isEmbedded);
}

/** What a launch asks for: instances of a type on a runtime, in a zone, MinCount..MaxCount of them. */
export interface PlacementRequest {
  type: InstanceType;
  runtime: Runtime;
  zone: string;
  min: number;
  max: number;
}

interface Candidate {
  id: string;
  freeVcpus: number;
  freeMemoryMiB: number;
}

/** How many more instances of the type a candidate has room for (a hair of slack for ratios like 1.1). */
function roomFor(c: Candidate, type: InstanceType): number {
  return Math.max(0, Math.min(Math.floor(c.freeVcpus / type.vcpus + 1e-9), Math.floor(c.freeMemoryMiB / type.memoryMiB + 1e-9)));
}

/** The hosts of the zone that could take the type now, with the room each has left. */
function candidates(all: HostRow[], usage: Map<string, HostUsage>, req: Pick<PlacementRequest, 'runtime' | 'zone'>, config: CloudConfig, now: number): Candidate[] {
  return zoneHosts(all, req.zone)
    .filter((h) => h.runtimes.includes(req.runtime) && takesInstances(h, config.hosts, now))
    .map((h) => {
      const limits = hostLimits(h, config.hosts);
      const used = usage.get(h.id) ?? { vcpus: 0, memoryMiB: 0, instances: 0 };
      return { id: h.id, freeVcpus: limits.vcpus - used.vcpus, freeMemoryMiB: limits.memoryMiB - used.memoryMiB };
    });
}

/** Up to `max` instances of the type spread over the candidates, most room first; the host id of each. */
function spread(cands: Candidate[], type: InstanceType, max: number): string[] {
  const out: string[] = [];
  while (out.length < max) {
    let best: Candidate | undefined;
    let bestRoom = 0;
    for (const c of cands) {
      const room = roomFor(c, type);
      if (room > bestRoom || (room === bestRoom && room > 0 && best && c.id < best.id)) {
        best = c;
        bestRoom = room;
      }
    }
    if (!best) break;
    out.push(best.id);
    best.freeVcpus -= type.vcpus;
    best.freeMemoryMiB -= type.memoryMiB;
  }
  return out;
}

/**
 * The host of each instance of a launch: at least req.min of them, up to req.max; else Unsupported (no host of the zone
 * runs the type's runtime) or InsufficientInstanceCapacity, naming the zones that have room.
 */
export async function place(db: Reader, config: CloudConfig, req: PlacementRequest, now = Date.now()): Promise<string[]> {
  const all = await db.select().from(hosts);
  const usage = await hostUsage(db, all);
  const placed = spread(candidates(all, usage, req, config, now), req.type, req.max);
  if (placed.length >= req.min) return placed;
  const others = config.availabilityZones.filter((z) => z !== req.zone
    && spread(candidates(all, usage, { ...req, zone: z }, config, now), req.type, req.min).length >= req.min);
  if (!zoneHosts(all, req.zone).some((h) => h.runtimes.includes(req.runtime))) throw unsupportedIn(req, others);
  throw insufficientCapacity(req.type.name, req.zone, others);
}

/**
 * EC2's words when a zone has no room for the type, without its promise that more is being provisioned (nothing is
 * here): what the caller can do instead.
 */
export function insufficientCapacity(typeName: string, zone: string, others: string[]): CloudError {
  const instead = others.length
    ? `You can currently get ${typeName} capacity by launching into a subnet in ${others.join(', ')}.`
    : 'Try again after instances there stop or terminate, launch fewer or a smaller instance type, or ask the operator of this cloud to add hosts.';
  return new CloudError('InsufficientInstanceCapacity', `We currently do not have sufficient ${typeName} capacity in the Availability Zone you requested (${zone}). ${instead}`);
}

/** EC2's words for a type no host of the zone can run (none has its runtime's programs). */
function unsupportedIn(req: PlacementRequest, others: string[]): CloudError {
  const instead = others.length
    ? `Please retry your request by launching into a subnet in ${others.join(', ')}.`
    : `No host in ${req.zone} runs ${req.runtime} instances: choose an instance type of another family, or ask the operator of this cloud for such a host.`;
  return new CloudError('Unsupported', `Your requested instance type (${req.type.name}) is not supported in your requested Availability Zone (${req.zone}). ${instead}`);
}

/**
 * StartInstances: whether the hosts of these stopped instances take them all again. Each stays on its host (its root
 * volume is there): a host that is lost, drained or full refuses with InsufficientInstanceCapacity, the first
 * instance that does not fit named.
 */
export async function checkRoomToStart(db: Reader, config: CloudConfig, rows: StoppedInstance[], now = Date.now()): Promise<void> {
  if (!rows.length) return;
  const all = await db.select().from(hosts);
  const usage = await hostUsage(db, all);
  const embedded = embeddedHost(all);
  const byId = new Map(all.map((h) => [h.id, h]));
  const adding = new Map<string, { vcpus: number; memoryMiB: number }>();
  for (const r of rows) {
    const type = instanceTypes.get(r.instanceType);
    if (!type) continue;
    const host = byId.get(hostIdOf(r.hostId, embedded) ?? '');
    if (host?.state === 'removed') throw startRefused(r, 'that host has been removed from this cloud: the instance can only be terminated.');
    if (!host || !takesInstances(host, config.hosts, now)) {
      throw startRefused(r, 'that host is not taking instances now (it has not been heard from lately, or its operator drains it). Try again later.');
    }
    const add = adding.get(host.id) ?? { vcpus: 0, memoryMiB: 0 };
    add.vcpus += type.vcpus;
    add.memoryMiB += type.memoryMiB;
    adding.set(host.id, add);
    const limits = hostLimits(host, config.hosts);
    const used = usage.get(host.id) ?? { vcpus: 0, memoryMiB: 0, instances: 0 };
    if (used.vcpus + add.vcpus > limits.vcpus + 1e-9 || used.memoryMiB + add.memoryMiB > limits.memoryMiB + 1e-9) {
      throw startRefused(r, 'that host has no room for it now. Try again after instances there stop or terminate, or change its instance type to a smaller one.');
    }
  }
}

/** A stopped instance StartInstances would start again. */
export interface StoppedInstance {
  id: string;
  hostId: string | null;
  instanceType: string;
  availabilityZone: string;
}

function startRefused(r: StoppedInstance, why: string): CloudError {
  return new CloudError('InsufficientInstanceCapacity', `We currently do not have sufficient ${r.instanceType} capacity in the Availability Zone of the instance '${r.id}' `
    + `(${r.availabilityZone}): a stopped instance starts again on the host that keeps its root volume, and ${why}`);
}
