/**
 * Every `npm test` gets a data dir of its own, so no run sees what an earlier (perhaps killed) one left: key pairs,
 * functions, instances still "running" in its database. Only the default image is shared: built once from its recipe
 * in PCLOUD_TEST_BASE/image (debootstrap's cache kept there) and exported as a tarball each run imports in seconds.
 * Before a run, earlier runs (whose server no longer holds their data dir) are swept: their units stopped, their routers and instance namespaces removed, their pools
 * unmounted, their dirs deleted. After a run, its units are stopped; its files stay for a look until the next run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { Owners } from '../../src/host/owners.js';
import { dataDirHolder } from '../../src/host/datalock.js';
import { hostFilterTable } from '../../src/host/nfs.js';
import { portFree } from '../../src/host/ports.js';

export const BASE = process.env.PCLOUD_TEST_BASE ?? '/var/tmp/pcloud-tests';

function cli(root: string, args: string[]): string {
  return execFileSync(process.execPath, [join(root, 'dist/src/cli/main.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
}

/**
 * The default image as a tarball, built from its recipe once (a changed recipe builds anew). The image dir is a data
 * dir kept across runs, so it may hold a database another pcloud (an older checkout, a migration since rewritten)
 * left: a build that fails there starts the dir over, keeping only the download cache, and builds once more.
 */
export async function imageTarball(root: string): Promise<string> {
  const dir = join(BASE, 'image');
  mkdirSync(dir, { recursive: true });
  let id: string | undefined;
  try {
    id = buildImage(root, dir);
  } catch (e) {
    console.log(`the image dir ${dir} could not be used (${(e as Error).message.split('\n')[0]}): starting it over, keeping its download cache`);
    if (!(await startOver(dir, 'cache'))) throw new Error(`${dir}/pool stays mounted: cannot start the image dir over`, { cause: e });
    id = buildImage(root, dir);
  }
  mkdirSync(join(BASE, 'tarballs'), { recursive: true });
  const tar = join(BASE, 'tarballs', `debian-12-${id}.tar`);
  exportImage(join(dir, 'pool/images', id), tar);
  return tar;
}

function buildImage(root: string, dir: string): string {
  const [id] = cli(root, ['image', 'build', 'debian-12', '--data', dir]).trim().split('\t');
  if (!id) throw new Error('pcloud image build printed no image id');
  return id;
}

/** An image's root as a tarball `pcloud image import` takes (written aside, then renamed: never half a file). */
export function exportImage(imageRoot: string, to: string): void {
  if (existsSync(to)) return;
  execFileSync('tar', ['-cf', `${to}.part`, '--numeric-owner', '--xattrs', '-C', imageRoot, '.']);
  execFileSync('mv', [`${to}.part`, to]);
}

/** Stop every unit a data dir's direct unit manager runs (instances, VPC DNS, nginx, tgtd, ganesha, functions). */
export async function stopUnits(dataDir: string): Promise<void> {
  const units = new DirectUnitManager(join(dataDir, 'run'));
  try {
    for (const u of await units.list('')) await units.stop(u.name);
  } finally {
    units.close();
  }
}

function mounted(path: string): boolean {
  return spawnSync('mountpoint', ['-q', path]).status === 0;
}

/** Take down all an earlier run held on the host, then delete its dir. */
export async function sweepRun(dataDir: string): Promise<void> {
  if (await startOver(dataDir)) rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Take down all a data dir holds on the host (units, NFS filter, namespaces, mounts), then delete its entries but `keep`;
 * false (nothing deleted) while its pool stays mounted.
 */
async function startOver(dataDir: string, keep?: string): Promise<boolean> {
  await stopUnits(dataDir);
  // Its NFS port's filter (an nft table named by the port), unless another server now serves NFS on that port.
  const conf = join(dataDir, 'run/nfs/ganesha.conf');
  const nfsPort = existsSync(conf) ? /NFS_Port = (\d+);/.exec(readFileSync(conf, 'utf8'))?.[1] : undefined;
  if (nfsPort && (await portFree('0.0.0.0', Number(nfsPort)))) spawnSync('nft', ['delete', 'table', 'inet', hostFilterTable(Number(nfsPort))]);
  // Its network namespaces (routers, instances), as recorded.
  const owners = new Owners('netns', dataDir);
  for (const ns of await owners.recorded()) {
    spawnSync('ip', ['netns', 'del', ns]);
    await owners.release(ns);
  }
  // Volumes loop-mounted for NFS, then the pool: deepest first.
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dataDir || m.startsWith(`${dataDir}/`)).sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  if (mounted(join(dataDir, 'pool'))) return false;
  for (const entry of readdirSync(dataDir)) if (entry !== keep) rmSync(join(dataDir, entry), { recursive: true, force: true });
  return true;
}

/** A fresh data dir for this run, after sweeping earlier ones. */
export async function newRun(): Promise<string> {
  const runs = join(BASE, 'runs');
  mkdirSync(runs, { recursive: true });
  for (const old of readdirSync(runs)) {
    // A run whose server still runs (another npm test on the same base) holds its data dir: not an earlier run's.
    if (!(await dataDirHolder(join(runs, old)))) await sweepRun(join(runs, old));
  }
  const dir = join(runs, new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  return dir;
}
