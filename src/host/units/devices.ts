/**
 * A unit's device policy (systemd's DevicePolicy= and DeviceAllow=): which device nodes its processes may open or
 * create, whatever nodes they find in their file systems. Under systemd the spec becomes those two settings
 * (render.ts); under the direct manager its supervisor writes the same rules into the unit's cgroup v1 `devices`
 * controller before it enters that cgroup (supervisor.ts), resolving each entry as systemd does: a path by the device
 * node it names on the host, `char-NAME`/`block-NAME` by the majors /proc/devices lists under NAME.
 *
 * cgroup v2 has no devices files: systemd attaches a BPF program (BPF_CGROUP_DEVICE) to the unit's cgroup. The direct
 * manager loads none, so on a cgroup v2 host without systemd a device policy is not enforced (devicePolicySupport()
 * says so, and the unit's status carries X_PCLOUD_DEVICE_POLICY); nodev mounts are then the only line.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { DeviceAllow, DevicePolicy } from './types.js';

/**
 * What DevicePolicy=closed allows on top of DeviceAllow= (systemd's core/cgroup.c and bpf-devices.c): the standard
 * pseudo devices, the controlling tty and the pty multiplexer, systemd's inaccessible nodes (device 0:0, which
 * InaccessiblePaths= mounts), and ptys read/write (never created).
 */
export const CLOSED_BASELINE: readonly DeviceAllow[] = [
  { node: '/dev/null', access: 'rwm' },
  { node: '/dev/zero', access: 'rwm' },
  { node: '/dev/full', access: 'rwm' },
  { node: '/dev/random', access: 'rwm' },
  { node: '/dev/urandom', access: 'rwm' },
  { node: '/dev/tty', access: 'rwm' },
  { node: '/dev/ptmx', access: 'rwm' },
  { node: '/run/systemd/inaccessible/chr', access: 'rwm' },
  { node: '/run/systemd/inaccessible/blk', access: 'rwm' },
  { node: 'char-pts', access: 'rw' },
];

/**
 * What systemd-nspawn asks for a container's scope when it registers one (nspawn-register.c), and what
 * systemd-nspawn@.service sets: DevicePolicy=closed, /dev/net/tun (so PrivateDevices= works inside) and ptys.
 * Not the unit file's /dev/loop-control, block-loop, block-blkext and device-mapper lines: those serve nspawn's own
 * --image=, which pcloud never uses, and would hand the container the host's loop devices.
 */
export const NSPAWN_DEVICES: DevicePolicy = {
  policy: 'closed',
  allow: [
    { node: '/dev/net/tun', access: 'rwm' },
    { node: 'char-pts', access: 'rw' },
  ],
};

/** A DeviceAllow= value (`NODE ACCESS`), or an error for an entry neither systemd nor the kernel would take as meant. */
export function deviceAllowValue(a: DeviceAllow): string {
  if (!/^(?:\/|(?:char|block)-)[!-~]+$/.test(a.node)) throw new Error(`invalid device node ${JSON.stringify(a.node.slice(0, 64))}`);
  if (!/^r?w?m?$/.test(a.access) || !a.access) throw new Error(`invalid device access ${JSON.stringify(a.access.slice(0, 8))}`);
  return `${a.node} ${a.access}`;
}

/** The majors /proc/devices lists under `name` in its character or block section. */
export function majorsNamed(procDevices: string, type: 'c' | 'b', name: string): number[] {
  const majors: number[] = [];
  let section: 'c' | 'b' | undefined;
  for (const line of procDevices.split('\n')) {
    if (line.startsWith('Character devices:')) section = 'c';
    else if (line.startsWith('Block devices:')) section = 'b';
    else {
      const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(line);
      if (m && section === type && m[2] === name) majors.push(Number(m[1]));
    }
  }
  return majors;
}

export interface DeviceHost {
  /** A device node's type and numbers, or undefined when the path is absent or not a device. */
  node(path: string): { type: 'c' | 'b'; major: number; minor: number } | undefined;
  procDevices(): string;
}

/** The host as it is: stat() (following links, as systemd does) and /proc/devices. */
export const realDeviceHost: DeviceHost = {
  node(path) {
    try {
      const st = statSync(path, { bigint: true });
      if (!st.isCharacterDevice() && !st.isBlockDevice()) return undefined;
      const dev = st.rdev;
      // glibc's gnu_dev_major()/gnu_dev_minor().
      const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
      const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
      return { type: st.isCharacterDevice() ? 'c' : 'b', major, minor };
    } catch {
      return undefined;
    }
  },
  procDevices: () => readFileSync('/proc/devices', 'utf8'),
};

/**
 * The cgroup v1 rules for a policy: `deny` (written to devices.deny: everything) and `allow` (one devices.allow line
 * each, e.g. `c 1:3 rwm`, `c 136:* rw`). An entry that names nothing on this host is left out, as systemd does.
 */
export function cgroupV1Rules(policy: DevicePolicy, host: DeviceHost = realDeviceHost): { deny: string; allow: string[] } {
  const allow: string[] = [];
  let procDevices: string | undefined;
  for (const a of [...CLOSED_BASELINE, ...policy.allow]) {
    deviceAllowValue(a);
    const cls = /^(char|block)-(.+)$/.exec(a.node);
    if (cls) {
      const type = cls[1] === 'char' ? 'c' : 'b';
      procDevices ??= host.procDevices();
      for (const major of majorsNamed(procDevices, type, cls[2]!)) allow.push(`${type} ${major}:* ${a.access}`);
    } else {
      const n = host.node(a.node);
      if (n) allow.push(`${n.type} ${n.major}:${n.minor} ${a.access}`);
    }
  }
  return { deny: 'a', allow: [...new Set(allow)] };
}

/** Where the direct manager can enforce a device policy: cgroup v1's devices controller (see the header). */
export function devicePolicySupport(): { enforced: true } | { enforced: false; why: string } {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    return { enforced: false, why: 'cgroup v2 filters devices only with BPF programs, which the direct unit manager does not load: containers get no device policy (device nodes are still removed from images when registered; a pool mounted nodev adds to it)' };
  }
  if (!existsSync('/sys/fs/cgroup/devices/devices.allow')) {
    return { enforced: false, why: 'the cgroup v1 devices controller is not mounted at /sys/fs/cgroup/devices: containers get no device policy (device nodes are still removed from images when registered; a pool mounted nodev adds to it)' };
  }
  return { enforced: true };
}
