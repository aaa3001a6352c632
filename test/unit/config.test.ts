/** The operator's limits from the environment: defaults, overrides, and a value that is not a count refused with why. */
import { describe, expect, it } from 'vitest';
import { configFromEnv, defaultLimits } from '../../src/cloud/config.js';

describe('limits from the environment', () => {
  it('defaults, each overridable', () => {
    expect(configFromEnv({}).limits).toEqual(defaultLimits);
    expect(configFromEnv({
      PCLOUD_LIMIT_INSTANCES: '3', PCLOUD_LIMIT_VCPUS: '8', PCLOUD_LIMIT_FUNCTIONS: '5', PCLOUD_LIMIT_CODE_STORAGE_BYTES: '1048576',
      PCLOUD_LIMIT_VPCS: '2', PCLOUD_LIMIT_CONCURRENT_EXECUTIONS: '7', PCLOUD_LIMIT_VOLUME_MOVES: '2',
      PCLOUD_LAUNCH_CONCURRENCY: '1',
    }).limits).toEqual({ instances: 3, vcpus: 8, functions: 5, codeStorageBytes: 1048576, vpcs: 2, concurrentExecutions: 7, volumeMoves: 2, launchConcurrency: 1 });
  });

  it('refuses what is not a whole number of at least 1, naming the variable', () => {
    for (const bad of ['0', '-1', '1.5', 'ten', '1e400', '0x10 ']) {
      expect(() => configFromEnv({ PCLOUD_LIMIT_INSTANCES: bad })).toThrow(/^PCLOUD_LIMIT_INSTANCES must be a whole number of at least 1/);
    }
  });
});
