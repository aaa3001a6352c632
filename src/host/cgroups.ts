/**
 * What a unit's processes use, read from its cgroup: CPU time and memory (`pcloud top`, `pcloud ps`, /metrics). A
 * container's unit holds nspawn and everything in the container; a VM's holds QEMU, whose memory is the guest's RAM as
 * QEMU holds it. Both counters are hierarchical, so the cgroups nspawn makes below its own are counted too.
 *
 * Where a unit's cgroup is depends on its manager: systemd puts a service of no Slice= in `system.slice/NAME.service`,
 * and an instantiated one (`pcloud-instance@i-…`) in its template's slice below it,
 * `system.slice/system-pcloud\x2dinstance.slice/NAME.service`; the direct manager's supervisor in `pcloud/NAME.DIGEST`
 * (units/proc.ts' unitCgroup). And
 * on the host's hierarchies: cgroup v2 (`cpu.stat` usage_usec, `memory.current`, `memory.max`, `memory.peak`), or v1 /
 * hybrid, where CPU time is the unified hierarchy's `cpu.stat` (it is kept for every cgroup, controller or not) or
 * cpuacct's, and memory the memory controller's. What a host does not keep is left out, never made up.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { unitCgroup } from './units/proc.js';
import type { UnitManager } from './units/types.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** One reading of a unit's cgroup; a value the host does not keep is absent. */
export interface CgroupUsage {
  /** CPU time its processes have used, in microseconds (user and system). */
  cpuUsec?: number;
  /** Memory charged to it now, in bytes (its processes' memory, page cache included, as the kernel charges it). */
  memoryBytes?: number;
  /** Its memory limit in bytes; absent when unlimited. */
  memoryMaxBytes?: number;
  /** The most memory charged to it at once since it started, in bytes. */
  memoryPeakBytes?: number;
  /** When it was read (ms, monotonic: only differences between readings mean anything). */
  at: number;
}

/** Reads units' cgroups. */
export interface UnitCgroups {
  /** The unit's usage now, or undefined when it has no cgroup here (not running, or on another host). */
  usage(unit: string): Promise<CgroupUsage | undefined>;
}

/** A name as systemd escapes it into a unit name (unit_name_escape): `-`, a leading `.` and anything but [A-Za-z0-9:_.] as \xNN per byte. */
export function systemdEscape(name: string): string {
  return name.replace(/^\.|[^A-Za-z0-9:_.]/gu, (c) => [...Buffer.from(c)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join(''));
}

/**
 * A unit's cgroup relative to a hierarchy's root, under the manager that runs it (`runDir`: the data dir's run/):
 * systemd places an instantiated unit (NAME@INSTANCE) in its template's own slice (unit_set_default_slice), any other
 * in system.slice.
 */
export function unitCgroupPath(kind: UnitManager['kind'], runDir: string, unit: string): string {
  if (kind === 'direct') return unitCgroup(join(resolve(runDir, 'units'), unit), unit);
  const at = unit.indexOf('@');
  return at > 0 ? `system.slice/system-${systemdEscape(unit.slice(0, at))}.slice/${unit}.service` : `system.slice/${unit}.service`;
}

/** The readers of this host's unit cgroups (`root` elsewhere: tests' fixture trees). */
export function unitCgroups(units: Pick<UnitManager, 'kind'>, runDir: string, root = CGROUP_ROOT): UnitCgroups {
  return new CgroupReader((unit) => unitCgroupPath(units.kind, runDir, unit), root);
}

/** A flat-keyed cgroup file (`cpu.stat`, `memory.stat`): its keys and their numbers. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value, ...rest] = line.trim().split(/\s+/);
    if (key && value !== undefined && !rest.length && /^\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

/** v1's "no limit": a page-rounded LONG_MAX, or anything near it. */
const V1_UNLIMITED = 2 ** 62;

/** A single-value cgroup file: its number, undefined for `max` (no limit) or anything else. */
export function parseSingle(text: string): number | undefined {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

const read = (path: string): Promise<string | undefined> => readFile(path, 'utf8').catch(() => undefined);
const single = async (path: string) => {
  const text = await read(path);
  return text === undefined ? undefined : parseSingle(text);
};

export class CgroupReader implements UnitCgroups {
  /** cgroup v2 alone (the root has cgroup.controllers), else v1 or hybrid. */
  private readonly v2: boolean;

  constructor(private readonly locate: (unit: string) => string, private readonly root = CGROUP_ROOT) {
    this.v2 = existsSync(join(root, 'cgroup.controllers'));
  }

  async usage(unit: string): Promise<CgroupUsage | undefined> {
    const rel = this.locate(unit);
    const at = performance.now();
    const u = this.v2 ? await this.readV2(join(this.root, rel)) : await this.readV1(rel);
    return u.cpuUsec === undefined && u.memoryBytes === undefined ? undefined : { ...u, at };
  }

  private async readV2(dir: string): Promise<Omit<CgroupUsage, 'at'>> {
    const [stat, current, max, peak] = await Promise.all([
      read(join(dir, 'cpu.stat')), single(join(dir, 'memory.current')), single(join(dir, 'memory.max')), single(join(dir, 'memory.peak')),
    ]);
    return { cpuUsec: stat === undefined ? undefined : parseFlatKeyed(stat).get('usage_usec'), memoryBytes: current, memoryMaxBytes: max, memoryPeakBytes: peak };
  }

  private async readV1(rel: string): Promise<Omit<CgroupUsage, 'at'>> {
    const memory = join(this.root, 'memory', rel);
    const [cpuUsec, current, limit, peak] = await Promise.all([
      this.cpuV1(rel), single(join(memory, 'memory.usage_in_bytes')), single(join(memory, 'memory.limit_in_bytes')),
      single(join(memory, 'memory.max_usage_in_bytes')),
    ]);
    return { cpuUsec, memoryBytes: current, memoryMaxBytes: limit !== undefined && limit < V1_UNLIMITED ? limit : undefined, memoryPeakBytes: peak };
  }

  /** CPU time on v1/hybrid: the unified hierarchy's cpu.stat, else cpuacct's counter (nanoseconds). */
  private async cpuV1(rel: string): Promise<number | undefined> {
    const stat = await read(join(this.root, 'unified', rel, 'cpu.stat'));
    const usec = stat === undefined ? undefined : parseFlatKeyed(stat).get('usage_usec');
    if (usec !== undefined) return usec;
    for (const h of ['cpuacct', 'cpu,cpuacct']) {
      const ns = await single(join(this.root, h, rel, 'cpuacct.usage'));
      if (ns !== undefined) return Math.floor(ns / 1000);
    }
    return undefined;
  }
}

/**
 * CPU use between two readings of one unit, in percent of one CPU (200: two CPUs busy), as top shows it; undefined
 * without both CPU times, or when the counter went back (the unit started again in between).
 */
export function cpuPercent(before: CgroupUsage | undefined, after: CgroupUsage | undefined): number | undefined {
  if (before?.cpuUsec === undefined || after?.cpuUsec === undefined) return undefined;
  const used = after.cpuUsec - before.cpuUsec;
  const elapsedUsec = (after.at - before.at) * 1000;
  if (used < 0 || elapsedUsec <= 0) return undefined;
  return (used / elapsedUsec) * 100;
}
