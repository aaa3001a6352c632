/**
 * The storage pool: images unpacked ahead of time and instance disks forked from them by reflink.
 * btrfs: subvolumes and snapshots (milliseconds). XFS with reflink: `cp --reflink=always`. When the data dir is on
 * neither, a btrfs file system on a loop file under the data dir is created and mounted (said loudly), no larger
 * than the free space under it. Root volume sizes are enforced by btrfs simple quotas (./btrfs-quota.ts) or XFS
 * project quotas (./xfs-quota.ts).
 */
import { access, chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, output } from './exec.js';
import { log } from '../log.js';
import {
  btrfsSysDir, enableSimpleQuotas, kernelHasSimpleQuotas, limitSubvolume, quotaMode, sweepGroups,
} from './btrfs-quota.js';
import { limitTree, mountPointOf, projectOf, projectQuotasEnforced, releaseProject } from './xfs-quota.js';
import type { PoolKind } from './types.js';
import type { HostPool } from './index.js';
export type { PoolKind } from './types.js';


export interface PoolInfo {
  kind: PoolKind;
  root: string;
  loopFile?: string;
  /** The pool's /sys/fs/btrfs directory when its forks' sizes are enforced (simple quotas). */
  quotaSysDir?: string;
  /** The XFS pool's mount point when its forks' sizes are enforced (project quotas). */
  xfsQuotaMount?: string;
}

const GiB = 2 ** 30;

/** The loop file's size: what was asked, but no more than the file system under it has free (whole GiB). */
export async function loopPoolSizeGiB(dir: string, wantedGiB: number): Promise<number> {
  const fs = await statfs(dir);
  const freeGiB = Math.floor((fs.bavail * fs.bsize) / GiB);
  if (freeGiB < 1) throw new Error(`${dir} has less than 1 GiB free: no room for a storage pool`);
  return Math.min(wantedGiB, freeGiB);
}

/** Enable simple quotas on a btrfs pool where the kernel has them; undefined (said loudly) where sizes cannot be enforced. */
async function setUpQuotas(root: string): Promise<string | undefined> {
  const sysDir = await btrfsSysDir(root);
  let mode = await quotaMode(sysDir);
  if (mode === 'off' && (await kernelHasSimpleQuotas())) {
    await enableSimpleQuotas(root);
    mode = await quotaMode(sysDir);
  }
  if (mode === 'squota') {
    await sweepGroups(root, sysDir, false);
    return sysDir;
  }
  log.warn(mode === 'qgroup'
    ? `${root} has full btrfs quota groups: instances' root volume sizes are not enforced (see pcloud doctor)`
    : `this kernel has no btrfs simple quotas: instances' root volume sizes are not enforced (see pcloud doctor)`);
  return undefined;
}

async function fsType(path: string): Promise<string> {
  return (await output('stat', ['-f', '-c', '%T', path])).trim();
}

