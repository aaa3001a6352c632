/**
 * What runs where, as an operator reads it (`pcloud ps`, `pcloud top`, the per-instance metrics): every account's
 * instances with their Name tag, host and health (DescribeInstanceStatus' rule, instances/health.ts), and every
 * account's functions with their mode, URL and the state of their units. Reads only: the database, and what the host
 * says of the units (asked once for them all) and of running VMs.
 */
import { and, asc, eq, gt, inArray, isNull, ne, or } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { byChunks } from '../db/chunks.js';
import { functions, functionVersions, hosts, instances, tags } from '../db/tables.js';
import { functionFrontName, functionUnitName } from '../host/functions.js';
import type { UnitManager, UnitStatus } from '../host/units/types.js';
import type { VmControl } from '../host/vm-control.js';
import type { CloudConfig } from './config.js';
import { functionKey } from './functions/types.js';
import { embeddedHost, hostIdOf, lostHosts } from './hosts/liveness.js';
import { instanceHealth, type InstanceHealth } from './instances/health.js';
import { needsUnitStatus, needsVmStatus } from './instances/health.js';
import { UNIT_PREFIX, type Instance } from './instances/types.js';

export interface InstanceOverview {
  id: string;
  accountId: string;
  /** Its Name tag ('' without one): the user's text, unescaped. */
  name: string;
  instanceType: string;
  runtime: string;
  state: string;
  privateIp: string;
  publicIp: string | null;
  /** The name of the host it is placed on (undefined: none known). */
  host?: string;
  launchTime: number;
  /** Its health as DescribeInstanceStatus says it (when asked for: `probes`). */
  health?: InstanceHealth;
}

/** What the host is asked for instances' health: their units' states, and running VMs' QEMU. */
export interface HealthProbes {
  units: Pick<UnitManager, 'list'>;
  vms: Pick<VmControl, 'status'>;
}

export interface InstanceQuery {
  /** Terminated instances too (those DescribeInstances still lists); else every other state. */
  all?: boolean;
  /** Only these states. */
  states?: string[];
  /** Ask the host for each instance's health. */
  probes?: HealthProbes;
  now?: number;
}

/** The Name tags of these resources, by resource id (a query per 500 ids: byChunks). */
async function nameTags(db: Pick<Db, 'select'>, ids: string[]): Promise<Map<string, string>> {
  const rows = await byChunks(ids, (chunk) => db.select({ id: tags.resourceId, value: tags.value }).from(tags)
    .where(and(eq(tags.key, 'Name'), inArray(tags.resourceId, chunk))));
  return new Map(rows.map((r) => [r.id, r.value]));
}

/** Each instance's host name, by the instance's host_id (instances from before hosts: the embedded host's). */
async function hostNames(db: Pick<Db, 'select'>): Promise<(hostId: string | null) => string | undefined> {
  const all = await db.select({ id: hosts.id, name: hosts.name, address: hosts.address, createdAt: hosts.createdAt }).from(hosts);
  const embedded = embeddedHost(all);
  const byId = new Map(all.map((h) => [h.id, h.name]));
  return (hostId) => {
    const id = hostIdOf(hostId, embedded);
    return id === undefined ? undefined : byId.get(id);
  };
}

/** Health of each instance, by id: the units asked once for them all, each running VM's QEMU, and the hosts' liveness. */
async function healthOf(db: Pick<Db, 'select'>, rows: Instance[], config: Pick<CloudConfig, 'hosts'>, probes: HealthProbes, now: number): Promise<Map<string, InstanceHealth>> {
  const units = rows.some(needsUnitStatus) ? await probes.units.list(UNIT_PREFIX) : [];
  const byUnit = new Map<string, UnitStatus>(units.map((u) => [u.name, u]));
  const vmStatus = new Map(await Promise.all(rows.filter(needsVmStatus).map(async (r) => [r.id, await probes.vms.status(r.id)] as const)));
  const lost = await lostHosts(db, config.hosts, now);
  return new Map(rows.map((r) => [r.id, instanceHealth(r, { unit: byUnit.get(UNIT_PREFIX + r.id), vmStatus: vmStatus.get(r.id), hostLost: lost(r.hostId) })]));
}

