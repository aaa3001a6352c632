/**
 * Taking down what a data dir started on the host: `pcloud down` (cli/down.ts), the benches (bench/lib.ts) and the
 * test harness (test/support/runs.ts) all do it here.
 *
 * What is the data dir's is known from its own records, never from a name alone: the direct manager's units are those
 * under DATA/run/units; systemd's units and the network namespaces (names host-wide) those whose record in
 * /run/pcloud/owners names this data dir (owners.ts; one with no record is no one's here: left alone); its NFS filter
 * is the table of the port its ganesha.conf says, removed only while nothing listens there (another server's now).
 *
 * stopUnits: every unit stopped (instances, TPMs, function sockets, VPC DNS, nginx, tgtd, ganesha); instances keep
 * their disks, the database stays. purge: also the units forgotten, the namespaces (routers with their overlay,
 * uplinks and edges; instances') removed, the NFS filter, every mount under the data dir (NFS exports, the pool), then
 * the data dir's entries (a symlink there is removed, never followed). The host's tables every pcloud shares (`ip pcloud`,
 * `inet pcloud_host`, `inet pcloud_sandbox`, `inet pcloud_vxlan`) stay: another data dir's server may need them.
 *
 * takeDown is `pcloud down`'s whole: refused on what is not a data dir, and while a server holds it (datalock.ts; held
 * by `down` itself while it works, so none starts meanwhile). Units it stops are as a boot leaves them: the next
 * server on the data dir finds its record (takenDown) and brings back the instances that ran, as after a reboot.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { HostConfig } from './config.js';
import { dataDirHolder, DataDirInUseError, lockDataDir, releaseDataDir } from './datalock.js';
import { run } from './exec.js';
import { nsPath, uplinkName } from './network.js';
import { hostFilterTable } from './nfs.js';
import { Owners } from './owners.js';
import { portFree } from './ports.js';
import { DirectUnitManager } from './units/direct.js';
import { systemdIsPid1 } from './units/index.js';
import { SystemdUnitManager } from './units/systemd.js';
import { isFinal, type UnitManager } from './units/types.js';
import { hostTempName, leaveOverlay } from './vxlan.js';

export type TeardownSettings = Partial<Pick<HostConfig, 'systemdUnitDir' | 'sandboxUidDir'>>;

export interface DownReport {
  /** The data dir, resolved. */
  dataDir: string;
  /** There is no such directory (nothing of it can run). */
  absent?: boolean;
  /** Units that were running and were stopped. */
  stopped: string[];
  /** Instance units among them (the next server brings those instances back). */
  instances: string[];
  /** With purge: network namespaces removed, nft tables removed, mounts unmounted, whether the data dir's files went. */
  namespaces: string[];
  tables: string[];
  mounts: string[];
  removed: boolean;
}

/** A data dir's units, stopped in this order: instances before what serves them, host services last. */
const STOP_ORDER = ['pcloud-instance@', 'pcloud-tpm@', 'pcloud-fn', 'pcloud-dns@', 'pcloud-nginx', 'pcloud-iscsi', 'pcloud-nfs'];

/** The units in the order they are stopped (names of no known kind go with the host services, last). */
export function stopOrder(names: string[]): string[][] {
  const rank = (n: string) => {
    const i = STOP_ORDER.findIndex((p) => n.startsWith(p));
    return i < 0 ? STOP_ORDER.length : i;
  };
  const waves: string[][] = [];
  for (const n of [...names].sort()) (waves[rank(n)] ??= []).push(n);
  return waves.filter(Boolean);
}

/** A mount point as /proc/self/mountinfo writes it (space, tab, newline and backslash as octal escapes). */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mount points in `mountinfo` at or under `dir` (resolved), deepest first. */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  const points = mountinfo.split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => Boolean(m)).map(unescapeMount);
  const under = points.filter((m) => m === dir || m.startsWith(`${dir}/`));
  return [...new Set(under)].sort((a, b) => b.length - a.length);
}

/** The NFS port a data dir's ganesha was configured with, if it ever ran. */
export function nfsPortOf(ganeshaConf: string): number | undefined {
  const port = /^\s*NFS_Port = (\d+);/m.exec(ganeshaConf)?.[1];
  return port ? Number(port) : undefined;
}

/** Where a data dir took down (not purged) says so: the next server's reconcile reads it (Cloud.start). */
const takenDownFile = (dataDir: string) => join(dataDir, 'run', 'taken-down');

