/**
 * The fast tier, `npm run test:unit`: the pure parts of test/unit (parsers, serializers, filters, the nft, unit and
 * nginx renderers, the state machine, placement) with no root, no host package and no global setup (no data dir, no
 * image). Files that are about the host as a whole are left out here; tests in the others that need root or a host
 * program skip themselves in this tier (test/support/tier.ts). `npm test` runs all of them.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { HOST_WIDE, ownProcessUnits } from './support/file-sets.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  test: {
    root,
    include: ['test/unit/**/*.test.ts'],
    // (And any that needs a process of its own: this tier keeps one worker's imports from file to file.)
    exclude: [...HOST_WIDE, ...ownProcessUnits(root)],
    env: { PCLOUD_TEST_TIER: 'fast', PCLOUD_STRICT_SHAPES: '1' },
    // Strict shapes in the test process (src/api/model/strict.ts).
    setupFiles: ['test/support/strict-shapes.ts'],
    pool: 'threads',
    // A worker keeps its imports from one file to the next (as `npm test`'s alongside files do; none here mocks a
    // module or sets the environment for good): importing the SDKs and the server again for each file was most of this
    // tier's time.
    isolate: false,
    testTimeout: 10_000,
  },
});
