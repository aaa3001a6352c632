/**
 * The fast tier, `npm run test:unit`: the pure parts of test/unit (parsers, serializers, filters, the nft, unit and
 * nginx renderers, the state machine, placement) with no root, no host package and no global setup (no data dir, no
 * image). Files that are about the host as a whole are left out here; tests in the others that need root or a host
 * program skip themselves in this tier (test/support/tier.ts). `npm test` runs all of them.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { HOST_WIDE } from './support/file-sets.js';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/unit/**/*.test.ts'],
    exclude: HOST_WIDE,
    env: { PCLOUD_TEST_TIER: 'fast', PCLOUD_STRICT_SHAPES: '1' },
    // Strict shapes in the test process (src/api/model/strict.ts).
    setupFiles: ['test/support/strict-shapes.ts'],
    pool: 'threads',
    testTimeout: 10_000,
  },
});
