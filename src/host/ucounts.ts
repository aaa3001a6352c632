/**
 * The kernel's per-user budgets (inotify instances and watches, namespaces, fanotify groups) inside each container.
 * A container's user namespace is made by host root, so everything its users take is charged to host root as well:
 * without a cap of its own, one container's inotify_init() loop took all of host root's instances, and the next
 * containers could not boot (their systemd needs some). Each container's user namespace gets its own limits, written
 * from the host inside that namespace (/proc/sys/user/* are per user namespace) as soon as its leader is known.
 *
 * What this holds, measured on this host (kernel 6.18): a limit set in the container's namespace stops its processes
 * there, and a namespace nested in it counts against it too. What it does not:
 * - the kernel counts per user *inside* the namespace: each of the container's 65536 uids has the cap, and its root
 *   can switch uids (5 uids took 5 x the cap);
 * - nspawn mounts the container's read-only /proc/sys from inside the container's namespace (the mount is not locked),
 *   so its root can remount it writable and, holding CAP_SYS_RESOURCE there, raise its own limits. Without that
 *   capability (nspawn --drop-capability=CAP_SYS_RESOURCE) the write is refused even on a writable /proc/sys.
 * So against a hostile root the host's own limits must stay far above what containers can take: their kernel memory
 * (about 1 KB per inotify instance, measured) is charged to each container's memory cgroup, which bounds it.
 */
import { readlink } from 'node:fs/promises';
import { run } from './exec.js';
import { containerLeader, enterAsRoot } from './nspawn.js';
import type { UnitManager } from './units/types.js';
import { log } from '../log.js';

/** Each user's budget in a container (per uid in its user namespace): a booted debian-12 uses a few dozen of each. */
export const CONTAINER_UCOUNTS: ReadonlyMap<string, number> = new Map([
  ['max_inotify_instances', 128],
  ['max_inotify_watches', 65536],
  ['max_fanotify_groups', 16],
  ['max_fanotify_marks', 8192],
  ['max_user_namespaces', 256],
  ['max_mnt_namespaces', 1024],
  ['max_net_namespaces', 256],
  ['max_pid_namespaces', 256],
  ['max_ipc_namespaces', 256],
  ['max_uts_namespaces', 256],
  ['max_cgroup_namespaces', 256],
  ['max_time_namespaces', 256],
]);

/** The command that sets the budgets in the user namespace of the process `leaderPid` (host root, entered as its root). */
export function ucountCommand(leaderPid: number, limits: ReadonlyMap<string, number> = CONTAINER_UCOUNTS): string[] {
  return [...enterAsRoot(leaderPid, []), 'sysctl', '-q', '-w', ...[...limits].map(([k, v]) => `user.${k}=${v}`)];
}

/**
 * Cap a running container's budgets (idempotent: every state change of its unit may ask). A container whose leader is
 * not known yet, or gone, is left alone; a failure is logged, never the launch's.
 */
export async function capContainer(units: UnitManager, instanceId: string): Promise<void> {
  const leader = await containerLeader(units, instanceId).catch(() => undefined);
  // Never the host's own limits (a leader in this process's user namespace; the kernel refuses that setns anyway).
  const ns = leader ? await userNs(leader) : undefined;
  if (!ns || ns === (await userNs('self'))) return;
  const [cmd, ...args] = ucountCommand(leader!);
  const res = await run(cmd!, args, { reject: false });
  if (res.exitCode !== 0) log.warn(`kernel budgets of ${instanceId} not set: ${res.stderr.trim().split('\n').pop() ?? `exit ${res.exitCode}`}`);
}

const userNs = (pid: number | 'self') => readlink(`/proc/${pid}/ns/user`).catch(() => undefined);
