/** `pcloud doctor`: what this host can do for pcloud, and the command that fixes what is missing. */
import { access, constants, readFile } from 'node:fs/promises';
import { run, which } from '../host/exec.js';
import { systemdIsPid1 } from '../host/units/index.js';
import { familyRuntime } from '../cloud/catalog.js';
import { firmwareFor, virtioWinIso } from '../host/q35.js';
import type { HostConfig } from '../host/config.js';
import type { CloudConfig } from '../cloud/config.js';
import { probeUserNamespaces } from '../host/nspawn.js';
import { loopPoolSpace, rootVolumeSizes } from './doctor-storage.js';
import { devicePolicySupport } from '../host/units/devices.js';

import type { Check } from './check.js';

export type { Check };

const apt = (pkgs: string) => `apt-get update && apt-get install -y ${pkgs}`;

async function tool(name: string, program: string, pkg: string, versionArgs = ['--version']): Promise<Check> {
  const path = await which(program);
  if (!path) return { name, ok: false, detail: `${program} not found`, fix: apt(pkg) };
  const v = await run(program, versionArgs, { reject: false });
  return { name, ok: true, detail: (v.stdout || v.stderr).split('\n')[0]!.slice(0, 60) };
}

/** The checks, for the host's settings (`host`: where firmware and drivers are) and how VMs run (`vmAccel`). */
export async function doctor(dataDir: string, host: HostConfig, vmAccel: CloudConfig['vmAccel']): Promise<Check[]> {
  const checks: Check[] = [];
  const pid1 = (await readFile('/proc/1/comm', 'utf8').catch(() => '?')).trim();
  checks.push(systemdIsPid1()
    ? { name: 'systemd as PID 1', ok: true, detail: 'units are transient systemd services; containers register with machined' }
    : { name: 'systemd as PID 1', ok: false, detail: `PID 1 is ${pid1}: units run under the direct manager (degraded: detached supervisors, cgroup files, no machined or journal)`, fix: 'run pcloud on a host booted with systemd' });
  checks.push(await tool('systemd-nspawn', 'systemd-nspawn', 'systemd-container'));
  checks.push(await tool('debootstrap (image builds)', 'debootstrap', 'debootstrap', ['--version']));
  const fsType = (await run('stat', ['-f', '-c', '%T', dataDir], { reject: false })).stdout.trim() || 'missing';
  const pool = (await run('stat', ['-f', '-c', '%T', `${dataDir}/pool`], { reject: false })).stdout.trim();
  const btrfs = await which('mkfs.btrfs');
  checks.push({
    name: 'reflink storage pool',
    ok: pool === 'btrfs' || pool === 'xfs' || Boolean(btrfs),
    detail: pool === 'btrfs' || pool === 'xfs'
      ? `${dataDir}/pool is ${pool}`
      : `${dataDir} is on ${fsType}; ${btrfs ? 'a btrfs loop file is created on first start' : 'no btrfs-progs to make a loop pool'}`,
    fix: btrfs ? undefined : apt('btrfs-progs xfsprogs'),
  });
  checks.push(await loopPoolSpace(dataDir));
  checks.push(await rootVolumeSizes(dataDir));
  checks.push(await containerUserNamespaces(dataDir, pool === 'btrfs' || pool === 'xfs' ? `${dataDir}/pool` : dataDir));
  checks.push(await inotifyInstances());
  const kvm = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false);
  const qemu = await which('qemu-system-x86_64');
  checks.push({
    name: 'KVM / TCG',
    ok: Boolean(qemu),
    detail: `${kvm ? '/dev/kvm present' : 'no /dev/kvm'}; VMs run on ${vmAccel === 'kvm' ? 'KVM' : 'TCG (software; PCLOUD_VM_ACCEL=kvm where /dev/kvm runs guests)'}; ${qemu ? 'qemu-system-x86_64 found' : 'QEMU missing (VM runtimes)'}`,
    fix: qemu ? undefined : apt('qemu-system-x86 qemu-block-extra ovmf'),
  });
  const nft = await which('nft');
  const nftWorks = nft ? (await run('nft', ['list', 'tables'], { reject: false })).exitCode === 0 : false;
  checks.push({ name: 'nftables', ok: nftWorks, detail: nft ? (nftWorks ? 'nft works' : 'nft present but cannot list tables') : 'nft not found', fix: nft ? undefined : apt('nftables') });
  checks.push(await tool('iproute2', 'ip', 'iproute2', ['-V']));
  const table = new Map<string, string[]>();
  for (const [family, runtime] of Object.entries(familyRuntime)) table.set(runtime, [...(table.get(runtime) ?? []), family]);
  checks.push({
    name: 'instance families → runtimes', ok: true,
    detail: [...table].map(([runtime, families]) => `${families.join(',')} → ${runtime}`).join('; ') + '; Windows or UEFI images → q35 (PCLOUD_RUNTIMES overrides)',
  });
  checks.push({ ...(await tool('image import (qemu-img)', 'qemu-img', 'qemu-utils', ['--version'])) });
  const fw = firmwareFor('windows', host.ovmfDir);
  const ovmf = await access(fw.code).then(() => true, () => false);
  checks.push({ name: 'UEFI firmware (q35)', ok: ovmf, detail: ovmf ? `OVMF in ${fw.code.replace(/\/[^/]+$/, '')} (Secure Boot build for Windows)` : 'OVMF missing', fix: ovmf ? undefined : apt('ovmf') });
  checks.push(await tool('swtpm (q35 TPM 2.0)', 'swtpm', 'swtpm swtpm-tools', ['--version']));
  const drivers = virtioWinIso(host.virtioWinIso);
  checks.push({
    name: 'VirtIO drivers ISO (Windows)', ok: Boolean(drivers),
    detail: drivers ? `${drivers}: attached to Windows installs` : 'not found: Windows installers see no virtio disk without it',
    fix: drivers ? undefined : 'get virtio-win.iso (fedorapeople.org virtio-win) and set PCLOUD_VIRTIO_WIN_ISO to its path',
  });
  checks.push(await tool('iSCSI target for volumes (tgtd)', 'tgtd', 'tgt', ['-V']));
  const iscsiDriver = await access('/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so').then(() => true, () => false);
  checks.push({ name: "QEMU's iscsi:// driver", ok: iscsiDriver, detail: iscsiDriver ? 'qemu-block-extra installed' : 'missing: VMs cannot open volumes', fix: iscsiDriver ? undefined : apt('qemu-block-extra') });
  checks.push(await tool('NFS server for container volumes (nfs-ganesha)', 'ganesha.nfsd', 'nfs-ganesha nfs-ganesha-vfs', ['-v']));
  const nfsClient = (await readFile('/proc/filesystems', 'utf8').catch(() => '')).includes('nfs4')
    || (await run('modprobe', ['-n', 'nfsv4'], { reject: false })).exitCode === 0;
  checks.push({
    name: 'kernel NFS client (containers mount volumes)', ok: nfsClient,
    detail: nfsClient ? 'nfs4 available' : 'no nfs4 in this kernel: AttachVolume to a container fails (VMs take volumes over iSCSI)',
    fix: nfsClient ? undefined : 'run pcloud on a kernel with NFS client support (CONFIG_NFS_V4)',
  });
  checks.push(await tool('nginx (Lambda)', 'nginx', 'nginx', ['-v']));
  if (!systemdIsPid1()) checks.push(await functionSandbox(), containerDevices());
  return checks;
}

