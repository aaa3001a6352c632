import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { besideEachOther } from './test/support/file-sets.js';

const root = fileURLToPath(new URL('.', import.meta.url));
const alongside = besideEachOther(root);
const shared = {
  setupFiles: ['test/support/strict-shapes.ts'],
  testTimeout: 120_000,
  hookTimeout: 600_000,
  // A response member the AWS model does not have fails the request under tests (src/api/ec2/xml.ts, src/api/lambda).
  env: { PCLOUD_STRICT_SHAPES: '1' },
};

export default defineConfig({
  test: {
    // One file at a time unless a run says otherwise: `npm test` runs the files that may run beside each other first,
    // two at a time (`--project alongside --maxWorkers 2 --no-isolate`: this machine's two cores), then the others
    // alone, each in a fresh process.
    maxWorkers: 1,
    minWorkers: 1,
    reporters: ['default'],
    projects: [
      {
        // First, the pure files of test/unit and test/api (test/support/file-sets.ts says which), side by side.
        // `npm test` runs it with --no-isolate: a worker keeps its imports from one file to the next (importing the
        // SDKs and the server again for each small file was most of this group's time).
        test: { ...shared, name: 'alongside', include: alongside, sequence: { groupOrder: 0 } },
      },
      {
        // Then the rest one file at a time: the integration and compat suites share one real `pcloud serve` (and its
        // storage pool), made once per run by the global setup.
        test: {
          ...shared,
          name: 'alone',
          include: ['test/**/*.test.ts', 'compat/**/*.test.ts'],
          exclude: alongside,
          globalSetup: ['test/support/global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
