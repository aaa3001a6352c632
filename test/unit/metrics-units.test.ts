/**
 * The unit gauges (src/metrics/units.ts): units by kind and state and their restarts, a unit's kind from a fixed table
 * (a function's key or an instance id never becomes a label).
 */
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics/index.js';
import { unitKindOf, unitSource } from '../../src/metrics/units.js';
import type { UnitStatus } from '../../src/host/units/types.js';
import { HOSTILE } from '../support/hostile.js';

describe('unit metrics', () => {
  it('names a unit by its kind only', () => {
    expect(unitKindOf('pcloud-instance@i-0123456789abcdef0')).toBe('instance');
    expect(unitKindOf('pcloud-tpm@i-0123456789abcdef0')).toBe('tpm');
    expect(unitKindOf('pcloud-dns@vpc-0123')).toBe('dns');
    expect(unitKindOf('pcloud-fn-111122223333-my-function-abc')).toBe('function');
    expect(unitKindOf('pcloud-fnfront-111122223333-my-function-abc')).toBe('function-front');
    expect(unitKindOf('pcloud-nginx')).toBe('nginx');
    for (const v of Object.values(HOSTILE)) expect(unitKindOf(`pcloud-${v}`)).toBe('other');
  });

  it('counts units by kind and state, and sums their restarts by kind, at each scrape', async () => {
    let listed: UnitStatus[] = [
      { name: 'pcloud-instance@i-1', state: 'active', restarts: 0 },
      { name: 'pcloud-instance@i-2', state: 'active' },
      { name: 'pcloud-instance@i-3', state: 'failed', restarts: 2 },
      { name: 'pcloud-nginx', state: 'active', restarts: 3 },
      { name: `pcloud-fn-${HOSTILE.quotes}`, state: 'active', restarts: 1 },
    ];
    const metrics = new Metrics({ units: unitSource({ list: (prefix) => Promise.resolve(listed.filter((u) => u.name.startsWith(prefix))) }) });
    const text = await metrics.text();
    expect(text).toContain('pcloud_units{kind="instance",state="active"} 2');
    expect(text).toContain('pcloud_units{kind="instance",state="failed"} 1');
    expect(text).toContain('pcloud_units{kind="function",state="active"} 1');
    expect(text).toContain('pcloud_unit_restarts{kind="instance"} 2');
    expect(text).toContain('pcloud_unit_restarts{kind="nginx"} 3');
    expect(text).not.toContain('double');
    listed = listed.slice(3, 4);
    const after = await metrics.text();
    expect(after).not.toContain('kind="instance"');
    expect(after).toContain('pcloud_units{kind="nginx",state="active"} 1');
  });
});
