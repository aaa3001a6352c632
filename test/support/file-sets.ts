/**
 * Which test files may run beside each other. The pure ones (parsers, serializers, renderers, the domain over a fake
 * host, the APIs over it) share nothing on the host and run two at a time, each worker keeping its imports from one
 * file to the next. These run alone: a file that mocks a module or sets the environment at its top, one about the host
 * as a whole (real supervisors, mounts, nft's own tables, the built CLI: HOST_WIDE), one that reaches for root or a
 * host program (it imports FAST_TIER from tier.ts to skip itself without them), and every real suite (one
 * `pcloud serve` and its pool shared by the run).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Files of test/unit about the host as a whole: neither in the fast tier nor beside another file. */
export const HOST_WIDE = [
  // Real supervisors, QEMU, bwrap, zip/unzip, lz4, mknod, mounts, root's chown, the built CLI, nft's own tables.
  'test/unit/code-package.test.ts',
  'test/unit/console-log.test.ts',
  'test/unit/direct-units.test.ts',
  'test/unit/images-hostile.test.ts',
  'test/unit/qemu-args.test.ts',
  'test/unit/runs-sweep.test.ts',
  'test/unit/sandbox.test.ts',
  'test/unit/serve-guards.test.ts',
  'test/unit/storage-unshifted.test.ts',
  'test/unit/teardown-host.test.ts',
];

/** Whether a file needs root or a host program where it has them (it imports the tier's switch). */
const usesHost = (text: string) => /from '\.\.\/support\/tier\.js'/.test(text);
/**
 * Whether a file needs a process of its own: the files alongside share their worker's modules (no isolation, so
 * imports are not made again for each), so one that mocks a module or sets the environment for good runs alone.
 */
const ownsProcess = (text: string) => /\bvi\.(mock|doMock|hoisted)\(|^process\.env\.\w+ *=[^=]/m.test(text);

/** The files of test/unit that need a process of their own (the fast tier leaves them to `npm test`). */
export function ownProcessUnits(root: string): string[] {
  return readdirSync(`${root}/test/unit`, { recursive: true, encoding: 'utf8' }).map((f) => `test/unit/${f}`)
    .filter((f) => f.endsWith('.test.ts') && ownsProcess(readFileSync(`${root}/${f}`, 'utf8'))).sort();
}

/** The files of test/unit and test/api that may run beside each other, relative to the project's root. */
export function besideEachOther(root: string): string[] {
  return ['test/unit', 'test/api']
    .flatMap((dir) => readdirSync(`${root}/${dir}`, { recursive: true, encoding: 'utf8' }).map((f) => `${dir}/${f}`))
    .filter((f) => f.endsWith('.test.ts') && !HOST_WIDE.includes(f))
    .filter((f) => {
      const text = readFileSync(`${root}/${f}`, 'utf8');
      return !usesHost(text) && !ownsProcess(text);
    }).sort();
}
