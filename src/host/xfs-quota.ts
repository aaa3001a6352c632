/**
 * Root volume sizes on an XFS pool, by project quotas: each fork's tree is a project of its own (the inherit flag
 * on its directories puts whatever a tenant makes there in it; only the host's root can change a file's project),
 * limited to the root volume's size. XFS counts a reflinked block for each file that holds it, so the image's
 * blocks count too, as on a real disk. Needs the pool mounted with `prjquota` and a kernel with CONFIG_XFS_QUOTA.
 */
import { access, readFile } from 'node:fs/promises';
import { output, run } from './exec.js';

/** Whether XFS quotas are in this kernel (its quota manager's statistics appear with them). */
export function kernelHasXfsQuotas(): Promise<boolean> {
  return access('/proc/fs/xfs/xqmstat').then(() => true, () => false);
}

/** The mount point of the file system `path` is on. */
export async function mountPointOf(path: string): Promise<string> {
  return (await output('stat', ['-c', '%m', path])).trim();
}

/** Whether the XFS file system mounted at `mount` enforces project quotas. */
export async function projectQuotasEnforced(mount: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of info.split('\n')) {
    const fields = line.split(' ');
    if (fields[4] !== mount) continue;
    const superOpts = (fields[fields.indexOf('-') + 3] ?? '').split(',');
    return superOpts.includes('prjquota') || superOpts.includes('pquota');
  }
  return false;
}

/** A tree's project id (0: none). */
export async function projectOf(path: string): Promise<number> {
  return Number(/projid = (\d+)/.exec(await output('xfs_io', ['-r', '-c', 'lsproj', path]))?.[1] ?? 0);
}

/** Blocks a project holds (0 when it has no quota record). */
async function projectBlocks(mount: string, id: number): Promise<number> {
  const res = await run('xfs_quota', ['-x', '-c', `quota -p -N -b ${id}`, mount], { reject: false });
  return Number(res.stdout.trim().split(/\s+/)[1] ?? 0) || 0;
}

/**
 * Make the tree at `path` (an instance's fork, named by instance id `key`) a project limited to `bytes`. Its id comes
 * from the instance id (the first free one from there); a fork that has one (a stopped instance started) keeps it.
 */
export async function limitTree(mount: string, path: string, key: string, bytes: number): Promise<void> {
  // xfs_quota takes its commands as words: a path with white space in it would be another command.
  if (/\s/.test(path)) throw new Error(`root volume sizes need a data dir without white space in its path (${path})`);
  let id = await projectOf(path);
  if (id === 0) {
    id = (Number.parseInt(key.replace(/[^0-9a-f]/g, '').slice(-7) || '0', 16) % 0x7ffffff0) + 1;
    while ((await projectBlocks(mount, id)) > 0) id++;
    await run('xfs_quota', ['-x', '-c', `project -s -p ${path} ${id}`, mount]);
  }
  await run('xfs_quota', ['-x', '-c', `limit -p bhard=${bytes} ${id}`, mount]);
}

/** Drop a project's limit (its files are gone with the fork, so nothing of it is left). */
export async function releaseProject(mount: string, id: number): Promise<void> {
  if (id > 0) await run('xfs_quota', ['-x', '-c', `limit -p bsoft=0 bhard=0 ${id}`, mount]);
}
