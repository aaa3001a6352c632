/** The loop pool is never made larger than the free space under it (a full loop would fill the host's disk). */
import { describe, expect, it } from 'vitest';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loopPoolSizeGiB } from '../../src/host/storage.js';

describe('loopPoolSizeGiB', () => {
  it('takes what is asked when there is room, and the free space (whole GiB) when there is not', async () => {
    const fs = statfsSync(tmpdir());
    const freeGiB = Math.floor((fs.bavail * fs.bsize) / 2 ** 30);
    expect(await loopPoolSizeGiB(tmpdir(), 1)).toBe(Math.min(1, freeGiB));
    expect(await loopPoolSizeGiB(tmpdir(), freeGiB + 1000)).toBe(freeGiB);
  });
});
