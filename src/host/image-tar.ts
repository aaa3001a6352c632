/**
 * An image as one tar, as the control plane sends it to a host that lacks it (cloud/image-export.ts, image-fetch.ts):
 * its root file system under `root/` (none for a disk image) and its VM files under `vm/` (always, maybe empty). The
 * tar a host receives is hostile however it was checked: its root is unpacked as an imported tarball is (unpackTar),
 * and of `vm/` only regular files of the names pcloud makes are taken.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { run } from './exec.js';
import { unpackTar, XATTRS } from './images.js';
import { UnsafeImageError } from './rootfs.js';

const ROOT = 'root';
const VM = 'vm';
/** What an image's VM directory holds (images.ts, vmArtifacts; an imported ISO): nothing else comes from a tar. */
const VM_FILES: ReadonlySet<string> = new Set(['vmlinux', 'initrd.img', 'disk.raw', 'installer.iso']);

/** A name from a tar, printable in a message (its control characters as \xNN). */
const printable = (s: string) => s.slice(0, 100).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/**
 * Write the image (its root, if it has one, and its VM directory, if it has one) as the tar `out`. Sparse files stay
 * sparse (a VM's raw disk), owners are numeric, extended attributes those an image keeps; members sorted by name.
 */
export async function packImage(parts: { root?: string; vm?: string }, out: string): Promise<void> {
  const flags = ['--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '--sort=name',
    '--numeric-owner', '--sparse', '--xattrs', ...XATTRS];
  // A disk-less image still has its `vm/` member (empty), so a host can always ask for it.
  const empty = parts.vm ? undefined : await mkdtemp(join(dirname(out), '.empty-'));
  try {
    let first = true;
    for (const [dir, name] of [[parts.root, ROOT], [parts.vm ?? empty, VM]] as const) {
      if (!dir) continue;
      // `.` and `./x` become `name` and `name/x` (hard links' targets too; symbolic links' targets are left as they are).
      await run('tar', [first ? '-c' : '-r', '-f', out, ...flags, `--transform=s,^\\.,${name},S`, '-C', dir, '.']);
      first = false;
    }
  } finally {
    if (empty) await rm(empty, { recursive: true, force: true });
  }
}

/**
 * Unpack an image's tar: its root into `into.root` (an empty image root; when the image has one) and its VM files
 * into the new directory `into.vm`. A VM member that is not a regular file of a known name refuses the whole image.
 */
export async function unpackImage(file: string, into: { root?: string; vm: string }): Promise<void> {
  if (into.root) await unpackTar(file, into.root, { member: ROOT });
  await mkdir(into.vm);
  await unpackTar(file, into.vm, { member: VM });
  for (const entry of await readdir(into.vm, { withFileTypes: true })) {
    if (!entry.isFile() || !VM_FILES.has(entry.name)) {
      throw new UnsafeImageError(`the image's VM files hold ${printable(entry.name)}, which is not one of ${[...VM_FILES].join(', ')} as a regular file`);
    }
    await chmod(join(into.vm, entry.name), 0o644);
  }
}

/** Write a stream to `file` (made anew), hashing it on the way: its sha256 (hex) and length. */
export async function spool(body: Readable, file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) { hash.update(chunk); size += chunk.length; done(null, chunk); },
  });
  await pipeline(body, hashing, createWriteStream(file, { flags: 'w', mode: 0o600 }));
  return { sha256: hash.digest('hex'), size };
}

/** The sha256 (hex) and length of a file. */
export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Put the directory `from` where `to` is (same file system), replacing what was there. */
export async function replaceDir(from: string, to: string): Promise<void> {
  await rm(to, { recursive: true, force: true });
  await rename(from, to);
}
