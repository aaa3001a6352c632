/**
 * Image building and unpacking: debootstrap a recipe from images/ into a pool directory, or unpack a tar. Both run
 * ahead of time; launches only fork the result.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runLines } from './exec.js';
import { listInside, readInside, UnsafeImageError } from './rootfs.js';

export interface Recipe {
  name: string;
  description: string;
  architecture: 'x86_64' | 'arm64';
  platform: string;
  suite: string;
  variant: string;
  include: string[];
  setup?: string;
  rootSizeGiB: number;
}

export interface Progress {
  (phase: string, done: number, total: number): void;
}

export async function loadRecipe(recipesDir: string, name: string): Promise<{ recipe: Recipe; dir: string; hash: string }> {
  const dir = join(recipesDir, name);
  let text: string;
  try {
    text = await readFile(join(dir, 'recipe.json'), 'utf8');
  } catch {
    throw new Error(`no image recipe named ${name} in ${recipesDir}`);
  }
  const recipe = JSON.parse(text) as Recipe;
  // The build is cached under this hash: a changed recipe or setup script builds anew.
  const h = createHash('sha256').update(text);
  if (recipe.setup) h.update(await readFile(join(dir, recipe.setup)));
  return { recipe, dir, hash: h.digest('hex').slice(0, 12) };
}

/** The Debian mirror the host's apt uses, unless `override` (PCLOUD_DEBIAN_MIRROR) says which. */
export async function debianMirror(override?: string): Promise<string> {
  if (override) return override;
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const m = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+bookworm\s/m.exec(text);
    if (m) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

/** debootstrap the recipe into `target` (an empty directory), then run its setup script inside. */
export async function buildRootfs(
  recipe: Recipe,
  recipeDir: string,
  target: string,
  opts: { cacheDir: string; progress?: Progress; expectedSteps?: number; mirror?: string },
): Promise<{ steps: number }> {
  const mirror = await debianMirror(opts.mirror);
  let steps = 0;
  const total = opts.expectedSteps ?? 450;
  await run('mkdir', ['-p', opts.cacheDir]);
  await runLines(
    'debootstrap',
    [`--variant=${recipe.variant}`, `--cache-dir=${opts.cacheDir}`, `--include=${recipe.include.join(',')}`,
      recipe.suite, target, mirror],
    (line) => {
      if (!line.startsWith('I: ')) return;
      steps++;
      opts.progress?.(line.slice(3, 60), Math.min(steps, total - 1), total);
    },
  );
  if (recipe.setup) {
    const script = await readFile(join(recipeDir, recipe.setup));
    await run('chroot', [target, '/bin/sh', '-s'], { input: script, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  }
  opts.progress?.('done', total, total);
  return { steps };
}

/** The extended attributes an image's files keep (packed and unpacked): capabilities, ACLs, user.* (see unpackTar). */
export const XATTRS = ['--xattrs-include=security.capability', '--xattrs-include=system.posix_acl_*', '--xattrs-include=user.*'];

/**
 * Unpack a root file system tarball (as `pcloud image import FILE.tar` takes) into `target`. The tarball is hostile,
 * and GNU tar's defaults (never -P) keep it inside `target`, each pinned by a test: a leading / is stripped from names
 * and hard link targets, a member with `..` is refused (tar fails), and a link whose target is absolute or climbs is
 * made only after every other member (a placeholder file until then), so nothing is written through it. Extended
 * attributes: file capabilities, ACLs and user.* only (trusted.* and other security.* ones speak to the host's
 * kernel). Setuid files and capabilities stay: an image needs sudo and ping, and they are root only in a container's
 * own user namespace. Its device nodes go when it is registered (removeDeviceNodes).
 */
export async function unpackTar(file: string, target: string, opts: { member?: string } = {}): Promise<void> {
  await stat(file);
  // Only the members under `member` (a fixed name of ours: image-tar.ts), without it: its contents are the target's.
  const only = opts.member === undefined ? [] : ['--strip-components=1', '--', opts.member];
  const res = await run('tar', ['-x', '-p', '--numeric-owner', '--xattrs', ...XATTRS, '-f', file, '-C', target, ...only], { reject: false });
  if (res.exitCode !== 0) {
    const why = res.stderr.split('\n').filter((l) => !/Exiting with failure status/.test(l)).slice(0, 3).join(' | ');
    throw new Error(`${file} was not imported: ${why} (an image's members must stay inside its root: no "..", no hard link out of it)`);
  }
  // Its root is a root's: whatever the tarball's `./` said (a world-writable or user-owned top directory in the pool).
  await chown(target, 0, 0);
  await chmod(target, 0o755);
}

/**
 * Remove every device node (block or character) from an image's root: a node in an image opens the host's device of
 * its numbers, from a container (user namespaces do not stop it) or for any host user who reaches the pool. Nothing
 * needs them: nspawn gives each container its own /dev and a VM's kernel has devtmpfs. find never follows a link.
 * Returns how many were removed.
 */
export async function removeDeviceNodes(root: string): Promise<number> {
  const res = await run('find', [root, '(', '-type', 'b', '-o', '-type', 'c', ')', '-printf', '.', '-delete']);
  return res.stdout.length;
}

export async function diskUsage(path: string): Promise<number> {
  const res = await run('du', ['-sb', path], { reject: false });
  return Number(res.stdout.split('\t')[0]) || 0;
}

/** What a microvm boots, made once per image: the uncompressed kernel, its initrd and a raw ext4 disk of the root. */
export interface VmArtifacts {
  kernel: string;
  initrd: string;
  disk: string;
}

export const vmArtifacts = (dir: string): VmArtifacts => ({ kernel: join(dir, 'vmlinux'), initrd: join(dir, 'initrd.img'), disk: join(dir, 'disk.raw') });

/** A kernel (packed or unpacked) or initrd over this size is refused (Debian's are tens of MiB). */
export const MAX_BOOT_FILE_BYTES = 256 * 2 ** 20;

const refuseKernel = (version: string, what: string) =>
  new UnsafeImageError(`the image's /boot/vmlinuz-${version} ${what}; remove it, or replace it with a Debian kernel`);

/**
 * Make `dir`'s VM artifacts from a root file system with a kernel in /boot: microvm boots an uncompressed ELF kernel
 * (PVH), so the bzImage's LZ4 payload is unpacked; the disk is an ext4 file system made from the root (mkfs -d), of
 * `sizeGiB`. Returns false (and makes nothing) for a root without a kernel: a container-only image.
 *
 * The root is an image's (imported, or made from a tenant's instance): /boot and its files are read only inside it,
 * never through a link (an UnsafeImageError says which to change), and copied with writeFile. mkfs.ext4 -d copies
 * links as links (it never reads through them): a link to a host file stays a link, resolved in the guest.
 */
export async function buildVmArtifacts(rootfs: string, dir: string, sizeGiB = 8): Promise<boolean> {
  const boot = await listInside(rootfs, 'boot');
  const version = boot.filter((f) => f.startsWith('vmlinuz-')).map((f) => f.slice('vmlinuz-'.length)).sort().pop();
  if (!version || !boot.includes(`initrd.img-${version}`)) return false;
  const bz = await readInside(rootfs, `boot/vmlinuz-${version}`, MAX_BOOT_FILE_BYTES);
  const initrd = await readInside(rootfs, `boot/initrd.img-${version}`, MAX_BOOT_FILE_BYTES);
  await mkdir(dir, { recursive: true });
  const out = vmArtifacts(dir);
  const at = bz.indexOf(Buffer.from([0x02, 0x21, 0x4c, 0x18])); // LZ4 legacy frame, as the kernel's build writes it
  if (at < 0) throw refuseKernel(version, 'has no LZ4 payload: only LZ4-compressed kernels boot as microvms');
  await writeFile(`${out.kernel}.lz4`, bz.subarray(at));
  // lz4 complains (exit 1) about what follows the payload in the bzImage; the kernel it unpacked is whole. What it may
  // write is bounded (a payload that unpacks past the bound is killed with SIGXFSZ and refused; --no-sparse, or zeros
  // would be skipped by seeking past the bound).
  await run('prlimit', [`--fsize=${MAX_BOOT_FILE_BYTES}`, 'lz4', '-d', '-q', '-f', '--no-sparse', `${out.kernel}.lz4`, out.kernel], { reject: false });
  await rm(`${out.kernel}.lz4`, { force: true });
  const size = await stat(out.kernel).then((st) => st.size, () => 0);
  if (size >= MAX_BOOT_FILE_BYTES) throw refuseKernel(version, `unpacks to more than ${MAX_BOOT_FILE_BYTES} bytes`);
  if (!(await head(out.kernel, 4)).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) throw refuseKernel(version, 'could not be unpacked: its LZ4 payload is not a kernel');
  await writeFile(out.initrd, initrd);
  await rm(out.disk, { force: true });
  await run('truncate', ['-s', `${sizeGiB}G`, out.disk]);
  await run('mkfs.ext4', ['-q', '-F', '-L', 'cloudimg-rootfs', '-d', rootfs, out.disk]);
  return true;
}

/** The first `n` bytes of a file (fewer if it is shorter; none if it is missing). */
async function head(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return Buffer.alloc(0);
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export type DiskFormat = 'raw' | 'qcow2' | 'iso';

/** What a file is: qemu-img's format, or an ISO 9660 image (its `CD001` volume descriptor at 32 KiB + 1). */
export async function detectDiskFormat(file: string): Promise<DiskFormat> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(6);
    await fh.read(buf, 0, 6, 0x8000);
    if (buf.subarray(1, 6).toString('latin1') === 'CD001') return 'iso';
  } finally {
    await fh.close();
  }
  const info = JSON.parse((await run('qemu-img', ['info', '--output=json', file])).stdout) as { format: string };
  if (info.format === 'raw' || info.format === 'qcow2') return info.format;
  throw new Error(`${file}: ${info.format} disk images are not imported (raw, qcow2 and ISO are)`);
}

/**
 * Put an imported disk image where VM instances fork it from: a qcow2 or raw disk converted once to a sparse raw
 * `disk.raw` (so each instance's disk is a reflink fork of it); an installer ISO kept as `installer.iso` beside a
 * blank `disk.raw` of `sizeGiB` that the installation writes.
 */
export async function importDiskArtifacts(file: string, dir: string, format: DiskFormat, sizeGiB: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const disk = join(dir, 'disk.raw');
  if (format === 'iso') {
    await run('cp', ['--reflink=auto', file, join(dir, 'installer.iso')]);
    await run('truncate', ['-s', `${sizeGiB}G`, disk]);
    return;
  }
  await run('qemu-img', ['convert', '-f', format, '-O', 'raw', '-S', '64k', file, disk]);
  const size = (await stat(disk)).size;
  if (size < sizeGiB * 2 ** 30) await run('truncate', ['-s', `${sizeGiB}G`, disk]);
}
