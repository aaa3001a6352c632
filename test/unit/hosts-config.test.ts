/** The placement and heartbeat settings from the environment: ratios above 0, a timeout that spans heartbeats. */
import { describe, expect, it } from 'vitest';
import { configFromEnv, defaultHostsConfig } from '../../src/cloud/config.js';

describe('hosts settings', () => {
  it('defaults, and what the environment sets', () => {
    expect(configFromEnv({}).hosts).toEqual(defaultHostsConfig);
    expect(configFromEnv({
      PCLOUD_CPU_OVERCOMMIT: '4', PCLOUD_MEMORY_OVERCOMMIT: '1.25', PCLOUD_HOST_HEARTBEAT_SEC: '5', PCLOUD_HOST_TIMEOUT_SEC: '10',
    }).hosts).toEqual({ cpuOvercommit: 4, memoryOvercommit: 1.25, heartbeatSec: 5, heartbeatTimeoutSec: 10 });
    // Below 1 is a host kept partly free; empty is the default.
    expect(configFromEnv({ PCLOUD_CPU_OVERCOMMIT: '0.5', PCLOUD_MEMORY_OVERCOMMIT: ' ' }).hosts).toMatchObject({ cpuOvercommit: 0.5, memoryOvercommit: 1.5 });
    // A slower heartbeat stretches the default timeout with it.
    expect(configFromEnv({ PCLOUD_HOST_HEARTBEAT_SEC: '20' }).hosts).toMatchObject({ heartbeatSec: 20, heartbeatTimeoutSec: 60 });
  });

  it('refuses what is not a ratio, or a timeout within two heartbeats, naming the setting', () => {
    for (const bad of ['0', '-1', 'x', '1e3', '0x10', '1001', 'NaN', 'Infinity', '1.2345', '1.5\n2', '½']) {
      expect(() => configFromEnv({ PCLOUD_CPU_OVERCOMMIT: bad }), bad).toThrow(/^PCLOUD_CPU_OVERCOMMIT must be a number above 0 and at most 1000/);
      expect(() => configFromEnv({ PCLOUD_MEMORY_OVERCOMMIT: bad }), bad).toThrow(/^PCLOUD_MEMORY_OVERCOMMIT must be/);
    }
    expect(() => configFromEnv({ PCLOUD_CPU_OVERCOMMIT: 'x'.repeat(100_000) })).toThrow(/not "x{40}"$/);
    expect(() => configFromEnv({ PCLOUD_HOST_HEARTBEAT_SEC: '10', PCLOUD_HOST_TIMEOUT_SEC: '15' }))
      .toThrow('PCLOUD_HOST_TIMEOUT_SEC (15) must be at least twice PCLOUD_HOST_HEARTBEAT_SEC (10)');
    expect(() => configFromEnv({ PCLOUD_HOST_HEARTBEAT_SEC: '0' })).toThrow(/^PCLOUD_HOST_HEARTBEAT_SEC must be a whole number from 1 to 3600/);
  });
});
