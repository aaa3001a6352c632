/**
 * For the tests of images reaching joined hosts (issue 17): a small image's files written into a control plane's pool
 * (a root with a setuid file, a hard link, links in and out, and VM files with a sparse disk), a host key as `pcloud
 * host join` gets one, and a real storage pool for a second host (a btrfs loop file: root only).
 */
import { spawnSync } from 'node:child_process';
import { chmod, link, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../../src/db/index.js';
import { defaultHostsConfig } from '../../src/cloud/config.js';
import { issueToken, redeemToken } from '../../src/cloud/hosts/tokens.js';
import type { HostPool } from '../../src/host/index.js';
import { StoragePool } from '../../src/host/storage.js';

/** What the test image's root holds (its marker file's text names the image). */
export const MARKER = 'etc/pcloud-test-image';

/** Write a small image's files where `pool` keeps the image `id`: its root, and VM files unless `vm` is false. */
export async function writeTestImage(pool: HostPool, id: string, opts: { vm?: boolean } = {}): Promise<void> {
  const root = pool.imagePath(id);
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await writeFile(join(root, MARKER), `image ${id}\n`);
  await writeFile(join(root, 'usr/bin/sudo'), '#!/bin/sh\n');
  await chmod(join(root, 'usr/bin/sudo'), 0o4755);
  await link(join(root, 'usr/bin/sudo'), join(root, 'usr/bin/sudoedit'));
  await symlink('/etc/shadow', join(root, 'etc/host-shadow'));
  await symlink('../usr/bin/sudo', join(root, 'etc/sudo'));
  if (opts.vm === false) return;
  const vm = pool.vmDir(id);
  await mkdir(vm, { recursive: true });
  await writeFile(join(vm, 'vmlinux'), `kernel of ${id}\n`);
  await writeFile(join(vm, 'initrd.img'), 'initrd\n');
  await writeFile(join(vm, 'disk.raw'), 'disk\n');
  await truncate(join(vm, 'disk.raw'), 1 << 30); // sparse: 1 GiB that takes a block
}

/** A host key of the host `name`, from a join token redeemed as `pcloud host join` does. */
export async function hostKey(db: Db, name: string): Promise<string> {
  const { token } = await issueToken(db);
  return (await redeemToken(db, token, name, defaultHostsConfig)).key;
}

/** A real storage pool in a data dir of its own (a 1 GiB btrfs loop file), and what removes it. */
export async function loopPool(): Promise<{ dataDir: string; pool: StoragePool; remove: () => Promise<void> }> {
  const base = process.env.PCLOUD_TEST_BASE ?? '/var/tmp/pcloud-tests';
  await mkdir(base, { recursive: true });
  const dataDir = await mkdtemp(join(base, 'image-fetch-'));
  const pool = await StoragePool.open(dataDir, { loopSizeGiB: 1 });
  return {
    dataDir, pool,
    async remove() {
      spawnSync('umount', [join(dataDir, 'pool')]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
