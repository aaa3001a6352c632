/**
 * Volumes reach containers over NFS: pcloud's own nfs-ganesha (the `pcloud-nfs` unit, NFSv4 only, no rpcbind)
 * exports each attached volume's file system. A volume is a raw file: the first time a container takes it, it gets
 * an ext4 file system (unless it has one); the host mounts it (loop) under DATA/run/nfs/exports/VOL, and ganesha
 * exports that at `/VOL` to its instance's NFS address only (network.ts: the router SNATs that instance's NFS traffic
 * to the host's end of its uplink to it; its firewall lets only instances with a volume through, and the host's
 * filter lets only exported addresses reach the port). The container mounts it with the kernel's NFS client, run in
 * its namespaces. Exports change by rewriting the configuration and SIGHUP.
 */
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedQueue } from '../serial.js';
import { run } from './exec.js';
import { enterAsRoot } from './nspawn.js';
import type { UnitManager, UnitSpec } from './units/types.js';
import { isFinal } from './units/types.js';
import { SERVICE_RESTART } from './units/restart.js';
import type { HostNfs } from './index.js';

export const NFS_UNIT = 'pcloud-nfs';

/**
 * How long each host command of an export may take. Exports change one at a time, so one that hung would hold back
 * every other volume's attach and detach on the host: a command past its bound fails (and ends) instead. mkfs on a
 * large volume writes its inode tables lazily, so it is quick too; the NFS mount inside a container is `hard` and
 * would otherwise wait on a server that never answers.
 */
const BOUND_MS = { probe: 30_000, mkfs: 300_000, mount: 60_000, nfsMount: 120_000 } as const;

interface ExportEntry {
  id: number;
  volumeId: string;
  path: string;
  clients: string[];
}

/** ganesha's configuration: NFSv4 on `port`, one EXPORT per volume. */
export function ganeshaConfig(dir: string, port: number, exports: ExportEntry[]): string {
  return [
    '# Written by pcloud (src/host/nfs.ts); rewritten on every change of the exports.',
    'NFS_CORE_PARAM {', '  Protocols = 4;', `  NFS_Port = ${port};`, '  Enable_NLM = false;', '  Enable_RQUOTA = false;', '}',
    'NFSV4 {', '  Graceless = true;', '  RecoveryBackend = fs;', `  RecoveryRoot = ${join(dir, 'recovery')};`, '}',
    ...exports.flatMap((e) => [
      'EXPORT {', `  Export_Id = ${e.id};`, `  Path = ${e.path};`, `  Pseudo = /${e.volumeId};`, '  Protocols = 4;', '  Transports = TCP;',
      '  Access_Type = None;', '  Squash = No_Root_Squash;', '  SecType = sys;', '  FSAL { Name = VFS; }',
      `  CLIENT { Clients = ${e.clients.join(', ')}; Access_Type = RW; }`, '}',
    ]),
    '',
  ].join('\n');
}

/** The host's filter in front of ganesha: one nft table per NFS port, so servers of other data dirs keep theirs. */
export const hostFilterTable = (port: number) => `pcloud_nfs_${port}`;

/**
 * The host's filter in front of ganesha, TCP and UDP (ganesha answers on both, whatever its exports say): from
 * anywhere but the host itself (lo), only the addresses exported to reach the port; an instance without a volume, a
 * neighbour on the LAN or a VPC's router reaching the host by another of its addresses gets nothing through.
 */
export function hostFilter(port: number, clients: string[]): string {
  const name = hostFilterTable(port);
  const match = `meta l4proto { tcp, udp } th dport ${port} iifname != "lo"`;
  return [
    `table inet ${name}`, `delete table inet ${name}`, `table inet ${name} {`, '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    ...(clients.length ? [`    ${match} ip saddr { ${clients.join(', ')} } accept`] : []),
    `    ${match} drop`, '  }', '}', '',
  ].join('\n');
}

