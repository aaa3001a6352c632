/**
 * The data dir holds every account's keys: what holds secrets or tenants' files is root's only, whether pcloud makes
 * it or finds it made; the dir itself is traversable (the VPCs' dnsmasq, a user of its own, reads DATA/run/dns).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDataDir } from '../../src/paths.js';
import { openDb } from '../../src/db/index.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('the data dir', () => {
  it('is traversable only, its functions dir and database root\'s only, made or found', async () => {
    const base = mkdtempSync(join(tmpdir(), 'pcloud-data-'));
    await ensureDataDir(join(base, 'new/deeper'));
    expect(mode(join(base, 'new/deeper'))).toBe(0o711);
    expect(mode(join(base, 'new/deeper/functions'))).toBe(0o700);
    mkdirSync(join(base, 'old/functions'), { recursive: true, mode: 0o755 });
    await ensureDataDir(join(base, 'old'));
    expect(mode(join(base, 'old'))).toBe(0o711);
    expect(mode(join(base, 'old/functions'))).toBe(0o700);
    const db = openDb(join(base, 'old/pcloud.db'));
    db.$client.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    expect(mode(join(base, 'old/pcloud.db'))).toBe(0o600);
    expect(mode(join(base, 'old/pcloud.db-wal'))).toBe(0o600);
    db.$client.close();
  });
});
