/**
 * The host layer's settings: every PCLOUD_* variable the host drivers heed, read here once (hostConfigFromEnv) and
 * handed to the drivers through their constructors (open.ts). A value that cannot be used stops the server with a
 * one-line reason. The domain's settings are src/cloud/config.ts's, the CLI's src/cli/config.ts's, PCLOUD_LOG
 * src/log.ts's.
 */
import { consoleLogBytes } from './units/console-log.js';
import { envValue, envWhole } from '../env.js';
import { ifname, unicast } from './vxlan.js';

export type UnitManagerKind = 'systemd' | 'direct';

export interface HostConfig {
  /** PCLOUD_UNIT_MANAGER: which unit manager runs units; unset: systemd where PID 1 is systemd, else direct. */
  unitManager?: UnitManagerKind;
  /** PCLOUD_SYSTEMD_UNIT_DIR: where systemd's socket units are written (unset: /run/systemd/system). */
  systemdUnitDir?: string;
  /** PCLOUD_CONSOLE_LOG_BYTES: the bound of each of a unit's two console files (direct manager). */
  consoleLogBytes: number;
  /** PCLOUD_SANDBOX_UID_DIR: the host-wide record of sandbox users (sandbox-users.ts). */
  sandboxUidDir: string;
  /** PCLOUD_OVMF_DIR: UEFI firmware for q35. */
  ovmfDir: string;
  /** PCLOUD_VIRTIO_WIN_ISO: the VirtIO drivers ISO given to Windows installers (used where it exists). */
  virtioWinIso: string;
  /** PCLOUD_DEBIAN_MIRROR: where image builds debootstrap from; unset: the host's apt mirror, else deb.debian.org. */
  debianMirror?: string;
  /** PCLOUD_LAMBDA_CONCURRENCY: invokes of one per-request function at once. */
  lambdaConcurrency: number;
  /** PCLOUD_LAMBDA_CPU_PERCENT: the CPU one function may take, in percent of one CPU. */
  lambdaCpuPercent: number;
  /** PCLOUD_PYTHON: the interpreter of Python functions; unset: /usr/bin/python3, else python3 on PATH. */
  python?: string;
  /** PCLOUD_DNS_UPSTREAM: upstream servers of the VPCs' dnsmasq. */
  dnsUpstream: string[];
  /** PCLOUD_NFS_PORT: pcloud's nfs-ganesha (host-wide). */
  nfsPort: number;
  /** PCLOUD_ISCSI_PORT: pcloud's tgtd (host-wide). */
  iscsiPort: number;
  /** PCLOUD_ISCSI_CONTROL_PORT: tgtd's control port (`tgtd -C`, host-wide). */
  iscsiControlPort: number;
  /**
   * PCLOUD_UNDERLAY_ADDRESS: this host's address on the network joining the hosts (its VPC routers' VXLAN traffic
   * leaves from it; the host registry records it as the host's address). Unset: the host joins no other (one host).
   */
  underlayAddress?: string;
  /** PCLOUD_UNDERLAY_DEVICE: the interface that network is on (unset: the kernel routes to each peer host). */
  underlayDevice?: string;
  /**
   * PCLOUD_CONTROL_URL: the control plane's API (http(s)://HOST:PORT) on a host that joined it (`pcloud host join`
   * sets it): images this host lacks are fetched from there (image-source.ts). Unset: an embedded cloud's host.
   */
  controlUrl?: string;
  /** PCLOUD_HOST_KEY: the key this host shows the control plane (`pcloud-host-…`); set with PCLOUD_CONTROL_URL. */
  hostKey?: string;
}

export const SANDBOX_UID_DIR = '/run/pcloud/uids';
export const OVMF_DIR = '/usr/share/OVMF';
export const VIRTIO_WIN_ISO = '/usr/share/virtio-win/virtio-win.iso';

const port = (env: NodeJS.ProcessEnv, name: string, fallback: number) => envWhole(env, name, fallback, 1, 65535);

