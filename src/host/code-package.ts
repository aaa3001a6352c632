/**
 * A function's deployment package (zip) unpacked into its code directory, as hostile input: Lambda's limit on the
 * unzipped size checked against what the archive declares and against what it really inflates to (a central directory
 * can lie), no symbolic link that leads out of the code, and nothing left behind when any of it fails. unzip reads the
 * archive confined (bwrap): no capabilities, no network, a read-only system where only the new code dir is writable.
 */
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { run } from './exec.js';
import { USR_ROOT } from './sandbox.js';

/** AWS: "Unzipped size must be smaller than 262144000 bytes" (250 MiB). */
export const UNZIPPED_MAX = 262_144_000;

/** A package refused for what it is (its size, its links, an unusable archive): the message is in Lambda's words, for the user. */
export class PackageRefused extends Error {
  override name = 'PackageRefused';
}

const tooLarge = (max: number) => new PackageRefused(`Unzipped size must be smaller than ${max} bytes`);
const unusable = (why: string) => new PackageRefused(`Could not unzip uploaded file. Please check your file, then try to upload again. (${why})`);

/**
 * Unpack zip into dir (which must not exist yet); throws PackageRefused on a bad package. Resolves to the bytes it
 * really inflates to (what counts toward Lambda's unzipped limit, with a function's layers).
 */
export async function unpackPackage(zip: Buffer, dir: string, max = UNZIPPED_MAX): Promise<number> {
  const tmp = `${dir}.tmp-${randomUUID()}`;
  const file = `${tmp}.zip`;
  await mkdir(dirname(dir), { recursive: true });
  try {
    await writeFile(file, zip, { mode: 0o600 });
    const size = await checkSizes(file, max);
    await mkdir(tmp, { mode: 0o755 });
    const res = await run('bwrap', confined([file], [tmp], ['unzip', '-q', '-o', file, '-d', tmp]), { reject: false });
    // unzip: 1 is a warning (e.g. a stray path component it refused); more is an unusable archive.
    if (res.exitCode > 1) throw unusable(res.stderr.trim().split('\n').pop()?.replaceAll(file, 'the package') ?? `unzip ${res.exitCode}`);
    await checkLinks(tmp);
    await rename(tmp, dir);
    return size;
  } finally {
    await rm(file, { force: true });
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The sizes the archive declares, then the bytes it really inflates to (at most max + 1 of them are ever read). */
async function checkSizes(file: string, max: number): Promise<number> {
  const listed = await run('bwrap', confined([file], [], ['unzip', '-Z', '-t', file]), { reject: false });
  const declared = /(\d+) bytes uncompressed/.exec(listed.stdout);
  if (listed.exitCode !== 0 || !declared) throw unusable('not a zip archive');
  if (Number(declared[1]) >= max) throw tooLarge(max);
  // The real output, counted as it streams: head stops reading (and unzip then stops) one byte past the limit.
  const counted = await run('bwrap', confined([file], [], ['sh', '-c', 'unzip -p -- "$0" | head -c "$1" | wc -c', file, String(max)]));
  const size = Number(counted.stdout.trim());
  if (size >= max) throw tooLarge(max);
  return size;
}

/** bwrap's arguments to run command with only /usr, the readable paths and the writable ones (same paths). */
export function confined(readable: string[], writable: string[], command: string[]): string[] {
  return ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    ...USR_ROOT, '--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache', '--dev', '/dev',
    ...readable.flatMap((p) => ['--ro-bind', p, p]), ...writable.flatMap((p) => ['--bind', p, p]), '--remount-ro', '/', '--', ...command];
}

/** Symbolic links may point only inside the code (node_modules/.bin links do); absolute or escaping ones are refused. */
async function checkLinks(root: string, dir = root): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await lstat(path);
    if (st.isDirectory()) await checkLinks(root, path);
    else if (st.isSymbolicLink()) {
      const target = await readlink(path);
      const rel = relative(root, resolve(dirname(path), target));
      if (isAbsolute(target) || rel === '..' || rel.startsWith('../')) {
        throw unusable(`${relative(root, path)} is a symbolic link out of the package`);
      }
    }
  }
}
