/**
 * A volume a container takes gets an ext4 file system the first time, and only when it is blank: blkid (for real) says
 * what is on it. What holds something else, or cannot be read, is refused and left as it is, never formatted over.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blankVolume, VolumeNotMountable } from '../../src/host/nfs.js';
import { FAST_TIER } from '../support/tier.js';

const SIZE = 64 << 20;

describe.skipIf(FAST_TIER)('a volume blank enough to format', () => {
  let dir: string;
  const file = (name: string) => join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pcloud-blank-'));
    writeFileSync(file('blank'), '');
    truncateSync(file('blank'), SIZE);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const refusal = async (path: string) => {
    try {
      return `formatted: ${await blankVolume(path)}`;
    } catch (err) {
      return err instanceof VolumeNotMountable ? err.why : `other: ${(err as Error).message}`;
    }
  };

  it('a new (sparse) volume is blank; one with a file system is not', async () => {
    writeFileSync(file('ext4'), '');
    truncateSync(file('ext4'), SIZE);
    execFileSync('mkfs.ext4', ['-q', '-F', file('ext4')]);
    expect(await blankVolume(file('blank'))).toBe(true);
    expect(await blankVolume(file('ext4'))).toBe(false);
  });

  it('refuses a volume with a partition table and no file system on the whole disk (a VM partitioned it)', async () => {
    // An MBR with one Linux partition, as fdisk writes it: blkid finds the table (exit 0) and no TYPE.
    const mbr = Buffer.alloc(512);
    mbr.writeUInt8(0x83, 446 + 4);
    mbr.writeUInt32LE(2048, 446 + 8);
    mbr.writeUInt32LE(SIZE / 512 - 2048, 446 + 12);
    mbr.writeUInt16LE(0xaa55, 510);
    writeFileSync(file('mbr'), mbr);
    truncateSync(file('mbr'), SIZE);
    expect(await refusal(file('mbr'))).toBe('no-file-system');
  });

  it('refuses what cannot be read (blkid exits 2 for it too, as for a blank one)', async () => {
    mkdirSync(file('a-directory'));
    expect(await refusal(file('a-directory'))).toBe('unreadable');
    expect(await refusal(file('missing'))).toBe('unreadable');
  });
});
