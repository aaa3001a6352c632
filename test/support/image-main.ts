/**
 * The default image's tarball for the real suites (runs.ts' imageTarball: built from its recipe once, then cached),
 * its path the last line printed. `.ci/test` runs it in the background while the checks and the pure tests run.
 */
import { ROOT } from './real.js';
import { imageTarball } from './runs.js';

console.log(await imageTarball(ROOT));
