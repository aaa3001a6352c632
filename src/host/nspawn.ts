/**
 * Containers on systemd-nspawn: the unit that boots an instance's root disk, as systemd's own
 * systemd-nspawn@.service does (Type=notify, KillMode=mixed, Delegate=yes, reboot = exit 133).
 *
 * Every container has a user namespace of its own (`--private-users=pick`: a free range of 65536 host uids, picked
 * by nspawn): root in an instance is an unprivileged uid on the host. Its fork is mounted idmapped
 * (`--private-users-ownership=auto`), so files keep their uids on disk (the seed written by the host as uid 0 is
 * root's inside; CreateImage snapshots a disk with unshifted uids); on a kernel or file system without idmapped mounts
 * nspawn chowns the fork instead (`pcloud doctor` says which).
 */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import type { UnitManager, UnitSpec } from './units/types.js';
import { run } from './exec.js';
import { readInside } from './rootfs.js';
import { socketPath } from './sockets.js';
import { NSPAWN_DEVICES } from './units/devices.js';

export interface ContainerOptions {
  instanceId: string;
  rootDir: string;
  hostname: string;
  vcpus: number;
  memoryMiB: number;
  /** Register with machined (systemd hosts); on hosts without a system bus nspawn must not try. */
  register: boolean;
  readyTimeoutSec: number;
  /** A network namespace prepared for the container (its eth0 routed as a /32 by the VPC's router); none: loopback only. */
  networkNamespace?: string;
  /** The host's socket for a guest that speaks the protocol, bound in the container at GUEST_NOTIFY_PATH. */
  guestSocket?: string;
}

/** A container's unit: its command line's options, where its sockets live, and whether its image speaks the protocol. */
export interface ContainerUnitOptions extends Omit<ContainerOptions, 'guestSocket'> {
  /** Where the unit's sockets live (the data dir's run dir). */
  runDir: string;
  /** The image speaks the guest protocol (guestProtocol()): its readiness comes from the guest, not its init's READY. */
  guestProtocol: boolean;
}

/** Where a guest that speaks the protocol finds the host's socket, inside the container. */
export const GUEST_NOTIFY_PATH = '/run/pcloud/notify';

/**
 * The container's sockets on the host: nspawn's notify socket (container-ready.js reads it) and the guest's
 * (bound at GUEST_NOTIFY_PATH). A path nspawn's --bind cannot take (a `:` in the run dir) is refused.
 */
export function containerSockets(runDir: string, instanceId: string): { notify: string; guest: string } {
  const dir = join(runDir, 'guest');
  const out = { notify: socketPath(join(dir, `${instanceId}.nspawn`)), guest: socketPath(join(dir, `${instanceId}.guest`)) };
  if (out.guest.includes(':')) throw new Error(`the run dir ${runDir} cannot be bound into containers (it has a ':')`);
  return out;
}

/** The container's sockets gone (its unit's main process removes them as it ends; not when it was killed). */
export async function removeContainerSockets(runDir: string, instanceId: string): Promise<void> {
  const socks = containerSockets(runDir, instanceId);
  await Promise.all([rm(socks.notify, { force: true }), rm(socks.guest, { force: true })]);
}

/**
 * Whether the root at `rootDir` speaks the guest protocol: it holds /etc/pcloud/guest-protocol saying `1` (read
 * without following links; anything else, missing or unreadable, is an image from before the protocol).
 */
export async function guestProtocol(rootDir: string): Promise<boolean> {
  try {
    return (await readInside(rootDir, 'etc/pcloud/guest-protocol', 64)).toString('latin1').trim() === '1';
  } catch {
    return false;
  }
}

export function containerUnitName(instanceId: string): string {
  return `pcloud-instance@${instanceId}`;
}

/**
 * The container's command line. A prepared network namespace is joined by nspawn itself (nsenter --net, which, unlike
 * `ip netns exec`, leaves /sys alone): nspawn 252 cannot join one with --network-namespace-path once it has made the
 * container's user namespace (systemd#36363). The namespace stays the host's (the instance's root has no
 * CAP_NET_ADMIN in it: it cannot readdress, re-MAC or re-route its eth0); network.ts opens its low ports and ping
 * to the instance's unprivileged root.
 */