async function isMountPoint(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((l) => l.split(' ')[4] === path);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

export class StoragePool implements HostPool {
  private constructor(readonly info: PoolInfo) {}

  get kind(): PoolKind { return this.info.kind; }
  get root(): string { return this.info.root; }

  /** Open the pool under DATA/pool, creating (and mounting) a btrfs loop file when DATA is on neither btrfs nor XFS. */
  static async open(dataDir: string, opts: { loopSizeGiB?: number } = {}): Promise<StoragePool> {
    const root = join(dataDir, 'pool');
    await mkdir(root, { recursive: true });
    let type = await fsType(root);
    let loopFile: string | undefined;
    if (type !== 'btrfs' && !(type === 'xfs' && (await xfsHasReflink(root)))) {
      loopFile = join(dataDir, 'pool.btrfs');
      if (!(await isMountPoint(root))) {
        if (!(await exists(loopFile))) {
          const wanted = opts.loopSizeGiB ?? 64;
          const size = await loopPoolSizeGiB(dataDir, wanted);
          log.warn(`${dataDir} is on ${type}, which has no reflink: creating a ${size} GiB btrfs pool in ${loopFile}`
            + (size < wanted ? ` (${wanted} GiB asked: no more is free under it)` : ''));
          await run('truncate', ['-s', `${size}G`, loopFile]);
          await run('mkfs.btrfs', ['-q', '-f', loopFile]);
        }
        // Not nodev: debootstrap refuses to build an image on a nodev mount. A device node never opens a host device
        // all the same: images lose theirs when registered, a container's user namespace cannot make one, and
        // containers get a closed device policy (units/devices.ts).
        await run('mount', ['-o', 'loop', loopFile, root]);
      }
      type = await fsType(root);
    }
    const kind: PoolKind = type === 'btrfs' ? 'btrfs' : 'xfs';
    const quotaSysDir = kind === 'btrfs' ? await setUpQuotas(root) : undefined;
    const xfsQuotaMount = kind === 'xfs' ? await mountPointOf(root) : undefined;
    const xfsEnforced = xfsQuotaMount !== undefined && (await projectQuotasEnforced(xfsQuotaMount));
    if (kind === 'xfs' && !xfsEnforced) {
      log.warn(`${root} is XFS without project quotas: instances' root volume sizes are not enforced (see pcloud doctor)`);
    }
    const pool = new StoragePool({ kind, root, loopFile, quotaSysDir, xfsQuotaMount: xfsEnforced ? xfsQuotaMount : undefined });
    // Root's only: image roots hold setuid-root files (root's only inside a container's user namespace).
    await chmod(root, 0o700);
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'instances'), { recursive: true });
    await mkdir(join(root, 'volumes'), { recursive: true });
    await mkdir(join(root, 'snapshots'), { recursive: true });
    return pool;
  }

  imagePath(imageId: string): string { return join(this.root, 'images', imageId); }
  diskPath(instanceId: string): string { return join(this.root, 'instances', instanceId); }

  /**
   * A fresh, empty directory (subvolume on btrfs) to unpack an image into, marked with the pid of the process that
   * fills it so that a crash leaves something reconcile can recognise and remove.
   */
  async createImageRoot(name: string): Promise<string> {
    const path = join(this.root, 'images', name);
    await this.removePath(path);
    if (this.kind === 'btrfs') await run('btrfs', ['-q', 'subvolume', 'create', path]);
    else await mkdir(path);
    await writeFile(`${path}.owner`, String(process.pid));
    return path;
  }

  /** Mark (or unmark) an image in the making as this process's, so that reconcile leaves it alone while we live. */
  async markOwner(name: string, on = true): Promise<void> {
    const file = `${join(this.root, 'images', name)}.owner`;
    if (on) await writeFile(file, String(process.pid));
    else await rm(file, { force: true });
  }

  /** An instance's disk copied (reflink: a snapshot on btrfs) into a new image root, marked as createImageRoot does. */
  async imageRootFromDisk(instanceId: string, name: string): Promise<string> {
    await assertUnshifted(this.diskPath(instanceId));
    const path = join(this.root, 'images', name);
    await this.removePath(path);
    await writeFile(`${path}.owner`, String(process.pid));
    if (this.kind === 'btrfs') await run('btrfs', ['-q', 'subvolume', 'snapshot', this.diskPath(instanceId), path]);
    else await run('cp', ['-a', '--reflink=always', this.diskPath(instanceId), path]);
    return path;
  }

  /** Move a built image root to its final name and make it read-only. */
  async sealImage(buildPath: string, imageId: string): Promise<string> {
    const final = this.imagePath(imageId);
    await run('mv', ['-T', buildPath, final]);
    await rm(`${buildPath}.owner`, { force: true });
    if (this.kind === 'btrfs') await run('btrfs', ['property', 'set', '-ts', final, 'ro', 'true']);
    return final;
  }

  /**
   * Fork an image into an instance's root disk by reflink. Milliseconds on btrfs. With `sizeGiB` (the root volume's
   * size), its disk is held to that size where the pool enforces sizes (a write past it fails with EDQUOT): on btrfs
   * what the instance writes is limited to the size less its image's, on XFS the whole tree to the size.
   */
  async fork(imageRoot: string, instanceId: string, sizeGiB?: number): Promise<string> {
    const path = this.diskPath(instanceId);
    const made = !(await exists(path));
    if (made) {
      if (this.kind === 'btrfs') await run('btrfs', ['-q', 'subvolume', 'snapshot', imageRoot, path]);
      else await run('cp', ['-a', '--reflink=always', imageRoot, path]);
    }
    const { quotaSysDir: sysDir, xfsQuotaMount } = this.info;
    if (sizeGiB !== undefined && (sysDir || xfsQuotaMount)) {
      try {
        const room = sizeGiB * GiB - (await this.imageBytes(imageRoot));
        if (room <= 0) throw new Error(`the image is larger than a ${sizeGiB} GiB root volume`);
        if (sysDir) await limitSubvolume(this.root, sysDir, path, room);
        else await limitTree(xfsQuotaMount!, path, instanceId, sizeGiB * GiB);
      } catch (err) {
        if (made) await this.removeDisk(instanceId).catch(() => undefined);
        throw err;
      }
    }
    return path;
  }

  private readonly imageSizes = new Map<string, Promise<number>>();

  /** Bytes an image's root takes (its files' blocks; measured once: an image is read-only). */
  private imageBytes(imageRoot: string): Promise<number> {
    let size = this.imageSizes.get(imageRoot);
    if (!size) {
      size = output('du', ['-sx', '-B1', imageRoot]).then((out) => Number(out.split(/\s/)[0]));
      size.catch(() => this.imageSizes.delete(imageRoot));
      this.imageSizes.set(imageRoot, size);
    }
    return size;
  }

  async hasDisk(instanceId: string): Promise<boolean> {
    return (await exists(this.diskPath(instanceId))) || exists(this.rawDiskPath(instanceId));
  }

  async removeDisk(instanceId: string): Promise<void> {
    const disk = await exists(this.diskPath(instanceId));
    const { xfsQuotaMount } = this.info;
    const project = disk && xfsQuotaMount ? await projectOf(this.diskPath(instanceId)) : 0;
    await this.removePath(this.diskPath(instanceId));
    // Its quota group goes once the subvolumes are dropped (and any a failed earlier removal left).
    if (disk && this.info.quotaSysDir) await sweepGroups(this.root, this.info.quotaSysDir, true);
    if (xfsQuotaMount) await releaseProject(xfsQuotaMount, project);
    await rm(this.rawDiskPath(instanceId), { force: true });
    await rm(`${this.rawDiskPath(instanceId)}.tmp`, { force: true });
    await rm(this.stateDir(instanceId), { recursive: true, force: true });
  }

  /** A VM instance's own state beside its disk (firmware variables, TPM), kept across stop/start. */
  stateDir(instanceId: string): string {
    return `${this.diskPath(instanceId)}.state`;
  }

  /** Where an image's microvm artifacts live (vmlinux, initrd, raw disk), beside its root. */
  vmDir(imageId: string): string {
    return `${this.imagePath(imageId)}.vm`;
  }

  /** An instance's raw disk (microvm), a reflink copy of its image's. */
  rawDiskPath(instanceId: string): string {
    return `${this.diskPath(instanceId)}.raw`;
  }

  /** Fork an image's raw disk for a VM instance by reflink (milliseconds on btrfs and XFS). */
  async forkRaw(imageId: string, instanceId: string): Promise<string> {
    const path = this.rawDiskPath(instanceId);
    if (await exists(path)) return path;
    await run('cp', ['--reflink=always', join(this.vmDir(imageId), 'disk.raw'), `${path}.tmp`]);
    await rename(`${path}.tmp`, path);
    return path;
  }

  /** A volume's raw file. */
  volumePath(volumeId: string): string {
    return join(this.root, 'volumes', `${volumeId}.raw`);
  }

  snapshotPath(snapshotId: string): string {
    return join(this.root, 'snapshots', `${snapshotId}.raw`);
  }

  /** A new volume: sparse, or a reflink copy of a snapshot grown to its size. Milliseconds either way. */
  async createVolume(volumeId: string, sizeGiB: number, fromSnapshot?: string): Promise<string> {
    const path = this.volumePath(volumeId);
    if (fromSnapshot) await run('cp', ['--reflink=always', this.snapshotPath(fromSnapshot), `${path}.tmp`]);
    await run('truncate', ['-s', `${sizeGiB}G`, `${path}.tmp`]);
    await rename(`${path}.tmp`, path);
    return path;
  }

  /** A point-in-time copy of a raw file (a volume, or a VM's root disk) by reflink. */
  async snapshotFile(file: string, snapshotId: string): Promise<void> {
    const path = this.snapshotPath(snapshotId);
    await run('cp', ['--reflink=always', file, `${path}.tmp`]);
    await rename(`${path}.tmp`, path);
  }

  async removeVolume(volumeId: string): Promise<void> {
    await rm(this.volumePath(volumeId), { force: true });
    await rm(`${this.volumePath(volumeId)}.tmp`, { force: true });
  }

  async listVolumes(): Promise<string[]> {
    const names = (await readdir(join(this.root, 'volumes')).catch(() => [] as string[])).filter((n) => n.startsWith('vol-'));
    return [...new Set(names.map((n) => n.replace(/\.raw(\.tmp)?$/, '')))];
  }

  async removeSnapshot(snapshotId: string): Promise<void> {
    await rm(this.snapshotPath(snapshotId), { force: true });
    await rm(`${this.snapshotPath(snapshotId)}.tmp`, { force: true });
  }

  async listSnapshots(): Promise<string[]> {
    const names = (await readdir(join(this.root, 'snapshots')).catch(() => [] as string[])).filter((n) => n.startsWith('snap-'));
    return [...new Set(names.map((n) => n.replace(/\.raw(\.tmp)?$/, '')))];
  }

  /** A VM instance's raw disk, copied by reflink to `dest` (CreateImage of a VM). */
  async copyRawDisk(instanceId: string, dest: string): Promise<void> {
    await run('cp', ['--reflink=always', this.rawDiskPath(instanceId), `${dest}.tmp`]);
    await rename(`${dest}.tmp`, dest);
  }

  async removeImage(imageId: string): Promise<void> {
    const path = this.imagePath(imageId);
    await rm(`${path}.owner`, { force: true });
    await rm(this.vmDir(imageId), { recursive: true, force: true });
    if (this.kind === 'btrfs' && (await exists(path))) {
      await run('btrfs', ['property', 'set', '-ts', path, 'ro', 'false'], { reject: false });
    }
    await this.removePath(path);
  }

  /** Image roots in the pool: registered ones (ami-…) and builds under way or abandoned (.build-…, .import-…). */
  async listImageRoots(): Promise<{ name: string; ownerPid?: number }[]> {
    const names = await readdir(join(this.root, 'images'));
    const out: { name: string; ownerPid?: number }[] = [];
    // An imported disk image has only its `.vm` directory.
    const roots = new Set(names.filter((n) => !n.endsWith('.owner')).map((n) => n.replace(/\.vm$/, '')));
    for (const name of roots) {
      const owner = await readFile(join(this.root, 'images', `${name}.owner`), 'utf8').catch(() => undefined);
      out.push({ name, ownerPid: owner ? Number(owner) : undefined });
    }
    return out;
  }

  /** Ids of every instance disk in the pool (reconcile counts these against the database). */
  async listDisks(): Promise<string[]> {
    const names = (await readdir(join(this.root, 'instances'))).filter((n) => n.startsWith('i-'));
    return [...new Set(names.map((n) => n.replace(/\.(raw(\.tmp)?|state)$/, '')))];
  }

  private async removePath(path: string): Promise<void> {
    if (!(await exists(path))) return;
    if (this.kind === 'btrfs') {
      const st = await stat(path);
      // A subvolume's root directory has inode 256 on btrfs.
      if (st.ino === 256) {
        const res = await run('btrfs', ['-q', 'subvolume', 'delete', path], { reject: false });
        if (res.exitCode === 0) return;
      }
    }
    await rm(path, { recursive: true, force: true });
  }
}

/**
 * An image keeps the uids an image has (root is 0). Containers' forks are mounted idmapped, so their files keep them;
 * on a host without idmapped mounts nspawn chowns a fork into its container's uid range instead, and an image made
 * from it would carry that range: refused, with what the operator can do.
 */
export async function assertUnshifted(root: string): Promise<void> {
  const st = await lstat(root);
  if (st.uid !== 0) {
    throw new Error('this instance\'s disk is owned by its container\'s user namespace (this host has no idmapped mounts, see pcloud doctor): images can only be made from containers on hosts with idmapped mounts');
  }
}

async function xfsHasReflink(path: string): Promise<boolean> {
  const res = await run('xfs_info', [path], { reject: false });
  return res.exitCode === 0 && /reflink=1/.test(res.stdout);
}
