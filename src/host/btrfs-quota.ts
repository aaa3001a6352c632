/**
 * Root volume sizes on a btrfs pool, by simple quotas (squotas, Linux >= 6.7): each instance's fork is the member
 * of a level-1 quota group 1/ID (ID: the fork's subvolume id) that carries the limit. Under simple quotas a
 * subvolume (or snapshot) made inside a fork joins its parent's level-1 group by itself, so what a tenant nests in
 * its root counts against the same limit; extents a fork shares with its image stay its image's, so the limit is
 * the root volume's size less the image's. (Full qgroups would count the shared extents, make every assignment a
 * rescan, and leave nested subvolumes out of the limit: not used.)
 * btrfs-progs before 6.7 cannot enable simple quotas: the ioctl is made by Debian's python3.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { output, run } from './exec.js';

export type QuotaMode = 'squota' | 'qgroup' | 'off';

/** BTRFS_IOC_QUOTA_CTL (_IOWR(0x94, 40, {u64 cmd; u64 status})) with BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA (4). */
const ENABLE_SIMPLE_QUOTA = [
  'import fcntl, os, struct, sys',
  'fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)',
  "fcntl.ioctl(fd, 0xC0109428, bytearray(struct.pack('=QQ', 4, 0)))",
].join('\n');

const exists = (p: string) => access(p).then(() => true, () => false);

/** Whether this kernel's btrfs has simple quotas. */
export function kernelHasSimpleQuotas(): Promise<boolean> {
  return exists('/sys/fs/btrfs/features/simple_quota');
}

/** The file system's directory in /sys/fs/btrfs. */
export async function btrfsSysDir(mount: string): Promise<string> {
  const uuid = /uuid:\s*([0-9a-f-]{36})/.exec(await output('btrfs', ['filesystem', 'show', mount]))?.[1];
  if (!uuid) throw new Error(`no btrfs file system found at ${mount}`);
  return join('/sys/fs/btrfs', uuid);
}

export async function quotaMode(sysDir: string): Promise<QuotaMode> {
  if (!(await exists(join(sysDir, 'qgroups')))) return 'off';
  const mode = (await readFile(join(sysDir, 'qgroups', 'mode'), 'utf8').catch(() => 'qgroup')).trim();
  return mode === 'squota' ? 'squota' : 'qgroup';
}

export async function enableSimpleQuotas(mount: string): Promise<void> {
  await run('/usr/bin/python3', ['-c', ENABLE_SIMPLE_QUOTA, mount]);
}

/** A subvolume's id. */
export async function subvolumeId(path: string): Promise<number> {
  return Number((await output('btrfs', ['inspect-internal', 'rootid', path])).trim());
}

/**
 * Limit what is written in the subvolume at `path` (and in every subvolume later made inside it) to `bytes`.
 * Idempotent: a fork found again (a stopped instance started) keeps its group and gets the limit again.
 */
export async function limitSubvolume(mount: string, sysDir: string, path: string, bytes: number): Promise<void> {
  const id = await subvolumeId(path);
  const group = `1/${id}`;
  if (!(await exists(join(sysDir, 'qgroups', `1_${id}`)))) await run('btrfs', ['qgroup', 'create', group, mount]);
  const assign = await run('btrfs', ['qgroup', 'assign', `0/${id}`, group, mount], { reject: false });
  if (assign.exitCode !== 0 && !/File exists/.test(assign.stderr)) {
    throw new Error(`cannot put subvolume ${id} in its quota group: ${assign.stderr.trim()}`);
  }
  await run('btrfs', ['qgroup', 'limit', String(bytes), group, mount]);
}

/**
 * Destroy the level-1 groups whose subvolume is gone (the kernel removes its own group 0/ID once the cleaner has
 * dropped it; ours it cannot tell from an operator's). `wait`: first commit and wait for the subvolumes deleted so far
 * to be dropped (~0.5 s), and try again after a commit while one is still busy; otherwise a busy group is left for
 * the next sweep (another removal, or the next start).
 */
export async function sweepGroups(mount: string, sysDir: string, wait: boolean): Promise<void> {
  if (wait) {
    await run('btrfs', ['filesystem', 'sync', mount]);
    await run('btrfs', ['subvolume', 'sync', mount], { timeoutMs: 120_000 });
  }
  const live = new Set([...(await output('btrfs', ['subvolume', 'list', mount])).matchAll(/^ID (\d+) /gm)].map((m) => Number(m[1])));
  let stale = (await levelOneGroups(sysDir)).filter((id) => !live.has(id));
  for (let attempt = 0; stale.length > 0 && attempt < (wait ? 10 : 1); attempt++) {
    if (attempt > 0) await run('btrfs', ['filesystem', 'sync', mount]);
    const busy: number[] = [];
    for (const id of stale) {
      const res = await run('btrfs', ['qgroup', 'destroy', `1/${id}`, mount], { reject: false });
      if (res.exitCode !== 0 && (await exists(join(sysDir, 'qgroups', `1_${id}`)))) busy.push(id);
    }
    stale = busy;
  }
}

/** Level-1 groups present (tests and reconcile's report). */
export async function levelOneGroups(sysDir: string): Promise<number[]> {
  const names = await readdir(join(sysDir, 'qgroups')).catch(() => [] as string[]);
  return names.map((n) => /^1_(\d+)$/.exec(n)?.[1]).filter((x): x is string => Boolean(x)).map(Number);
}
