/**
 * A fork's root volume size on an XFS pool (project quotas), on a throwaway XFS loop with reflink (root). This
 * machine's kernel has no XFS quotas (CONFIG_XFS_QUOTA unset: `mount -o prjquota` fails), so here the pool is seen
 * to enforce nothing; on a kernel with them, a write past the size fails and removal drops the project's limit.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoragePool } from '../../src/host/storage.js';
import { kernelHasXfsQuotas, projectOf } from '../../src/host/xfs-quota.js';

const MiB = 2 ** 20;
const hasQuotas = await kernelHasXfsQuotas();
const root = process.getuid?.() === 0;

function write(file: string, mib: number): { status: number | null; stderr: string } {
  const r = spawnSync('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fsync', 'status=none'], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe.skipIf(!root)('root volume sizes on an XFS pool', () => {
  let dataDir: string;

  /** An XFS (reflink) loop mounted at DATA/pool with `opts`; the mount's exit code. */
  function xfsPool(opts: string): number | null {
    dataDir = mkdtempSync('/var/tmp/pcloud-xfsq-');
    const img = join(dataDir, 'xfs.img');
    spawnSync('truncate', ['-s', '1G', img]);
    expect(spawnSync('mkfs.xfs', ['-q', '-m', 'reflink=1', img]).status).toBe(0);
    mkdirSync(join(dataDir, 'pool'));
    return spawnSync('mount', ['-o', `loop,${opts}`, img, join(dataDir, 'pool')]).status;
  }

  async function image(pool: StoragePool): Promise<string> {
    const build = await pool.createImageRoot('.build-test');
    mkdirSync(join(build, 'etc'));
    writeFileSync(join(build, 'etc', 'image-file'), Buffer.alloc(8 * MiB, 1));
    return pool.sealImage(build, 'ami-00000000000000002');
  }

  beforeEach(() => { dataDir = ''; });
  afterEach(() => {
    if (!dataDir) return;
    spawnSync('umount', [join(dataDir, 'pool')]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('without project quotas: the pool is XFS and says it enforces no sizes; forks still work', async () => {
    expect(xfsPool('nodev')).toBe(0);
    const pool = await StoragePool.open(dataDir);
    expect(pool.kind).toBe('xfs');
    expect(pool.info.xfsQuotaMount).toBeUndefined();
    const disk = await pool.fork(await image(pool), 'i-0000000000000000c', 0.25);
    expect(await projectOf(disk)).toBe(0);
    await pool.removeDisk('i-0000000000000000c');
  });

  it.skipIf(!hasQuotas)('with prjquota: a write past the size fails, and removal drops the limit (needs CONFIG_XFS_QUOTA)', async () => {
    expect(xfsPool('nodev,prjquota')).toBe(0);
    const pool = await StoragePool.open(dataDir);
    expect(pool.info.xfsQuotaMount).toBe(join(dataDir, 'pool'));
    const disk = await pool.fork(await image(pool), 'i-0000000000000000d', 0.25);
    const project = await projectOf(disk);
    expect(project).toBeGreaterThan(0);
    expect(write(join(disk, 'within'), 150).status).toBe(0);
    const past = write(join(disk, 'past'), 150);
    expect(past.status).not.toBe(0);
    expect(past.stderr).toMatch(/Disk quota exceeded|No space left/);
    await pool.removeDisk('i-0000000000000000d');
    const left = spawnSync('xfs_quota', ['-x', '-c', `quota -p -N -b ${project}`, join(dataDir, 'pool')], { encoding: 'utf8' }).stdout;
    // No record, or one with nothing used and no limit.
    expect(left.trim().split(/\s+/).slice(1).filter((w) => /^\d+$/.test(w)).every((n) => n === '0')).toBe(true);
  });
});
