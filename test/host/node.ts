/**
 * The systemd test host ("node"): a Debian 12 root with systemd, machined, systemd-container, btrfs-progs and
 * nftables, booted with systemd-nspawn as a unit of pcloud's own direct manager. Inside it PID 1 is systemd, so pcloud
 * runs its systemd unit manager there. Built once and cached in PCLOUD_NODE_DIR (/var/tmp/pcloud-node).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { hostConfigFromEnv } from '../../src/host/config.js';
import { debianMirror } from '../../src/host/images.js';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { isFinal } from '../../src/host/units/types.js';
import { projectRoot } from '../../src/paths.js';
import { sweepRun } from '../support/runs.js';

export { exportImage } from '../support/runs.js';

export const NODE_DIR = process.env.PCLOUD_NODE_DIR ?? '/var/tmp/pcloud-node';
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'libpam-systemd', 'systemd-container', 'iproute2', 'nftables', 'btrfs-progs',
  'util-linux', 'tar', 'openssh-client', 'ca-certificates', 'procps', 'kmod', 'dnsmasq-base', 'dnsmasq-utils', 'udhcpc', 'iputils-ping', 'lz4',
  // Lambda: nginx in front, the Python runtime, packages, and curl for the provided.al2023 test bootstrap.
  'nginx', 'python3', 'zip', 'unzip', 'curl',
  // Deployment packages are unzipped confined (src/host/code-package.ts).
  'bubblewrap'];

const SETUP = [
  'printf "127.0.0.1 localhost\\n::1 localhost ip6-localhost\\n" > /etc/hosts',
  'echo pcloud-node > /etc/hostname',
  'systemctl mask systemd-networkd-wait-online.service getty@tty1.service console-getty.service nginx.service',
].join(' && ');

/** debootstrap the node's root once; a changed package list builds it anew. */
export async function buildNodeRoot(): Promise<string> {
  const rootfs = join(NODE_DIR, 'rootfs');
  const stamp = createHash('sha256').update(PACKAGES.join(',') + SETUP).digest('hex').slice(0, 12);
  const stampFile = join(NODE_DIR, 'rootfs.stamp');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return rootfs;
  mkdirSync(join(NODE_DIR, 'debs'), { recursive: true });
  await run('rm', ['-rf', rootfs]);
  await run('debootstrap', ['--variant=minbase', `--cache-dir=${join(NODE_DIR, 'debs')}`, `--include=${PACKAGES.join(',')}`,
    'bookworm', rootfs, await debianMirror(hostConfigFromEnv().debianMirror)], { timeoutMs: 900_000 });
  await run('chroot', [rootfs, '/bin/sh', '-c', SETUP]);
  writeFileSync(stampFile, stamp);
  return rootfs;
}

export interface Node {
  name: string;
  leader: number;
  /** Run a command inside the node as a transient unit (systemd-run --wait --pipe), with the node's limits. */
  exec(cmd: string[], opts?: { env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<{ code: number; out: string }>;
  stop(): Promise<void>;
}

/**
 * Boot the node; `fresh` dirs are emptied (see runs.ts) once an earlier node is down, before this one binds them.
 * Several nodes at once each have a `name` of their own (a unit and run dir of their own).
 */
export async function bootNode(opts: { binds: [string, string][]; fresh?: string[]; name?: string }): Promise<Node> {
  const rootfs = await buildNodeRoot();
  const name = opts.name ?? 'pcloud-node';
  const units = new DirectUnitManager(join(NODE_DIR, name === 'pcloud-node' ? 'run' : `run-${name}`));
  await units.init();
  await units.stop(name);
  await units.remove(name);
  for (const dir of opts.fresh ?? []) {
    // On a fresh machine there is nothing yet to sweep.
    if (existsSync(dir)) await sweepRun(dir);
    mkdirSync(dir, { recursive: true });
  }
  const node = process.execPath;
  await units.start({
    name, description: 'pcloud systemd test host', type: 'notify', startTimeoutSec: 60, stopTimeoutSec: 30, delegate: true,
    exec: ['systemd-nspawn', '-q', '--register=no', '--keep-unit', '--notify-ready=yes', '-b', '-D', rootfs, '-M', name,
      '--private-network', '--volatile=overlay', '--bind=/dev/loop-control', `--bind-ro=${node}:/usr/local/bin/node`,
      ...opts.binds.map(([from, to]) => `--bind=${from}:${to}`)],
  });
  let st = await units.status(name);
  const deadline = Date.now() + 60_000;
  while (st?.state !== 'active') {
    if ((st && isFinal(st.state)) || Date.now() > deadline) {
      throw new Error(`node did not boot: ${JSON.stringify(st)}\n${(await units.logs(name, 4000)).toString()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
    st = await units.status(name);
  }
  const leader = Number(st.notify!.X_NSPAWN_LEADER_PID);
  const exec: Node['exec'] = async (cmd, o = {}) => {
    const args = ['-t', String(leader), '-a', 'systemd-run', '--wait', '--pipe', '--quiet', '--collect',
      '-p', 'TimeoutStartSec=infinity', ...(o.cwd ? [`--working-directory=${o.cwd}`] : []),
      ...Object.entries(o.env ?? {}).map(([k, v]) => `--setenv=${k}=${v}`), '--', ...cmd];
    const res = await run('nsenter', args, { reject: false, timeoutMs: o.timeoutMs ?? 1_800_000 });
    return { code: res.exitCode, out: res.stdout + (res.stderr ? '\n' + res.stderr : '') };
  };
  // Loop devices for the storage pool inside (mount -o loop autoclears, so nothing stays attached on the host).
  await exec(['sh', '-c', 'for n in $(seq 0 31); do [ -e /dev/loop$n ] || mknod /dev/loop$n b 7 $n; done']);
  return {
    name, leader, exec,
    async stop() {
      await units.stop(name);
      await units.remove(name);
      units.close();
    },
  };
}

export const ROOT = projectRoot();