/** The command that mounts a volume inside a container (run in its mount and network namespaces). */
export function mountCommand(leaderPid: number, server: string, port: number, volumeId: string, target: string): string[] {
  return ['nsenter', '-t', String(leaderPid), '-m', '-n', '--', 'mount', '-t', 'nfs4', '-o', `vers=4.1,port=${port},proto=tcp,hard,timeo=600`,
    `${server}:/${volumeId}`, target];
}

export class NfsServer implements HostNfs {
  private exports: ExportEntry[] = [];
  private loaded = false;

  constructor(private readonly units: UnitManager, private readonly dir: string, readonly port = 2049) {}

  unit(): UnitSpec {
    return {
      name: NFS_UNIT, description: 'pcloud NFS server (nfs-ganesha) for container volumes',
      exec: ['ganesha.nfsd', '-F', '-f', join(this.dir, 'ganesha.conf'), '-L', join(this.dir, 'ganesha.log'), '-p', join(this.dir, 'ganesha.pid'), '-N', 'NIV_EVENT'],
      type: 'simple', startTimeoutSec: 10, stopTimeoutSec: 10,
      // Restarted with backoff if it dies; ganesha binds every address: its port is refused while another holds it.
      restart: SERVICE_RESTART, ports: [{ host: '0.0.0.0', port: this.port, setting: 'PCLOUD_NFS_PORT' }],
    };
  }

  exportPath(volumeId: string): string {
    return join(this.dir, 'exports', volumeId);
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.exports = JSON.parse(await readFile(join(this.dir, 'exports.json'), 'utf8').catch(() => '[]')) as ExportEntry[];
    this.loaded = true;
  }

  /** Write the exports and have ganesha take them: start it, or SIGHUP the one running. */
  private async apply(): Promise<void> {
    await mkdir(join(this.dir, 'recovery'), { recursive: true });
    await writeFile(join(this.dir, 'exports.json'), JSON.stringify(this.exports));
    await writeFile(join(this.dir, 'ganesha.conf'), ganeshaConfig(this.dir, this.port, this.exports));
    await run('nft', ['-f', '-'], { input: hostFilter(this.port, [...new Set(this.exports.flatMap((e) => e.clients))]) });
    const st = await this.units.status(NFS_UNIT);
    if (st && !isFinal(st.state)) {
      await this.units.signal(NFS_UNIT, 'SIGHUP');
      return;
    }
    if (st) await this.units.remove(NFS_UNIT);
    await this.units.start(this.unit());
  }

  /**
   * Export a volume's file system to `client` (the VPC router's uplink address): an ext4 file system made if the
   * file has none, loop-mounted on the host, exported at `/VOLUME`. Idempotent.
   */
  export(volumeId: string, file: string, client: string): Promise<void> {
    return this.serialized(() => this.exportNow(volumeId, file, client));
  }

