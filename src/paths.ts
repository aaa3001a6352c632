import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root (where package.json, images/ and systemd/ live), from source or from dist/. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) {
    const up = dirname(dir);
    if (up === dir) throw new Error('project root not found');
    dir = up;
  }
  return dir;
}

/**
 * The data dir, made if missing. Traversable, not listable (0711): the VPCs' dnsmasq, which drops to a user of its
 * own, reads its files under DATA/run/dns. What holds secrets or tenants' files is root's only: the database (every
 * account's keys, 0600: openDb), the signing keys (0700), function code (0700 here) and the storage pool (0700, made
 * by the pool: image roots there hold setuid-root files that are root's only inside a container's user namespace).
 */
export async function ensureDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  await chmod(dir, 0o711);
  await mkdir(join(dir, 'functions'), { recursive: true, mode: 0o700 });
  await chmod(join(dir, 'functions'), 0o700);
}