/** Whether `pcloud down` stopped this data dir's units since its last server started (every unit gone, as at a boot). */
export function takenDown(dataDir: string): Promise<boolean> {
  return readFile(takenDownFile(dataDir)).then(() => true, () => false);
}

/** Say so in the data dir: `instances` (their units) were stopped by `pcloud down`. */
export async function recordTakenDown(dataDir: string, instances: string[]): Promise<void> {
  await mkdir(join(dataDir, 'run'), { recursive: true });
  await writeFile(takenDownFile(dataDir), `${JSON.stringify({ at: new Date().toISOString(), instances })}\n`);
}

/** The record read: the server that reconciled has brought back what was taken down. */
export async function clearTakenDown(dataDir: string): Promise<void> {
  await rm(takenDownFile(dataDir), { force: true });
}

/** How many units are stopped at once (each waits for its processes to end). */
const STOPS_AT_ONCE = 16;

/** fn over every item, at most `n` at a time. */
async function eachAtOnce<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** The unit managers that may hold a data dir's units: its direct manager's, and systemd's (where PID 1 is systemd). */
function managers(dataDir: string, settings: TeardownSettings): { units: UnitManager; names: () => Promise<string[]> }[] {
  const out: { units: UnitManager; names: () => Promise<string[]> }[] = [];
  if (existsSync(join(dataDir, 'run', 'units'))) {
    // Not reviving (only the server does), not watching (never init()): it only stops and forgets.
    const direct = new DirectUnitManager(join(dataDir, 'run'), { dataDir, sandboxUidDir: settings.sandboxUidDir });
    out.push({
      units: direct,
      names: async () => {
        // After a reboot, a unit's record of the last boot names no process: none is signalled for it.
        await direct.forgetLastBoot();
        return (await direct.list('')).map((u) => u.name);
      },
    });
  }
  if (systemdIsPid1()) {
    const owners = new Owners('units', dataDir);
    out.push({ units: new SystemdUnitManager(dataDir, settings.systemdUnitDir), names: () => owners.recorded() });
  }
  return out;
}

/**
 * Stop every unit the data dir started (and, with `forget`, remove them: their records, logs, cgroups, users, owner
 * records); resolves to those that were running.
 */
export async function stopUnits(dataDir: string, settings: TeardownSettings = {}, forget = false): Promise<string[]> {
  const dir = resolve(dataDir);
  const stopped: string[] = [];
  for (const { units, names } of managers(dir, settings)) {
    try {
      for (const wave of stopOrder(await names())) {
        await eachAtOnce(wave, STOPS_AT_ONCE, async (name) => {
          const st = await units.status(name);
          if (st && !isFinal(st.state)) {
            await units.stop(name);
            stopped.push(name);
          }
          if (forget) await units.remove(name);
        });
      }
    } finally {
      units.close();
    }
  }
  return stopped.sort();
}

/** The data dir's network namespaces removed (routers with their overlay and host links), by their records. */
async function removeNamespaces(dataDir: string): Promise<string[]> {
  const owners = new Owners('netns', dataDir);
  const removed: string[] = [];
  for (const ns of (await owners.recorded()).sort()) {
    const vpcId = ns.startsWith('pcloud-vpc-') ? ns.slice('pcloud-'.length) : undefined;
    if (vpcId) await leaveOverlay(vpcId, ns).catch(() => undefined);
    const existed = existsSync(nsPath(ns));
    if (existed) await run('ip', ['netns', 'del', ns], { reject: false });
    if (vpcId) {
      // Its uplink's host end (gone with the namespace, unless a process still held it) and links half made for it.
      for (const link of [uplinkName(vpcId), `pe${vpcId.slice(4, 16)}`, hostTempName(vpcId)]) {
        if (existsSync(`/sys/class/net/${link}`)) await run('ip', ['link', 'del', link], { reject: false });
      }
    }
    await owners.release(ns);
    if (existed) removed.push(ns);
  }
  return removed;
}

/** Its NFS port's filter (an nft table named by the port), unless another server now serves NFS on that port. */
async function removeNfsFilter(dataDir: string): Promise<string[]> {
  const port = nfsPortOf(await readFile(join(dataDir, 'run/nfs/ganesha.conf'), 'utf8').catch(() => ''));
  if (port === undefined || !(await portFree('0.0.0.0', port))) return [];
  const table = hostFilterTable(port);
  const res = await run('nft', ['delete', 'table', 'inet', table], { reject: false });
  return res.exitCode === 0 ? [`inet ${table}`] : [];
}

