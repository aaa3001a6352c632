/**
 * What a boot costs the host, read from the kernel: a unit's cgroup (its CPU time, its memory), the server's own
 * process (its CPU time and its reaped children's: the host commands it runs), the whole machine's CPU (/proc/stat,
 * to say what else was running). The parsers are pure (tested in test/unit/bench-cost.test.ts); the readers return
 * undefined where a file is not there, never a guess.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { unitCgroup } from '../src/host/units/proc.js';
import { round } from './lib.js';

/** `key value` lines (cpu.stat, memory.stat) as numbers; a line that is not one is skipped. */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v, extra] = line.trim().split(/\s+/);
    if (!k || v === undefined || extra !== undefined || !/^\d+$/.test(v)) continue;
    out.set(k, Number(v));
  }
  return out;
}

/**
 * /proc/PID/stat's CPU fields, in clock ticks: utime and stime (the process) and cutime and cstime (its children it
 * waited for). The command name (field 2) may hold spaces and parentheses: fields are counted after its last `)`.
 */
export function parseProcStatTicks(text: string): { self: number; children: number } {
  const rest = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const f = (n: number) => Number(rest[n - 3]);
  const [utime, stime, cutime, cstime] = [f(14), f(15), f(16), f(17)];
  if (![utime, stime, cutime, cstime].every(Number.isFinite)) throw new Error('not a /proc/PID/stat line');
  return { self: utime + stime, children: cutime + cstime };
}

/** /proc/stat's `cpu` line: ticks busy (all but idle and iowait) and in all, every core together. */
export function parseProcStatCpu(text: string): { busy: number; total: number } {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are counted in user and nice already).
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** Clock ticks per second (USER_HZ): 100 on every Linux this runs on; asked of getconf once. */
let hz: number | undefined;
export function ticksPerSecond(): number {
  hz ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return hz;
}

const read = (path: string): string | undefined => {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
};

/** The cgroup v2 hierarchy: / on a v2 host, /unified on a hybrid one (whose cpu.stat counts time with no controller). */
function v2Root(): string {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
}

/** Where a unit's cgroup is, relative to a hierarchy's root: systemd's ControlGroup, or the direct manager's. */
export function unitCgroupPath(dataDir: string, unit: string): string | undefined {
  if (existsSync('/run/systemd/system')) {
    try {
      const cg = execFileSync('systemctl', ['show', '-P', 'ControlGroup', `${unit}.service`], { encoding: 'utf8' }).trim();
      return cg ? cg.replace(/^\//, '') : undefined;
    } catch {
      return undefined;
    }
  }
  return unitCgroup(join(resolve(dataDir), 'run', 'units', unit), unit);
}

/** CPU seconds the unit's cgroup (its whole subtree) has used, or undefined where there is none. */
export function cgroupCpuSeconds(cg: string): number | undefined {
  const v2 = read(join(v2Root(), cg, 'cpu.stat'));
  const usec = v2 === undefined ? undefined : parseKeyValues(v2).get('usage_usec');
  if (usec !== undefined) return usec / 1e6;
  const v1 = read(join('/sys/fs/cgroup/cpuacct', cg, 'cpuacct.usage'));
  return v1 === undefined ? undefined : Number(v1) / 1e9;
}

export interface MemoryUse {
  /** memory.current (v2) or memory.usage_in_bytes (v1): everything charged, page cache included. */
  bytes: number;
  /** Of it, anonymous memory (the processes' own) and file pages (page cache: shared image files, logs). */
  anonBytes?: number;
  fileBytes?: number;
}

/** The memory charged to a cgroup (its subtree), or undefined where the hierarchy has no memory controller for it. */
export function cgroupMemory(cg: string): MemoryUse | undefined {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const cur = read(join('/sys/fs/cgroup', cg, 'memory.current'));
    if (cur === undefined) return undefined;
    const st = parseKeyValues(read(join('/sys/fs/cgroup', cg, 'memory.stat')) ?? '');
    return { bytes: Number(cur), anonBytes: st.get('anon'), fileBytes: st.get('file') };
  }
  const usage = read(join('/sys/fs/cgroup/memory', cg, 'memory.usage_in_bytes'));
  if (usage === undefined) return undefined;
  const st = parseKeyValues(read(join('/sys/fs/cgroup/memory', cg, 'memory.stat')) ?? '');
  return { bytes: Number(usage), anonBytes: st.get('total_rss'), fileBytes: st.get('total_cache') };
}

/** CPU seconds of a live process and of the children it reaped. */
export function processCpuSeconds(pid: number): { self: number; children: number } {
  const t = parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return { self: t.self / ticksPerSecond(), children: t.children / ticksPerSecond() };
}

/** The machine's CPU seconds, busy and in all (every core). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const t = parseProcStatCpu(readFileSync('/proc/stat', 'utf8'));
  return { busy: t.busy / ticksPerSecond(), total: t.total / ticksPerSecond() };
}

/** The data dir's units (the direct manager's unit directories): every unit the server runs for it. */
export function dataDirUnits(dataDir: string): string[] {
  try { return readdirSync(join(dataDir, 'run', 'units')); } catch { return []; }
}

