/**
 * The storage pool: images unpacked ahead of time and instance disks forked from them by reflink.
 * btrfs: subvolumes and snapshots (milliseconds). XFS with reflink: `cp --reflink=always`. When the data dir is on
 * neither, a btrfs file system on a loop file under the data dir is created and mounted (said loudly).
 */
import { access, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, output } from './exec.js';
import { log } from '../log.js';

export type PoolKind = 'btrfs' | 'xfs';

export interface PoolInfo {
  kind: PoolKind;
  root: string;
  loopFile?: string;
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

export class StoragePool {
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
          log.warn(`${dataDir} is on ${type}, which has no reflink: creating a btrfs pool in ${loopFile}`);
          await run('truncate', ['-s', `${opts.loopSizeGiB ?? 64}G`, loopFile]);
          await run('mkfs.btrfs', ['-q', '-f', loopFile]);
        }
        // nodev: a device node in an image or a fork (a tenant's CreateImage) never opens a host device.
        await run('mount', ['-o', 'loop,nodev', loopFile, root]);
      }
      type = await fsType(root);
    }
    const kind: PoolKind = type === 'btrfs' ? 'btrfs' : 'xfs';
    const pool = new StoragePool({ kind, root, loopFile });
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

  /** Fork an image into an instance's root disk by reflink. Milliseconds on btrfs. */
  async fork(imageRoot: string, instanceId: string): Promise<string> {
    const path = this.diskPath(instanceId);
    if (await exists(path)) return path;
    if (this.kind === 'btrfs') await run('btrfs', ['-q', 'subvolume', 'snapshot', imageRoot, path]);
    else await run('cp', ['-a', '--reflink=always', imageRoot, path]);
    return path;
  }

  async hasDisk(instanceId: string): Promise<boolean> {
    return (await exists(this.diskPath(instanceId))) || exists(this.rawDiskPath(instanceId));
  }

  async removeDisk(instanceId: string): Promise<void> {
    await this.removePath(this.diskPath(instanceId));
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

  async removeSnapshot(snapshotId: string): Promise<void> {
    await rm(this.snapshotPath(snapshotId), { force: true });
    await rm(`${this.snapshotPath(snapshotId)}.tmp`, { force: true });
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
