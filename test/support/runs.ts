/**
 * Every `npm test` gets a data dir of its own, so no run sees what an earlier (perhaps killed) one left: key pairs,
 * functions, instances still "running" in its database. Only the default image is shared: built once from its recipe
 * in PCLOUD_TEST_BASE/image (debootstrap's cache kept there) and exported as a tarball each run imports in seconds.
 * Before a run, earlier runs (whose server no longer holds their data dir) are swept: their units stopped, their routers and instance namespaces removed, their pools
 * unmounted, their dirs deleted. After a run, its units are stopped; its files stay for a look until the next run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dataDirHolder } from '../../src/host/datalock.js';
import { purge, stopUnits as stopDataDirUnits } from '../../src/host/teardown.js';

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

/** Stop every unit a data dir runs (instances, VPC DNS, nginx, tgtd, ganesha, functions): src/host/teardown.ts. */
export async function stopUnits(dataDir: string): Promise<void> {
  await stopDataDirUnits(dataDir);
}

/** Take down all an earlier run held on the host, then delete its dir. */
export async function sweepRun(dataDir: string): Promise<void> {
  if (await startOver(dataDir)) rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Take down all a data dir holds on the host (units, NFS filter, namespaces, mounts: `pcloud down --purge`'s
 * src/host/teardown.ts), then delete its entries but `keep`; false (nothing deleted) while its pool stays mounted.
 */
async function startOver(dataDir: string, keep?: string): Promise<boolean> {
  return (await purge(dataDir, {}, keep)).removed;
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
