/**
 * Once per `npm test`: a fresh data dir for the run (unless PCLOUD_TEST_DATA names one the caller owns) with the default
 * image imported from its cached tarball; its units stopped when the run ends. See runs.ts.
 */
import { ROOT } from './real.js';
import { imageTarball, newRun, stopUnits } from './runs.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.PCLOUD_TEST_DATA) return undefined;
  process.env.PCLOUD_TEST_IMAGE_TAR ??= await imageTarball(ROOT);
  const dir = await newRun();
  process.env.PCLOUD_TEST_DATA = dir;
  console.log(`test data dir ${dir} (image ${process.env.PCLOUD_TEST_IMAGE_TAR})`);
  return () => stopUnits(dir);
}