/** Every account's instances, oldest launch first. */
export async function instanceOverview(db: Pick<Db, 'select'>, config: Pick<CloudConfig, 'hosts' | 'terminatedTtlMs'>, q: InstanceQuery = {}): Promise<InstanceOverview[]> {
  const now = q.now ?? Date.now();
  const visible = q.all
    ? or(isNull(instances.terminatedAt), gt(instances.terminatedAt, now - config.terminatedTtlMs))!
    : ne(instances.state, 'terminated');
  const rows = await db.select().from(instances)
    .where(q.states ? and(visible, inArray(instances.state, q.states)) : visible)
    .orderBy(asc(instances.launchTime), asc(instances.reservationId), asc(instances.launchIndex));
  const [names, hostOf, health] = await Promise.all([
    nameTags(db, rows.map((r) => r.id)), hostNames(db),
    q.probes ? healthOf(db, rows, config, q.probes, now) : Promise.resolve(undefined),
  ]);
  return rows.map((r) => ({
    id: r.id, accountId: r.accountId, name: names.get(r.id) ?? '', instanceType: r.instanceType, runtime: r.runtime, state: r.state,
    privateIp: r.privateIp, publicIp: r.publicIp, host: hostOf(r.hostId), launchTime: r.launchTime, health: health?.get(r.id),
  }));
}

/** Every account's running instances: id and runtime (what the per-instance metrics read the cgroups of). */
export async function runningInstances(db: Pick<Db, 'select'>): Promise<{ id: string; runtime: string }[]> {
  return await db.select({ id: instances.id, runtime: instances.runtime }).from(instances).where(eq(instances.state, 'running'));
}

export interface FunctionOverview {
  accountId: string;
  /** The function's name: stored names were checked, old or damaged records may hold anything (render it escaped). */
  name: string;
  runtime: string;
  /** A process per request, or one warm worker. */
  mode: string;
  /** Its URL's id, when it has one (functions/urls.ts' functionUrl makes the address). */
  urlId: string | null;
  /** The units its versions run as ($LATEST and the published ones) the unit manager knows: none until first used. */
  units: { name: string; state: string }[];
}

/** Every account's functions by account and name, with the units of their versions ($LATEST's and published ones). */
export async function functionOverview(db: Pick<Db, 'select'>, units: Pick<UnitManager, 'list'>): Promise<FunctionOverview[]> {
  const rows = await db.select({ accountId: functions.accountId, name: functions.name, runtime: functions.runtime, mode: functions.mode, urlId: functions.urlId })
    .from(functions).orderBy(asc(functions.accountId), asc(functions.name));
  const versions = new Map<string, string[]>();
  for (const v of await db.select({ accountId: functionVersions.accountId, name: functionVersions.name, version: functionVersions.version }).from(functionVersions)) {
    const key = functionKey(v.accountId, v.name, '$LATEST');
    versions.set(key, [...(versions.get(key) ?? []), String(v.version)]);
  }
  const byUnit = new Map((await units.list('pcloud-fn')).map((u) => [u.name, u]));
  return rows.map((r) => {
    const keys = ['$LATEST', ...(versions.get(functionKey(r.accountId, r.name, '$LATEST')) ?? [])].map((v) => functionKey(r.accountId, r.name, v));
    const found = keys.flatMap((k) => [functionUnitName(k), functionFrontName(k)]).flatMap((n) => {
      const u = byUnit.get(n);
      return u ? [{ name: u.name, state: u.state }] : [];
    });
    return { accountId: r.accountId, name: r.name, runtime: r.runtime, mode: r.mode, urlId: r.urlId, units: found };
  });
}
