/** `pcloud doctor` says when a loop pool is larger than the free space under it, with the fix. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopPoolSpace } from '../../src/cli/doctor-storage.js';

describe('loopPoolSpace', () => {
  it('is ok without a loop pool or with one that fits, and a MISS with the fix for one larger than the room under it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-doctor-'));
    try {
      expect((await loopPoolSpace(dir)).ok).toBe(true);
      const file = join(dir, 'pool.btrfs');
      writeFileSync(file, '');
      truncateSync(file, 2 ** 30);
      expect((await loopPoolSpace(dir)).ok).toBe(true);
      const fs = statfsSync(dir);
      truncateSync(file, fs.bavail * fs.bsize + 10 * 2 ** 30); // sparse: takes nothing
      const check = await loopPoolSpace(dir);
      expect(check.ok).toBe(false);
      expect(check.fix).toContain(`truncate -s`);
      expect(check.fix).toContain(`btrfs filesystem resize`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
