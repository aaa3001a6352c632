/**
 * Paths inside a root file system that comes from an image (imported, or made from a tenant's instance): nothing is
 * ever made, written, removed or read outside it. Paths are walked one component at a time with lstat (nothing runs in
 * a root while pcloud works in it, so what lstat saw is what is there): a directory on the way that is a symbolic link
 * (or not a directory) is refused before anything is made; a file to write that is a link is replaced by a file of the
 * root's own, opened with O_EXCL|O_NOFOLLOW; a file to read must be a regular file, opened with O_NOFOLLOW.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The image's root cannot be used as it is: the operation is refused with what to change in the image. */
export class UnsafeImageError extends Error {}

const refuse = (rel: string, what: string, make = 'a plain directory') =>
  new UnsafeImageError(`the image's /${rel} is ${what}; pcloud follows no link out of an image: make it ${make}`);

/** `rel`'s components, each a plain name (no empty, `.` or `..`). */
function parts(rel: string): string[] {
  const out = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (out.includes('..')) throw new Error(`path ${rel} leaves the root`);
  return out;
}

/**
 * Walk the directories `names` down from root, component by component: each existing one must be a real directory
 * (never a link); a missing one is made with `mode` (mkdir does not follow a link in its place: it fails), or, without
 * a mode, ends the walk (undefined). Returns the last one's path.
 */
async function walk(root: string, names: string[], mode?: number): Promise<string | undefined> {
  let path = root;
  for (const [i, name] of names.entries()) {
    path = join(path, name);
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!st) {
      if (mode === undefined) return undefined;
      await mkdir(path, { mode });
      continue;
    }
    if (st.isSymbolicLink()) throw refuse(names.slice(0, i + 1).join('/'), 'a symbolic link');
    if (!st.isDirectory()) throw refuse(names.slice(0, i + 1).join('/'), 'not a directory');
  }
  return path;
}

/** A directory inside root, made (with its parents) where missing. Returns its path. */
export async function safeDir(root: string, rel: string, mode = 0o755): Promise<string> {
  return (await walk(root, parts(rel), mode))!;
}

/** The entry at path (not followed), removed if it is there: a file or link unlinked, a directory (of the root's) removed. */
async function removeEntry(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  // rm of a directory never follows the links inside it; a link itself is unlinked, never its target.
  if (st.isDirectory()) await rm(path, { recursive: true, force: true });
  else await unlink(path);
}

/** Replace a file inside root: whatever is in its place (a link, a directory) goes; the new file is the root's own. */
export async function safeWrite(root: string, rel: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const names = parts(rel);
  const path = join((await walk(root, names.slice(0, -1), 0o755))!, names[names.length - 1]!);
  await removeEntry(path);
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the mode asked for, whatever the umask
  } finally {
    await fh.close();
  }
}

/** A file inside root removed if it is there (a link is removed, never followed; no directory is made). */
export async function safeRemove(root: string, rel: string): Promise<void> {
  const names = parts(rel);
  const dir = await walk(root, names.slice(0, -1));
  if (dir) await removeEntry(join(dir, names[names.length - 1]!));
}

/**
 * A regular file inside root, read without following any link: a link on the way or in its place is refused (e.g. an
 * image's boot/initrd.img pointing at a host file must never be read). A file over maxBytes is refused unread.
 */
export async function readInside(root: string, rel: string, maxBytes?: number): Promise<Buffer> {
  const names = parts(rel);
  const dir = await walk(root, names.slice(0, -1));
  if (!dir) throw refuse(names.slice(0, -1).join('/'), 'missing', 'a directory');
  const file = join(dir, names[names.length - 1]!);
  const st = await lstat(file);
  if (!st.isFile()) throw refuse(names.join('/'), st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file', 'a regular file');
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const size = (await fh.stat()).size;
    if (maxBytes !== undefined && size > maxBytes) throw refuse(names.join('/'), `larger than ${maxBytes} bytes`, 'smaller');
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** The names in a directory inside root ([] when it is missing); a link on the way or in its place is refused. */
export async function listInside(root: string, rel: string): Promise<string[]> {
  const dir = await walk(root, parts(rel));
  return dir ? readdir(dir) : [];
}
