import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Whether a process is alive. PID 1 on some hosts does not reap orphans, so a dead process can linger as a zombie
 * that kill(pid, 0) still reports: read its state from /proc instead.
 */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Start time of a process in clock ticks since boot, to tell a pid from a reused one. */
export function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/**
 * Whether pid is still the process that started at `ticks` (not a dead one's reused pid). A pid recorded without its
 * start (it could not be read: the process had ended already) is no process of ours any more: whatever holds that pid
 * now (after a reboot, anything) is never signalled for it.
 */
export function sameProcess(pid: number | undefined, ticks: number | undefined): boolean {
  return ticks !== undefined && alive(pid) && startTicks(pid!) === ticks;
}

/**
 * A direct-manager unit's cgroup, relative to a hierarchy's root: its name and its unit directory's digest, since two
 * data dirs on one host run units of the same name (pcloud-nginx) and must never share (and kill) each other's cgroup.
 */
export function unitCgroup(unitDir: string, name: string): string {
  return `pcloud/${name}.${createHash('sha256').update(unitDir).digest('hex').slice(0, 12)}`;
}