/** Without systemd, containers get a closed device policy from their unit's devices cgroup (cgroup v1 only). */
function containerDevices(): Check {
  const name = 'container device policy (direct manager)';
  const support = devicePolicySupport();
  return support.enforced
    ? { name, ok: true, detail: 'closed: a container opens only the pseudo devices and its ptys, never a host device node' }
    : { name, ok: false, detail: support.why, fix: 'run pcloud on a host booted with systemd (DevicePolicy=closed works on cgroup v2 there)' };
}

/** Without systemd, functions' handlers run in bubblewrap, as a user of their own (setpriv), under a seccomp filter. */
async function functionSandbox(): Promise<Check> {
  const name = 'function sandbox (direct manager)';
  const missing = [];
  if (!(await which('bwrap'))) missing.push('bubblewrap');
  if (!(await which('setpriv'))) missing.push('util-linux');
  if ((await run('/usr/bin/python3', ['-c', 'import seccomp'], { reject: false })).exitCode !== 0) missing.push('python3-seccomp');
  return missing.length
    ? { name, ok: false, detail: 'functions cannot start: their handlers never run unconfined', fix: apt(missing.join(' ')) }
    : { name, ok: true, detail: 'bubblewrap, setpriv and a seccomp filter: each function as a user of its own, the data dir out of sight' };
}

/**
 * Each container's systemd takes a few inotify instances, all counted against host root (the owner of every
 * container's user namespace): Debian's default of 128 stops a host at about 20 containers ("Failed to allocate
 * manager object: Too many open files").
 */
async function inotifyInstances(): Promise<Check> {
  const name = 'inotify instances (containers)';
  const max = Number((await readFile('/proc/sys/fs/inotify/max_user_instances', 'utf8').catch(() => '0')).trim());
  const ok = max >= 8192;
  return {
    name, ok,
    detail: `fs.inotify.max_user_instances = ${max}${ok ? '' : ': about 20 containers on the host use it up, and the next fail to boot (their systemd gets no inotify)'}`,
    fix: ok ? undefined : 'sysctl -w fs.inotify.max_user_instances=8192 (and in /etc/sysctl.d/ to keep it)',
  };
}

/** Containers' user namespaces (root in an instance is nobody on the host), tried on the file system forks live on. */
async function containerUserNamespaces(dataDir: string, dir: string): Promise<Check> {
  const name = 'container user namespaces';
  const where = dir === dataDir ? `${dataDir} (no pool yet; forks live in its pool)` : dir;
  if (!(await which('systemd-nspawn'))) return { name, ok: false, detail: 'systemd-nspawn not found', fix: apt('systemd-container') };
  const probe = await probeUserNamespaces(dir).catch((err: Error) => ({ error: err.message }));
  if ('ownership' in probe && probe.ownership === 'map') {
    return { name, ok: true, detail: `idmapped mounts on ${where}: each fork is mapped, nothing copied` };
  }
  if ('ownership' in probe) {
    return { name, ok: true, detail: `no idmapped mounts on ${where}: nspawn chowns each fork at its first start (~2 s for debian-12)`, fix: undefined };
  }
  return {
    name, ok: false, detail: `containers cannot get a user namespace: ${probe.error}`,
    fix: 'a kernel with user namespaces (CONFIG_USER_NS, sysctl user.max_user_namespaces > 0) and idmapped mounts (Linux >= 5.19 on btrfs/XFS)',
  };
}

export function formatChecks(checks: Check[]): string {
  const w = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((c) => `${c.ok ? ' ok ' : 'MISS'}  ${c.name.padEnd(w)}  ${c.detail}${c.fix ? `\n      ${' '.repeat(w)}  fix: ${c.fix}` : ''}`);
  return lines.join('\n');
}
