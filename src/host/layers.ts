/**
 * Lambda layers on the host: each layer version's zip unpacked once, content-addressed by its sha256, under
 * DATA/layers/content (0700, as the data dir), by code-package.ts' confined unzip (so a hostile zip is refused as a
 * function's package is); and each function's /opt: the ordered overlay of its layers.
 *
 * /opt is a merged tree per ordered list of layers (DATA/layers/opt/<sha256 of their digests>), built once before a
 * function's first start from hard links to the layers' files: later layers replace earlier paths (a file, a link or
 * a whole directory where a file was), as Lambda extracts them in order. Why not bind each layer onto /opt: binds
 * shadow whole directories, they do not merge them. Why not overlayfs: a mount to keep alive and clean up per
 * function under both unit managers (systemd's BindReadOnlyPaths= takes one tree), where a tree of hard links is
 * a plain directory both bind read-only at /opt, costs no data, and outlives the layer it came from (a deleted layer
 * version keeps working for the functions that use it). The merge reads and writes with lstat/link/symlink only: it
 * never follows a link the layers hold, and it never descends through one (a non-directory where a later layer has a
 * directory is replaced by a real directory first).
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, link, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedQueue } from '../serial.js';
import { unpackPackage, UNZIPPED_MAX } from './code-package.js';

/** A layer's content address: sha256 of its zip in hex (nothing else is ever a path here). */
const DIGEST = /^[0-9a-f]{64}$/;

/** Whether a string is a content address (a zip's sha256, hex): a layer's, a package's. */
export const isDigest = (s: string): boolean => DIGEST.test(s);

function checkDigest(digest: string): string {
  if (!isDigest(digest)) throw new Error(`not a layer digest: ${JSON.stringify(digest.slice(0, 80))}`);
  return digest;
}

export class LayerStore {
  /** Work on one layer's content or one merged tree, one at a time (two accounts may publish the same zip at once). */
  private readonly jobs = new KeyedQueue();

  constructor(private readonly dataDir: string) {}

  private get root(): string {
    return join(this.dataDir, 'layers');
  }

  /** The unpacked tree of a layer's zip. */
  contentDir(digest: string): string {
    return join(this.root, 'content', checkDigest(digest));
  }

  /** Whether the layer's zip is unpacked here (its size recorded once it was whole). */
  has(digest: string): boolean {
    const dir = this.contentDir(digest);
    return existsSync(dir) && existsSync(`${dir}.size`);
  }

  /**
   * Unpack a layer's zip once (its digest is the sha256 of zip, hex); resolves to its unzipped size. A zip over Lambda's
   * unzipped size, or unusable, throws PackageRefused and leaves nothing.
   */
  unpack(digest: string, zip: Buffer): Promise<number> {
    return this.jobs.run(digest, () => this.unpackNow(digest, zip));
  }

  private async unpackNow(digest: string, zip: Buffer): Promise<number> {
    const dir = this.contentDir(digest);
    const sizeFile = `${dir}.size`;
    const known = await readFile(sizeFile, 'utf8').catch(() => undefined);
    if (known !== undefined && /^\d+$/.test(known) && existsSync(dir)) return Number(known);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await chmod(this.root, 0o700);
    await rm(dir, { recursive: true, force: true });
    const size = await unpackPackage(zip, dir, UNZIPPED_MAX);
    await writeFile(sizeFile, String(size));
    return size;
  }

  /** The bytes of the regular files under dir (links not followed): a function's code, as its layers count. */
  static async treeBytes(dir: string): Promise<number> {
    let n = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const st = await lstat(join(dir, name));
      if (st.isDirectory()) n += await LayerStore.treeBytes(join(dir, name));
      else if (st.isFile()) n += st.size;
    }
    return n;
  }

  /** A layer's content, when no layer version and no function needs it any more. */
  remove(digest: string): Promise<void> {
    return this.jobs.run(digest, () => this.removeNow(digest));
  }

  /** The layers whose content is unpacked here, by digest. */
  async digests(): Promise<string[]> {
    return (await readdir(join(this.root, 'content')).catch(() => [] as string[])).filter(isDigest);
  }

  private async removeNow(digest: string): Promise<void> {
    const dir = this.contentDir(digest);
    await rm(`${dir}.size`, { force: true });
    await rm(dir, { recursive: true, force: true });
    // Merged trees are links of their own: those made with this layer go too (made again if a function still needs one).
    const opt = join(this.root, 'opt');
    for (const f of await readdir(opt).catch(() => [] as string[])) {
      if (!f.endsWith('.layers')) continue;
      const members = await readFile(join(opt, f), 'utf8').catch(() => '');
      if (members.split('\n').includes(digest)) await this.removeOpt(join(opt, f.slice(0, -'.layers'.length)));
    }
  }

  private async removeOpt(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}.layers`, { force: true });
  }

  /** Where a function's /opt for these layers (in order) is, made or not (opt() makes it). */
  optPath(digests: string[]): string {
    for (const d of digests) checkDigest(d);
    if (digests.length === 1) return this.contentDir(digests[0]!);
    return join(this.root, 'opt', createHash('sha256').update(digests.join('\n')).digest('hex'));
  }

  /**
   * A function's /opt for its layers in order (each unpacked already): one layer's tree as it is, several merged once
   * into a tree of hard links (the module comment says why), undefined for none.
   */
  async opt(digests: string[]): Promise<string | undefined> {
    if (!digests.length) return undefined;
    const dir = this.optPath(digests);
    if (digests.length === 1) return dir;
    return this.jobs.run(dir, () => this.merged(digests, dir));
  }

  private async merged(digests: string[], dir: string): Promise<string> {
    if (existsSync(`${dir}.layers`) && existsSync(dir)) return dir;
    await mkdir(join(this.root, 'opt'), { recursive: true, mode: 0o700 });
    const tmp = `${dir}.tmp-${randomUUID()}`;
    try {
      await mkdir(tmp, { mode: 0o755 });
      for (const d of digests) await merge(this.contentDir(d), tmp);
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
      await writeFile(`${dir}.layers`, digests.join('\n'));
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return dir;
  }
}

/**
 * src's tree laid over dst (a real directory): directories merged, anything else replacing what dst has at its path.
 * Nothing is followed: src and dst are read with lstat, files hard-linked, links made again with their target text.
 */
export async function merge(src: string, dst: string): Promise<void> {
  for (const name of await readdir(src)) {
    const from = join(src, name);
    const to = join(dst, name);
    const st = await lstat(from);
    const there = await lstat(to).catch(() => undefined);
    if (st.isDirectory()) {
      if (there && !there.isDirectory()) await rm(to, { force: true });
      if (!there || !there.isDirectory()) await mkdir(to, { mode: st.mode & 0o777 });
      await merge(from, to);
      continue;
    }
    if (there) await rm(to, { recursive: true, force: true });
    if (st.isSymbolicLink()) await symlink(await readlink(from), to);
    else if (st.isFile()) await link(from, to);
    // Anything else (unzip makes none: no devices, FIFOs or sockets) is left out.
  }
}
