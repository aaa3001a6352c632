import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'compat/**/*.test.ts'],
    // The integration and compat suites share one real `pcloud serve` (and its storage pool): run files one by one.
    fileParallelism: false,
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/strict-shapes.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    reporters: ['default'],
    // A response member the AWS model does not have fails the request under tests (src/api/ec2/xml.ts, src/api/lambda).
    env: { PCLOUD_STRICT_SHAPES: '1' },
  },
});
