/**
 * Writes an instance's identity into its freshly forked root disk before it boots: hostname, machine id, the key
 * pair's public key, the resolver, and a cloud-init NoCloud seed (meta-data, user-data) that cloud-init in the image
 * picks up. The root comes from an image, which may be imported or made from a tenant's instance: nothing is ever
 * made, written or removed outside it. Paths are walked one component at a time with lstat (nothing runs in a fresh
 * fork, so what lstat saw is what is there): a directory on the way that is a symbolic link (or not a directory)
 * refuses the launch before anything is made; a file to write that is a link is replaced by a file of the root's own,
 * opened with O_EXCL|O_NOFOLLOW. One write at a time.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface Seed {
  instanceId: string;
  hostname: string;
  machineId: string;
  /** cloud-init NoCloud meta-data (YAML). */
  metaData: string;
  /** user-data exactly as the user gave it (decoded), or undefined. */
  userData?: Buffer;
  authorizedKeys?: string;
  /** The VPC's DNS server; absent, the image's resolv.conf stays. */
  nameserver?: string;
  searchDomain?: string;
}

/** The image cannot take its seed: the launch is refused with what to change in the image. */
export class UnsafeImageError extends Error {}

const refuse = (rel: string, what: string) =>
  new UnsafeImageError(`the image's /${rel} is ${what}; pcloud writes the instance's identity there and follows no link out of the image: make it a plain directory`);

/** `rel`'s components, each a plain name (no empty, `.` or `..`). */
function parts(rel: string): string[] {
  const out = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (out.includes('..')) throw new Error(`seed path ${rel} leaves the root`);
  return out;
}

/**
 * A directory inside root, walked component by component: each existing one must be a real directory (never a
 * link), each missing one is made (mkdir does not follow a link in its place: it fails). Returns its path.
 */
export async function safeDir(root: string, rel: string, mode = 0o755): Promise<string> {
  let path = root;
  const seen: string[] = [];
  for (const name of parts(rel)) {
    seen.push(name);
    path = join(path, name);
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!st) {
      await mkdir(path, { mode });
      continue;
    }
    if (st.isSymbolicLink()) throw refuse(seen.join('/'), 'a symbolic link');
    if (!st.isDirectory()) throw refuse(seen.join('/'), 'not a directory');
  }
  return path;
}

/** The entry at rel (not followed), removed if it is there: a file or link unlinked, a directory (of the root's) removed. */
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
  const dir = await safeDir(root, names.slice(0, -1).join('/'));
  const path = join(dir, names[names.length - 1]!);
  await removeEntry(path);
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the mode asked for, whatever the umask
  } finally {
    await fh.close();
  }
}

/** A file inside root removed if it is there (a link is removed, never followed; its directories are not made). */
async function safeRemove(root: string, rel: string): Promise<void> {
  const names = parts(rel);
  let path = root;
  for (const name of names.slice(0, -1)) {
    path = join(path, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isDirectory()) return; // missing, a link or a file: there is nothing of the root's to remove
  }
  await removeEntry(join(path, names[names.length - 1]!));
}

export async function writeSeed(root: string, seed: Seed): Promise<void> {
  const seedDir = 'var/lib/cloud/seed/nocloud';
  // Every directory first (a refusal then leaves no file written), one at a time.
  await safeDir(root, seedDir);
  await safeDir(root, 'etc/cloud/cloud.cfg.d');
  const ssh = await safeDir(root, 'root/.ssh', 0o700);
  const fh = await open(ssh, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await fh.chmod(0o700);
  } finally {
    await fh.close();
  }
  const files: [string, string | Buffer, number?][] = [
    ['etc/hostname', seed.hostname + '\n'],
    ['etc/machine-id', seed.machineId + '\n'],
    ['etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${seed.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`],
    [`${seedDir}/meta-data`, seed.metaData],
    [`${seedDir}/user-data`, seed.userData ?? Buffer.alloc(0), 0o600],
    [`${seedDir}/vendor-data`, ''],
    // The host configures eth0 (address, route) before the container starts: cloud-init must not redo it.
    ['etc/cloud/cloud.cfg.d/99-pcloud-network.cfg', 'network: {config: disabled}\n'],
  ];
  if (seed.authorizedKeys) files.push(['root/.ssh/authorized_keys', seed.authorizedKeys.trim() + '\n', 0o600]);
  if (seed.nameserver) files.push(['etc/resolv.conf', `nameserver ${seed.nameserver}\n${seed.searchDomain ? `search ${seed.searchDomain}\n` : ''}`]);
  for (const [rel, data, mode] of files) await safeWrite(root, rel, data, mode);
  if (!seed.authorizedKeys) await safeRemove(root, 'root/.ssh/authorized_keys');
}
