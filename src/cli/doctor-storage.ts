/** `pcloud doctor`'s storage checks: the loop pool fits the disk under it, and instances' root volume sizes hold. */
import { stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../host/exec.js';
import { btrfsSysDir, kernelHasSimpleQuotas, quotaMode } from '../host/btrfs-quota.js';
import { kernelHasXfsQuotas, mountPointOf, projectQuotasEnforced } from '../host/xfs-quota.js';
import type { Check } from './check.js';

const GiB = 2 ** 30;

/**
 * A sparse loop pool larger than what it holds plus the free space under it lets instances fill the host's file
 * system (and every data dir and log on it) before the pool is full.
 */
export async function loopPoolSpace(dataDir: string): Promise<Check> {
  const name = 'storage pool fits its disk';
  const loopFile = join(dataDir, 'pool.btrfs');
  const st = await stat(loopFile).catch(() => undefined);
  if (!st) return { name, ok: true, detail: 'no loop pool (one is made no larger than the free space under it)' };
  const fs = await statfs(dataDir);
  const room = st.blocks * 512 + fs.bavail * fs.bsize;
  const gib = (n: number) => `${(n / GiB).toFixed(1)} GiB`;
  if (st.size <= room) return { name, ok: true, detail: `${loopFile}: ${gib(st.size)}, ${gib(room)} available to it` };
  const fit = Math.max(1, Math.floor(room / GiB));
  return {
    name, ok: false,
    detail: `${loopFile} is ${gib(st.size)} but only ${gib(room)} is available to it: instances can fill the file system under ${dataDir} before the pool is full`,
    fix: `btrfs filesystem resize ${fit}G ${join(dataDir, 'pool')} && truncate -s ${fit}G ${loopFile} (or free space under ${dataDir})`,
  };
}

/** Root volume sizes are enforced by btrfs simple quotas (Linux >= 6.7) or XFS project quotas; full quota groups do not. */
export async function rootVolumeSizes(dataDir: string): Promise<Check> {
  const name = 'root volume sizes (containers)';
  const pool = join(dataDir, 'pool');
  const type = (await run('stat', ['-f', '-c', '%T', pool], { reject: false })).stdout.trim();
  const squotas = await kernelHasSimpleQuotas();
  if (type === 'xfs') {
    const mount = await mountPointOf(pool);
    if (await projectQuotasEnforced(mount)) return { name, ok: true, detail: `XFS project quotas on ${mount}: each container's disk is held to its root volume's size` };
    return {
      name, ok: false, detail: `${pool} is XFS without project quotas: a container can write until the pool is full`,
      fix: (await kernelHasXfsQuotas())
        ? `mount ${mount} with -o prjquota (in /etc/fstab too)`
        : 'a kernel with XFS quotas (CONFIG_XFS_QUOTA) and the pool\'s XFS mounted with -o prjquota, or a data dir on btrfs',
    };
  }
  if (type === 'btrfs') {
    const mode = await quotaMode(await btrfsSysDir(pool)).catch(() => 'off' as const);
    if (mode === 'squota') return { name, ok: true, detail: `btrfs simple quotas on ${pool}: each container's writes are held to its root volume's size` };
    if (mode === 'qgroup') {
      return {
        name, ok: false, detail: `${pool} has full btrfs quota groups, which leave subvolumes nested in a root out: sizes are not enforced`,
        fix: `btrfs quota disable ${pool} (pcloud enables simple quotas at its next start)`,
      };
    }
  }
  return squotas
    ? { name, ok: true, detail: 'btrfs simple quotas: enabled on the pool at its next start' }
    : { name, ok: false, detail: 'this kernel has no btrfs simple quotas: a container can write until the pool is full', fix: 'run pcloud on Linux >= 6.7 (btrfs simple quotas)' };
}
