/**
 * A fork's root volume size, for real on a throwaway btrfs loop pool (root; a kernel with btrfs simple quotas):
 * writes within it work, a write past it fails with EDQUOT, a subvolume the tenant nests in its root counts against
 * the same limit, and removing the disk leaves no quota group.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoragePool } from '../../src/host/storage.js';
import { kernelHasSimpleQuotas, levelOneGroups, quotaMode, subvolumeId } from '../../src/host/btrfs-quota.js';

const MiB = 2 ** 20;

/** Write `mib` MiB of random data (not compressible, not sparse) to `file`; the exit code and error of dd. */
function write(file: string, mib: number): { status: number | null; stderr: string } {
  const r = spawnSync('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fsync', 'status=none'], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

const skip = !(await kernelHasSimpleQuotas()) || process.getuid?.() !== 0;

describe.skipIf(skip)('root volume sizes on a btrfs pool (simple quotas)', () => {
  let dataDir: string;
  let pool: StoragePool;
  let image: string;

  beforeAll(async () => {
    dataDir = mkdtempSync('/var/tmp/pcloud-quota-');
    pool = await StoragePool.open(dataDir, { loopSizeGiB: 2 });
    const build = await pool.createImageRoot('.build-test');
    mkdirSync(join(build, 'etc'));
    writeFileSync(join(build, 'etc', 'image-file'), Buffer.alloc(8 * MiB, 1));
    image = await pool.sealImage(build, 'ami-00000000000000001');
  });

  afterAll(() => {
    if (!dataDir) return;
    spawnSync('umount', [join(dataDir, 'pool')]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('enables simple quotas on the pool it makes', async () => {
    expect(pool.info.quotaSysDir).toBeDefined();
    expect(await quotaMode(pool.info.quotaSysDir!)).toBe('squota');
  });

  it('lets a fork write within its size and fails a write past it, nested subvolumes included; removal leaves no group', async () => {
    // A 256 MiB root volume: 248 MiB of room beside the 8 MiB image.
    const disk = await pool.fork(image, 'i-0000000000000000a', 0.25);
    const id = await subvolumeId(disk);
    expect(await levelOneGroups(pool.info.quotaSysDir!)).toContain(id);

    expect(write(join(disk, 'within'), 150).status).toBe(0);
    const past = write(join(disk, 'past'), 150);
    expect(past.status).not.toBe(0);
    expect(past.stderr).toMatch(/Disk quota exceeded|No space left/);
    rmSync(join(disk, 'past'), { force: true });
    rmSync(join(disk, 'within'));
    spawnSync('sync');

    // As a tenant can (BTRFS_IOC_SUBVOL_CREATE in its root): the nested subvolume joins the fork's group.
    expect(spawnSync('btrfs', ['-q', 'subvolume', 'create', join(disk, 'nested')]).status).toBe(0);
    expect(write(join(disk, 'nested', 'within'), 150).status).toBe(0);
    const nested = write(join(disk, 'nested', 'past'), 150);
    expect(nested.status).not.toBe(0);
    expect(nested.stderr).toMatch(/Disk quota exceeded|No space left/);

    // Started again (a stopped instance): the same disk, the same group, the limit still there.
    expect(await pool.fork(image, 'i-0000000000000000a', 0.25)).toBe(disk);
    expect(write(join(disk, 'again'), 150).status).not.toBe(0);

    await pool.removeDisk('i-0000000000000000a');
    expect(await levelOneGroups(pool.info.quotaSysDir!)).toEqual([]);
    const groups = spawnSync('btrfs', ['qgroup', 'show', '--raw', join(dataDir, 'pool')], { encoding: 'utf8' }).stdout;
    expect(groups).not.toMatch(new RegExp(`\\b[01]/${id}\\b`));
  });

  it('refuses a root volume smaller than its image, leaving no disk', async () => {
    await expect(pool.fork(image, 'i-0000000000000000b', 0.005)).rejects.toThrow(/larger than/);
    expect(await pool.hasDisk('i-0000000000000000b')).toBe(false);
  });
});
