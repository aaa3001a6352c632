/** The data dir holds every account's keys: root only, whether pcloud makes it or finds it made. */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDataDir } from '../../src/paths.js';

describe('the data dir', () => {
  it('is made 0700, and an existing one is made 0700', async () => {
    const base = mkdtempSync(join(tmpdir(), 'pcloud-data-'));
    await ensureDataDir(join(base, 'new/deeper'));
    expect(statSync(join(base, 'new/deeper')).mode & 0o777).toBe(0o700);
    mkdirSync(join(base, 'old'), { mode: 0o755 });
    await ensureDataDir(join(base, 'old'));
    expect(statSync(join(base, 'old')).mode & 0o777).toBe(0o700);
  });
});