function unitManager(env: NodeJS.ProcessEnv): UnitManagerKind | undefined {
  const want = env.PCLOUD_UNIT_MANAGER;
  if (want === undefined) return undefined;
  if (want !== 'systemd' && want !== 'direct') throw new Error(`PCLOUD_UNIT_MANAGER=${JSON.stringify(want.slice(0, 40))}: expected systemd or direct`);
  return want;
}

/** A setting checked by `check`, or the server stops saying which setting and what it takes. */
function checked(env: NodeJS.ProcessEnv, name: string, check: (v: string) => string, expected: string): string | undefined {
  const value = envValue(env, name);
  if (value === undefined) return undefined;
  try {
    return check(value);
  } catch {
    throw new Error(`${name}=${JSON.stringify(value.slice(0, 40))}: expected ${expected}`);
  }
}

/** An http(s) URL of a server, nothing else in it (no user, query or fragment). */
function apiUrl(v: string): string {
  const u = new URL(v);
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.search || u.hash) throw new Error('not an API URL');
  return v;
}

/** The control plane and this host's key (a joined host's), both or neither; the key is a secret: never echoed. */
function controlPlane(env: NodeJS.ProcessEnv): { controlUrl?: string; hostKey?: string } {
  const controlUrl = checked(env, 'PCLOUD_CONTROL_URL', apiUrl, "the control plane's API URL, http(s)://HOST:PORT");
  const hostKey = envValue(env, 'PCLOUD_HOST_KEY');
  if (hostKey !== undefined && !/^pcloud-host-[A-Za-z0-9_-]{43}$/.test(hostKey)) {
    throw new Error('PCLOUD_HOST_KEY is not a host key (pcloud-host-…): join again with `pcloud host join`');
  }
  if ((controlUrl === undefined) !== (hostKey === undefined)) {
    throw new Error('PCLOUD_CONTROL_URL and PCLOUD_HOST_KEY go together (`pcloud host join` sets both): set both or neither');
  }
  return { controlUrl, hostKey };
}

export function hostConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HostConfig {
  return {
    unitManager: unitManager(env),
    systemdUnitDir: envValue(env, 'PCLOUD_SYSTEMD_UNIT_DIR'),
    consoleLogBytes: consoleLogBytes(env.PCLOUD_CONSOLE_LOG_BYTES),
    sandboxUidDir: envValue(env, 'PCLOUD_SANDBOX_UID_DIR') ?? SANDBOX_UID_DIR,
    ovmfDir: envValue(env, 'PCLOUD_OVMF_DIR') ?? OVMF_DIR,
    virtioWinIso: envValue(env, 'PCLOUD_VIRTIO_WIN_ISO') ?? VIRTIO_WIN_ISO,
    debianMirror: envValue(env, 'PCLOUD_DEBIAN_MIRROR'),
    lambdaConcurrency: envWhole(env, 'PCLOUD_LAMBDA_CONCURRENCY', 100, 1, 10_000),
    lambdaCpuPercent: envWhole(env, 'PCLOUD_LAMBDA_CPU_PERCENT', 100, 1, 100_000),
    python: envValue(env, 'PCLOUD_PYTHON'),
    dnsUpstream: (env.PCLOUD_DNS_UPSTREAM ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    nfsPort: port(env, 'PCLOUD_NFS_PORT', 2049),
    iscsiPort: port(env, 'PCLOUD_ISCSI_PORT', 3260),
    // Not a TCP port: the number of tgtd's control socket (tgtd -C, tgtadm -C).
    iscsiControlPort: envWhole(env, 'PCLOUD_ISCSI_CONTROL_PORT', 7, 0, 65535),
    underlayAddress: checked(env, 'PCLOUD_UNDERLAY_ADDRESS', unicast, 'a unicast IPv4 address of this host'),
    underlayDevice: checked(env, 'PCLOUD_UNDERLAY_DEVICE', ifname, 'a network interface name'),
    ...controlPlane(env),
  };
}