  /**
   * Exports changed one at a time: two at once (volumes attached to several containers together) would each write the
   * exports and start ganesha (the second start refused), or write over each other's exports.
   */
  private readonly changes = new KeyedQueue();
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    return this.changes.run('ganesha', fn);
  }

  private async exportNow(volumeId: string, file: string, client: string): Promise<void> {
    await this.load();
    const path = this.exportPath(volumeId);
    await mkdir(path, { recursive: true });
    if (!(await isMounted(path))) {
      if (await blankVolume(file)) await run('mkfs.ext4', ['-q', '-F', '-L', volumeId.slice(0, 16), file], { timeoutMs: BOUND_MS.mkfs });
      await run('mount', ['-o', 'loop', file, path], { timeoutMs: BOUND_MS.mount });
    }
    const e = this.exports.find((x) => x.volumeId === volumeId);
    if (e) {
      // A volume is attached to one instance at a time: its export goes to that one only.
      if (e.clients.length === 1 && e.clients[0] === client) return;
      e.clients = [client];
    } else {
      this.exports.push({ id: Math.max(1, ...this.exports.map((x) => x.id)) + 1, volumeId, path, clients: [client] });
    }
    await this.apply();
  }

  unexport(volumeId: string): Promise<void> {
    return this.serialized(() => this.unexportNow(volumeId));
  }

  private async unexportNow(volumeId: string): Promise<void> {
    await this.load();
    const path = this.exportPath(volumeId);
    if (this.exports.some((x) => x.volumeId === volumeId)) {
      this.exports = this.exports.filter((x) => x.volumeId !== volumeId);
      await this.apply();
    }
    if (await isMounted(path)) await run('umount', ['-l', path], { timeoutMs: BOUND_MS.mount });
    await rm(path, { recursive: true, force: true });
  }

  /** Mount an exported volume inside a running container at `target`. */
  async mountInto(leaderPid: number, server: string, volumeId: string, target: string): Promise<void> {
    // The mount point is made as the instance's root (its user namespace), so it is the instance's own; the mount
    // itself needs the host's root (NFS cannot be mounted from a user namespace).
    const [cmd, ...mkdirArgs] = [...enterAsRoot(leaderPid, ['-m']), 'mkdir', '-p', target];
    await run(cmd, mkdirArgs, { timeoutMs: BOUND_MS.probe });
    const command = mountCommand(leaderPid, server, this.port, volumeId, target);
    try {
      // Under coreutils' timeout, which ends its whole process group: mount's own helper (mount.nfs4) too, which would
      // keep the output open (and the call pending) past a timeout that ended mount alone.
      const seconds = String(BOUND_MS.nfsMount / 1000);
      await run('timeout', ['-k', '5', seconds, ...command], { timeoutMs: BOUND_MS.nfsMount + 15_000 });
    } catch (err) {
      throw new NfsMountError(!(await kernelHasNfs()), (err as Error).message);
    }
  }

  async unmountFrom(leaderPid: number, target: string): Promise<void> {
    await run('nsenter', ['-t', String(leaderPid), '-m', '--', 'umount', '-l', target], { reject: false });
  }
}

/**
 * Whether a volume is blank (mkfs makes its file system): blkid found nothing on it. Its exit 2 means that, and also
 * that it could not open or read the file (saying so, or not): the start of the volume is read here first, so a volume
 * that cannot be read is never formatted over. A file system: not blank. Anything else (a partition table without a
 * file system, an ambiguous probe, a probe that failed or timed out) is refused.
 */
export async function blankVolume(file: string): Promise<boolean> {
  try {
    const f = await open(file, 'r');
    try { await f.read(Buffer.alloc(1 << 20), 0, 1 << 20, 0); } finally { await f.close(); }
  } catch (err) {
    throw new VolumeNotMountable('unreadable', (err as Error).message);
  }
  const probe = await run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', file], { reject: false, timeoutMs: BOUND_MS.probe });
  if (probe.exitCode === 2 && !probe.stderr.trim() && !probe.stdout.trim()) return true;
  if (probe.exitCode === 0 && probe.stdout.trim()) return false;
  throw new VolumeNotMountable(probe.exitCode === 0 ? 'no-file-system' : 'unreadable', `blkid exit ${probe.exitCode}: ${probe.stdout.trim()} ${probe.stderr.trim()}`);
}

/**
 * A volume a container cannot take as it is, left untouched: `no-file-system`, it holds something else (a partition
 * table a VM made); `unreadable`, its probe failed. The message is for the server's log.
 */
export class VolumeNotMountable extends Error {
  constructor(readonly why: 'no-file-system' | 'unreadable', detail: string) {
    super(`the volume was not formatted or mounted (${why}): ${detail}`);
  }
}

/**
 * A volume's NFS mount failed inside a container. `kernelLacksNfs`: this host's kernel has no NFS client (asked after
 * the mount, which loads the module where there is one). The message is the failed command's, for the server's log.
 */
export class NfsMountError extends Error {
  constructor(readonly kernelLacksNfs: boolean, detail: string) {
    super(detail);
  }
}

/** Whether the kernel knows the nfs4 file system (built in, or its module loaded). */
async function kernelHasNfs(): Promise<boolean> {
  return (await readFile('/proc/filesystems', 'utf8').catch(() => '')).split('\n').some((l) => l.split('\t').pop() === 'nfs4');
}

async function isMounted(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((l) => l.split(' ')[4] === path);
}