export interface PurgeResult {
  namespaces: string[];
  tables: string[];
  mounts: string[];
  /** False (nothing deleted) while something stays mounted under the data dir. */
  removed: boolean;
}

/**
 * All a data dir holds on the host taken down (units stopped and forgotten, NFS filter, namespaces, mounts), then its
 * entries deleted but `keep`; nothing is deleted while a mount under it stays.
 */
export async function purge(dataDir: string, settings: TeardownSettings = {}, keep?: string): Promise<PurgeResult & { stopped: string[] }> {
  const dir = resolve(dataDir);
  const stopped = await stopUnits(dir, settings, true);
  const tables = await removeNfsFilter(dir);
  const namespaces = await removeNamespaces(dir);
  // Volumes loop-mounted for NFS, then the pool: deepest first.
  const mounts = mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), dir);
  for (const m of mounts) await run('umount', ['-l', m], { reject: false });
  const removed = !existsSync(dir) ? true : mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), dir).length === 0;
  if (removed && existsSync(dir)) {
    // rm never follows a symlink: one in the data dir goes, what it points to stays.
    for (const entry of readdirSync(dir)) if (entry !== keep) rmSync(join(dir, entry), { recursive: true, force: true });
  }
  return { stopped, namespaces, tables, mounts, removed };
}

/** Why `dir` is not a data dir `pcloud down` may take down, or undefined when it is one. */
export function notADataDir(dir: string): string | undefined {
  if (dir === '/') return 'the root directory is no data dir';
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (st.isSymbolicLink()) return 'it is a symbolic link: give the data dir\'s own path';
  if (!st.isDirectory()) return 'it is not a directory';
  // SQLite's database; or, with the state in PostgreSQL, the lock every server takes and the run dir it makes.
  const has = (name: string) => existsSync(join(dir, name));
  if (has('pcloud.db') || (has('lock') && has('run'))) return undefined;
  return 'it holds no pcloud.db and no server ran on it';
}

export class NotADataDirError extends Error {}

/**
 * `pcloud down`: refused on what is not a pcloud data dir and while a server holds it; the units stopped (with
 * `purge`, everything taken down and its files deleted). A data dir that does not exist has nothing running.
 */
export async function takeDown(dataDir: string, opts: { purge?: boolean; settings?: TeardownSettings } = {}): Promise<DownReport> {
  const dir = resolve(dataDir);
  const why = notADataDir(dir);
  if (why) throw new NotADataDirError(`${dir} is not a pcloud data dir (${why}): nothing was taken down`);
  const report: DownReport = { dataDir: dir, stopped: [], instances: [], namespaces: [], tables: [], mounts: [], removed: false };
  if (!existsSync(dir)) return { ...report, absent: true };
  const holder = await dataDirHolder(dir);
  if (holder) throw new DataDirInUseError(inUse(dir, holder));
  try {
    await lockDataDir(dir, 'pcloud down');
  } catch (err) {
    if (err instanceof DataDirInUseError) throw new DataDirInUseError(inUse(dir, (await dataDirHolder(dir)) ?? 'another pcloud'));
    throw err;
  }
  try {
    if (opts.purge) {
      Object.assign(report, await purge(dir, opts.settings));
      // The data dir itself once it is empty (its lock file went with the rest).
      if (report.removed) rmSync(dir, { recursive: true, force: true });
    } else {
      report.stopped = await stopUnits(dir, opts.settings);
    }
    report.instances = report.stopped.filter((n) => n.startsWith('pcloud-instance@'));
    if (!opts.purge && report.instances.length) await recordTakenDown(dir, report.instances);
  } finally {
    await releaseDataDir(dir);
  }
  return report;
}

/** What a held data dir's `down` says: who holds it and how to stop it (nothing of a live server's is touched). */
function inUse(dir: string, holder: string): string {
  const pid = /pid (\d+)/.exec(holder)?.[1];
  const how = pid ? `stop it first (kill -TERM ${pid}, or systemctl stop pcloud where it runs as that service)` : 'stop it first';
  return `data dir ${dir} is in use by ${holder}: ${how}, then run pcloud down again; nothing was stopped`;
}