export function nspawnArgs(o: ContainerOptions): string[] {
  return [
    ...(o.networkNamespace ? ['nsenter', `--net=${o.networkNamespace}`, '--'] : []),
    'systemd-nspawn',
    '--quiet',
    '--keep-unit',
    `--register=${o.register ? 'yes' : 'no'}`,
    '--boot',
    '--notify-ready=yes',
    '--private-users=pick',
    '--private-users-ownership=auto',
    // The per-container kernel limits the host sets in its user namespace (ucounts.ts) stay set: root in the
    // instance cannot raise them (as Docker's containers, without CAP_SYS_RESOURCE).
    '--drop-capability=CAP_SYS_RESOURCE',
    `--directory=${o.rootDir}`,
    `--machine=${o.instanceId}`,
    `--hostname=${o.hostname}`,
    ...(o.networkNamespace ? [] : ['--private-network']),
    '--link-journal=no',
    '--resolv-conf=off',
    '--timezone=off',
    '--console=read-only',
    ...(o.guestSocket ? [`--bind=${o.guestSocket}:${GUEST_NOTIFY_PATH}`] : []),
  ];
}

/** The unit's main process: container-ready.js running nspawn, its notify socket and the guest's its own. */
export function containerExec(o: ContainerUnitOptions): string[] {
  const socks = containerSockets(o.runDir, o.instanceId);
  const guest = o.guestProtocol ? socks.guest : undefined;
  return [
    process.execPath, join(projectRoot(), 'dist/src/host/container-ready.js'), '--notify', socks.notify,
    ...(guest ? ['--guest', guest] : []), '--', ...nspawnArgs({ ...o, guestSocket: guest }),
  ];
}

export function containerUnit(o: ContainerUnitOptions): UnitSpec {
  return {
    name: containerUnitName(o.instanceId),
    description: `pcloud instance ${o.instanceId} (systemd-nspawn container)`,
    exec: containerExec(o),
    type: 'notify',
    startTimeoutSec: o.readyTimeoutSec,
    stopTimeoutSec: 30,
    // nspawn turns SIGTERM into an orderly poweroff of the container's systemd.
    killSignal: 'SIGTERM',
    restartForceExitStatus: [133],
    delegate: true,
    limits: {
      cpuQuotaPercent: o.vcpus * 100,
      memoryMaxBytes: o.memoryMiB * 1024 * 1024,
      tasksMax: 4096,
    },
    // Unregistered (--register=no, the direct manager) nspawn asks for no device policy: without one, a device node
    // in the container's root (a data dir on an operator's pool mounted without nodev) would open the host's device.
    devices: NSPAWN_DEVICES,
  };
}

/** The PID of a running container's init (its namespaces are entered through it): from nspawn's notify, or machined. */
export async function containerLeader(units: UnitManager, instanceId: string): Promise<number> {
  const st = await units.status(containerUnitName(instanceId));
  const pid = Number(st?.notify?.X_NSPAWN_LEADER_PID);
  if (pid > 0) return pid;
  const res = await run('machinectl', ['show', instanceId, '-p', 'Leader', '--value'], { reject: false });
  const leader = Number(res.stdout.trim());
  if (!(leader > 0)) throw new Error(`no running container for ${instanceId}`);
  return leader;
}

/**
 * nsenter's arguments to act inside a running container as its root: its user namespace first, so that what is
 * written lands owned by the instance's root (through the idmapped fork), with no more rights than the instance has.
 * `namespaces` are nsenter's flags for the others (e.g. ['-m']).
 */
export function enterAsRoot(leaderPid: number, namespaces: string[]): string[] {
  return ['nsenter', '-t', String(leaderPid), '-U', ...namespaces, '--'];
}

/**
 * How this host gives containers their user namespace, tried for real in `dir` (on the file system forks live on):
 * `map` (idmapped mounts: nothing copied), `chown` (nspawn chowns each fork at its first start: seconds for a full
 * root), or why neither works. A throwaway root holding only the host's /usr, read-only, runs /usr/bin/true.
 */
export async function probeUserNamespaces(dir: string): Promise<{ ownership: 'map' | 'chown' } | { error: string }> {
  const root = await mkdtemp(join(dir, '.userns-probe-'));
  try {
    for (const d of ['usr', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp']) await mkdir(join(root, d));
    for (const l of ['bin', 'sbin', 'lib', 'lib64']) await symlink(`usr/${l}`, join(root, l));
    let error = '';
    for (const ownership of ['map', 'chown'] as const) {
      const res = await run('systemd-nspawn', ['--quiet', '--register=no', '--keep-unit', '--private-users=pick', `--private-users-ownership=${ownership}`,
        '--private-network', '--bind-ro=/usr', `--machine=pcloud-probe-${process.pid}`, `--directory=${root}`, '/usr/bin/true'], { reject: false });
      if (res.exitCode === 0) return { ownership };
      error ||= res.stderr.split('\n').find((l) => l.trim()) ?? `exit ${res.exitCode}`;
    }
    return { error };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
