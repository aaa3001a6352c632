/**
 * Image building and unpacking: debootstrap a recipe from images/ into a pool directory, or unpack a tar. Both run
 * ahead of time; launches only fork the result.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runLines } from './exec.js';

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

/** The Debian mirror the host's apt uses (PCLOUD_DEBIAN_MIRROR overrides it). */
export async function debianMirror(): Promise<string> {
  if (process.env.PCLOUD_DEBIAN_MIRROR) return process.env.PCLOUD_DEBIAN_MIRROR;
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
  opts: { cacheDir: string; progress?: Progress; expectedSteps?: number },
): Promise<{ steps: number }> {
  const mirror = await debianMirror();
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

/** Unpack a root file system tarball (as `pcloud image import FILE.tar` takes) into `target`. */
export async function unpackTar(file: string, target: string): Promise<void> {
  await stat(file);
  await run('tar', ['-x', '-p', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-f', file, '-C', target]);
}

export async function diskUsage(path: string): Promise<number> {
  const res = await run('du', ['-sb', path], { reject: false });
  return Number(res.stdout.split('\t')[0]) || 0;
}
