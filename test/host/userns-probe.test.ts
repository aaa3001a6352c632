/** `pcloud doctor`'s user namespace probe, for real on this host (a throwaway root, nspawn, /usr/bin/true). */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeUserNamespaces } from '../../src/host/nspawn.js';

describe('probeUserNamespaces', () => {
  it('finds how containers get their user namespace here (idmapped mounts on this kernel), leaving nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-userns-'));
    try {
      // host-facts: nspawn 252 with idmapped mounts on this kernel; a host without them answers chown (or an error).
      expect(await probeUserNamespaces(dir)).toEqual({ ownership: 'map' });
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
