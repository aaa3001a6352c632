/**
 * The operator's read model (src/cloud/overview.ts) over a domain cloud on the fake host: every account's instances with
 * their Name tag, host and health (DescribeInstanceStatus' rule), terminated ones only with `all`; every account's
 * functions with the units of their versions; and the per-instance series of /metrics (src/metrics/cgroups.ts) from
 * cgroup readings, labelled only by instance ids and runtimes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { functions, functionVersions } from '../../src/db/schema.js';
import { functionOverview, instanceOverview, runningInstances } from '../../src/cloud/overview.js';
import { functionKey } from '../../src/cloud/functions/types.js';
import { functionFrontName, functionUnitName } from '../../src/host/functions.js';
import { Metrics } from '../../src/metrics/index.js';
import { cgroupMetrics, instanceUsage, type InstanceUsage } from '../../src/metrics/cgroups.js';
import type { UnitSpec } from '../../src/host/units/types.js';
import { ACCOUNT, closeDomainClouds, domainCloud } from '../support/domain-cloud.js';
import { HOSTILE } from '../support/hostile.js';

afterEach(closeDomainClouds);

describe('the instances an operator sees', () => {
  it('are every account\'s, with their Name tag, host and health; terminated ones only when all are asked for', async () => {
    const { cloud, fake, launch } = await domainCloud();
    const a = await launch();
    const b = await launch('222222222222');
    const gone = await launch();
    await cloud.tags.put(ACCOUNT, [a.id], [{ key: 'Name', value: HOSTILE.crlf! }, { key: 'team', value: 'x' }]);
    await cloud.instances.terminate(ACCOUNT, [gone.id]);
    await cloud.instances.idle();
    // The guest of b says its boot failed (its unit's status text, guest-boot.ts).
    fake.units.units.get(`pcloud-instance@${b.id}`)!.statusText = 'impaired';
    const probes = { units: cloud.host.units, vms: cloud.host.vms };
    const rows = await instanceOverview(cloud.db, cloud.config, { probes });
    expect(rows.map((r) => r.id)).toEqual([a.id, b.id]);
    expect(rows[0]).toMatchObject({ accountId: ACCOUNT, name: HOSTILE.crlf!, state: 'running', runtime: 'container', host: 'fake-host', privateIp: a.privateIp });
    expect(rows[0]!.health?.instance.status).toBe('ok');
    expect(rows[1]).toMatchObject({ accountId: '222222222222', name: '' });
    expect(rows[1]!.health?.instance.status).toBe('impaired');

    const all = await instanceOverview(cloud.db, cloud.config, { all: true });
    expect(all.map((r) => [r.id, r.state])).toEqual([[a.id, 'running'], [b.id, 'running'], [gone.id, 'terminated']]);
    expect(all.every((r) => r.health === undefined)).toBe(true);
    expect((await runningInstances(cloud.db)).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());

    await cloud.instances.stop(ACCOUNT, [a.id]);
    await cloud.instances.idle();
    const afterStop = await instanceOverview(cloud.db, cloud.config, { probes });
    expect(afterStop.find((r) => r.id === a.id)).toMatchObject({ state: 'stopped', health: { instance: { status: 'not-applicable' } } });
    expect((await instanceOverview(cloud.db, cloud.config, { states: ['running'] })).map((r) => r.id)).toEqual([b.id]);
  });
});

describe('the functions an operator sees', () => {
  it('are every account\'s, with the units of their versions the unit manager knows', async () => {
    const { cloud, fake } = await domainCloud();
    const now = Date.now();
    const row = {
      runtime: 'python3.12', handler: 'app.handler', role: 'arn:aws:iam::111111111111:role/r', memoryMiB: 128, timeoutSec: 3,
      codeSha256: 'x', codeSize: 64, revision: 'r1', environment: {}, createdAt: now, updatedAt: now,
    };
    await cloud.db.insert(functions).values([
      { ...row, accountId: ACCOUNT, name: 'a', mode: 'per-request', urlId: 'u1' },
      // Its $LATEST's key begins as a's version 1 key does: neither takes the other's units.
      { ...row, accountId: ACCOUNT, name: 'a-1', mode: 'warm' },
      { ...row, accountId: '222222222222', name: 'b', mode: 'warm' },
    ]);
    await cloud.db.insert(functionVersions).values({ accountId: ACCOUNT, name: 'a', version: 1, config: { ...row, mode: 'per-request', description: '', layers: [] }, createdAt: now });
    const start = (name: string) => fake.units.start({ name, description: '', exec: ['true'], type: 'simple', startTimeoutSec: 1, stopTimeoutSec: 1 } satisfies UnitSpec);
    await start(functionUnitName(functionKey(ACCOUNT, 'a', '$LATEST')));
    await start(functionFrontName(functionKey(ACCOUNT, 'a', '$LATEST')));
    await start(functionUnitName(functionKey(ACCOUNT, 'a', '1')));
    fake.units.ready(functionUnitName(functionKey(ACCOUNT, 'a', '$LATEST')));
    fake.units.ready(functionFrontName(functionKey(ACCOUNT, 'a', '$LATEST')));
    fake.units.exit(functionUnitName(functionKey(ACCOUNT, 'a', '1')), 'exit-code');
    const rows = await functionOverview(cloud.db, cloud.host.units);
    expect(rows.map((r) => [r.accountId, r.name, r.mode, r.urlId])).toEqual([
      [ACCOUNT, 'a', 'per-request', 'u1'], [ACCOUNT, 'a-1', 'warm', null], ['222222222222', 'b', 'warm', null],
    ]);
    expect(rows[0]!.units.map((u) => u.state).sort()).toEqual(['active', 'active', 'failed']);
    expect(rows[1]!.units).toEqual([]);
  });
});

describe('per-instance metrics', () => {
  const usage = (cpuUsec: number, memoryBytes: number) => ({ at: 0, cpuUsec, memoryBytes });

  it('are each running instance\'s CPU seconds and memory bytes, by instance id and runtime, read once per scrape', async () => {
    let reads = 0;
    let list: InstanceUsage[] = [
      { instanceId: 'i-0123456789abcdef0', runtime: 'container', usage: usage(2_500_000, 64 * 2 ** 20) },
      { instanceId: 'i-0123456789abcdef1', runtime: 'microvm', usage: usage(1_000, 512 * 2 ** 20) },
      // Never a label: a value that is no instance id, a runtime outside the fixed set.
      { instanceId: `i-${HOSTILE.quotes}`, runtime: 'container', usage: usage(1, 1) },
      { instanceId: 'i-0123456789abcdef2', runtime: HOSTILE.braces!, usage: usage(1, 1) },
    ];
    const metrics = new Metrics();
    cgroupMetrics(metrics.registry, async () => {
      reads++;
      return list;
    });
    const text = await metrics.text();
    expect(reads).toBe(1);
    expect(text).toContain('# TYPE pcloud_instance_cpu_seconds_total counter');
    expect(text).toContain('pcloud_instance_cpu_seconds_total{instance_id="i-0123456789abcdef0",runtime="container"} 2.5');
    expect(text).toContain('pcloud_instance_cpu_seconds_total{instance_id="i-0123456789abcdef1",runtime="microvm"} 0.001');
    expect(text).toContain('pcloud_instance_memory_bytes{instance_id="i-0123456789abcdef0",runtime="container"} 67108864');
    expect(text).toContain('pcloud_instance_memory_bytes{instance_id="i-0123456789abcdef1",runtime="microvm"} 536870912');
    expect(text).not.toContain('double');
    expect(text).not.toContain('i-0123456789abcdef2');
    // An instance that ended has no series at the next scrape.
    list = list.slice(1, 2);
    const after = await metrics.text();
    expect(reads).toBe(2);
    expect(after).not.toContain('i-0123456789abcdef0');
    expect(after).toContain('pcloud_instance_memory_bytes{instance_id="i-0123456789abcdef1",runtime="microvm"} 536870912');
  });

  it('read the cgroups of running instances only where they are (none elsewhere)', async () => {
    const readings = new Map([['pcloud-instance@i-0123456789abcdef0', usage(5, 6)]]);
    const source = instanceUsage(async () => [{ id: 'i-0123456789abcdef0', runtime: 'container' }, { id: 'i-0123456789abcdef1', runtime: 'q35' }],
      { usage: async (unit) => readings.get(unit) });
    expect(await source()).toEqual([{ instanceId: 'i-0123456789abcdef0', runtime: 'container', usage: usage(5, 6) }]);
  });
});
