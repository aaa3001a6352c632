/** CreateImage of a container never carries a container's shifted uids into an image. */
import { describe, expect, it } from 'vitest';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertUnshifted } from '../../src/host/storage.js';

describe('assertUnshifted', () => {
  it('takes a disk whose root is uid 0 (idmapped forks) and refuses one chowned into a container range', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-shift-'));
    try {
      await expect(assertUnshifted(dir)).resolves.toBeUndefined();
      chownSync(dir, 1684209664, 1684209664); // as nspawn --private-users-ownership=chown leaves a fork
      await expect(assertUnshifted(dir)).rejects.toThrow(/idmapped mounts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