/**
 * A snapshot of what the host spent so far, for one launch: the server (itself and its reaped children: ip, btrfs,
 * nft...), the shared units (metadata, DNS, nginx: every unit that is not an instance) and the given instances' units.
 */
export interface CostSnapshot { serverS: number; sharedS: number; instancesS: Map<string, number>; machine: { busy: number; total: number } }

export const INSTANCE_UNIT = (id: string) => `pcloud-instance@${id}`;

export function snapshot(dataDir: string, serverPid: number, ids: string[]): CostSnapshot {
  const server = processCpuSeconds(serverPid);
  let sharedS = 0;
  for (const u of dataDirUnits(dataDir)) {
    if (u.startsWith(INSTANCE_UNIT(''))) continue;
    const cg = unitCgroupPath(dataDir, u);
    sharedS += (cg && cgroupCpuSeconds(cg)) || 0;
  }
  const instancesS = new Map<string, number>();
  for (const id of ids) {
    const cg = unitCgroupPath(dataDir, INSTANCE_UNIT(id));
    const s = cg ? cgroupCpuSeconds(cg) : undefined;
    if (s !== undefined) instancesS.set(id, s);
  }
  return { serverS: server.self + server.children, sharedS, instancesS, machine: machineCpuSeconds() };
}

export interface BootCost {
  /** The instance's unit (supervisor, nspawn, the container), the server (less the bench's polls), shared units. */
  unitS: number;
  serverS: number;
  sharedS: number;
  totalS: number;
}

/** What the host spent between two snapshots on one instance, the bench's polls taken out of the server's part. */
export function bootCost(before: CostSnapshot, after: CostSnapshot, id: string, polls: number, perPollS: number): BootCost {
  const unitS = after.instancesS.get(id) ?? NaN;
  const serverS = Math.max(0, after.serverS - before.serverS - polls * perPollS);
  const sharedS = after.sharedS - before.sharedS;
  return { unitS: round(unitS, 3), serverS: round(serverS, 3), sharedS: round(sharedS, 3), totalS: round(unitS + serverS + sharedS, 3) };
}

/** The host CPU a launch took (s): every instance's unit, the server (polls and all), the shared units. */
export function fleetCpu(before: CostSnapshot, after: CostSnapshot) {
  const units = [...after.instancesS.values()].reduce((a, b) => a + b, 0);
  const serverS = after.serverS - before.serverS;
  const sharedS = after.sharedS - before.sharedS;
  return { unitsS: round(units, 2), serverS: round(serverS, 2), sharedS: round(sharedS, 2), totalS: round(units + serverS + sharedS, 2), perInstanceS: round((units + serverS + sharedS) / Math.max(1, after.instancesS.size), 3) };
}

/** An instance unit's memory now. */
export function instanceMemory(dataDir: string, id: string): MemoryUse | undefined {
  const cg = unitCgroupPath(dataDir, INSTANCE_UNIT(id));
  return cg ? cgroupMemory(cg) : undefined;
}

/** Every process's CPU ticks (itself only) by pid, with its command name. */
function processTicks(): Map<number, { comm: string; ticks: number }> {
  const out = new Map<number, { comm: string; ticks: number }>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const text = read(`/proc/${p}/stat`);
    if (!text) continue;
    try {
      out.set(Number(p), { comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), ticks: parseProcStatTicks(text).self });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** CPU ticks between two process tables, summed by command name, largest first (a process new in `after` counts whole). */
export function topCommands(before: Map<number, { comm: string; ticks: number }>, after: Map<number, { comm: string; ticks: number }>, n: number): [string, number][] {
  const by = new Map<string, number>();
  for (const [pid, a] of after) {
    const b = before.get(pid);
    const d = b && b.comm === a.comm ? a.ticks - b.ticks : a.ticks;
    if (d > 0) by.set(a.comm, (by.get(a.comm) ?? 0) + d);
  }
  return [...by.entries()].sort((x, y) => y[1] - x[1]).slice(0, n);
}

/**
 * What the machine did while a part ran, to say what else was running (other work shares these cores): how busy it
 * was, its load, and the commands that took the most CPU (ours included; processes that ended meanwhile are not seen).
 */
export function machineWatch() {
  const t0 = performance.now();
  const cpu0 = machineCpuSeconds();
  const procs0 = processTicks();
  const load0 = loadavg();
  return {
    end() {
      const cpu1 = machineCpuSeconds();
      return {
        cores: cpus().length,
        wallS: Math.round((performance.now() - t0) / 10) / 100,
        busyShare: Math.round(((cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total)) * 100) / 100,
        loadavgAtStart: load0.map((l) => Math.round(l * 100) / 100),
        loadavgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
        topCpuSeconds: topCommands(procs0, processTicks(), 10).map(([c, t]) => [c, Math.round((t / ticksPerSecond()) * 100) / 100]),
      };
    },
  };
}
