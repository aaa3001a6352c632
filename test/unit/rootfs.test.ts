/** Reading a file out of an image's root never follows a link out of it (what an image's /boot may hold). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInside, UnsafeImageError } from '../../src/host/rootfs.js';

let base: string;
let root: string;
const secret = () => join(base, 'host-secret');

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'pcloud-rootfs-'));
  root = join(base, 'root');
  mkdirSync(join(root, 'boot'), { recursive: true });
  writeFileSync(secret(), 'host secret\n');
  writeFileSync(join(root, 'boot/vmlinuz-6.1'), 'kernel');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('readInside', () => {
  it('reads a regular file of the root', async () => {
    expect((await readInside(root, 'boot/vmlinuz-6.1')).toString()).toBe('kernel');
  });

  it('refuses a file that is a link, out of the root or not', async () => {
    symlinkSync(secret(), join(root, 'boot/initrd.img-6.1'));
    symlinkSync('vmlinuz-6.1', join(root, 'boot/initrd.img-6.2'));
    for (const f of ['boot/initrd.img-6.1', 'boot/initrd.img-6.2']) {
      const err = await readInside(root, f).catch((e: Error) => e);
      expect(err).toBeInstanceOf(UnsafeImageError);
      expect((err as Error).message).toContain(`/${f} is a symbolic link`);
      expect((err as Error).message).not.toContain(base);
    }
  });

  it('refuses a directory on the way that is a link', async () => {
    rmSync(join(root, 'boot'), { recursive: true });
    mkdirSync(join(base, 'hostboot'));
    writeFileSync(join(base, 'hostboot/vmlinuz-6.1'), 'host kernel');
    symlinkSync(join(base, 'hostboot'), join(root, 'boot'));
    await expect(readInside(root, 'boot/vmlinuz-6.1')).rejects.toThrow(/\/boot is a symbolic link/);
  });

  it('refuses what is not a regular file, and paths that climb out', async () => {
    mkdirSync(join(root, 'boot/initrd.img-6.1'));
    await expect(readInside(root, 'boot/initrd.img-6.1')).rejects.toThrow(/not a regular file/);
    await expect(readInside(root, '../host-secret')).rejects.toThrow(/leaves the root/);
  });
});
