/**
 * The launch and reconcile metrics (src/metrics/launches.ts) from events told as the domain tells them: launches by
 * runtime and how they ended, the time from a launch to running and to status ok, a launch another server recorded read
 * back from the table, reconcile's actions by a fixed set of names; label values from fixed sets only.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { InstanceEvent, ToldEvent } from '../../src/cloud/events.js';
import { launchMetrics } from '../../src/metrics/launches.js';

/** Events as the domain tells them, by hand; `table` is what list() reads back (another server's records). */
class TellingEvents {
  readonly listeners = new Set<(e: ToldEvent) => void>();
  readonly reconcileListeners = new Set<(s: Readonly<Record<string, number>>) => void>();
  table: InstanceEvent[] = [];
  private seq = 0;
  on(l: (e: ToldEvent) => void) { this.listeners.add(l); return () => this.listeners.delete(l); }
  onReconcile(l: (s: Readonly<Record<string, number>>) => void) { this.reconcileListeners.add(l); return () => this.reconcileListeners.delete(l); }
  async list(q: { instanceId?: string } = {}) { return this.table.filter((e) => e.instanceId === q.instanceId); }
  tell(instanceId: string, runtime: string, kind: ToldEvent['kind'], code: string, time: number): void {
    const e = { seq: ++this.seq, time, accountId: '111111111111', instanceId, kind, code, previous: null, message: '', runtime };
    for (const l of this.listeners) l(e);
  }
}

async function values(registry: Registry) {
  const metrics = await registry.getMetricsAsJSON();
  // A histogram's samples are named by their own metricName (_count, _sum, _bucket).
  const samples = metrics.flatMap((m) => m.values.map((v) => ({ ...v, name: (v as { metricName?: string }).metricName ?? m.name })));
  return (name: string, labels: Record<string, string>) => samples
    .find((v) => v.name === name && Object.entries(labels).every(([k, x]) => v.labels[k] === x) && Object.keys(v.labels).length === Object.keys(labels).length)?.value;
}

const flush = () => new Promise((r) => setImmediate(r));

describe('launch metrics', () => {
  it('count launches by runtime and how they ended, and time them to running and to status ok', async () => {
    const registry = new Registry();
    const events = new TellingEvents();
    launchMetrics(registry, events);
    const t0 = 1_000_000;
    // A container: running after 2 s, ok after 7 s.
    events.tell('i-1', 'container', 'state', 'pending', t0);
    events.tell('i-1', 'container', 'state', 'running', t0 + 2000);
    events.tell('i-1', 'container', 'status', 'initializing', t0 + 2000);
    events.tell('i-1', 'container', 'status', 'ok', t0 + 7000);
    // A microvm whose launch failed, a q35 VM stopped before it ran, a container that never went ok.
    events.tell('i-2', 'microvm', 'state', 'pending', t0);
    events.tell('i-2', 'microvm', 'failure', 'launch-failed', t0 + 500);
    events.tell('i-2', 'microvm', 'state', 'terminated', t0 + 600);
    events.tell('i-3', 'q35', 'state', 'pending', t0);
    events.tell('i-3', 'q35', 'state', 'stopping', t0 + 100);
    events.tell('i-4', 'container', 'state', 'pending', t0);
    events.tell('i-4', 'container', 'state', 'running', t0 + 1000);
    events.tell('i-4', 'container', 'status', 'impaired', t0 + 3000);
    events.tell('i-4', 'container', 'status', 'ok', t0 + 9000);
    // Its reboot's checks later: no launch.
    events.tell('i-1', 'container', 'status', 'initializing', t0 + 60_000);
    events.tell('i-1', 'container', 'status', 'ok', t0 + 61_000);
    // A runtime outside the fixed set is not counted.
    events.tell('i-5', 'evil"}runtime', 'state', 'pending', t0);
    events.tell('i-5', 'evil"}runtime', 'state', 'running', t0 + 1);
    await flush();
    const v = await values(registry);
    expect(v('pcloud_launches_total', { runtime: 'container', result: 'ok' })).toBe(2);
    expect(v('pcloud_launches_total', { runtime: 'microvm', result: 'failed' })).toBe(1);
    expect(v('pcloud_launches_total', { runtime: 'q35', result: 'cancelled' })).toBe(1);
    expect(v('pcloud_launches_total', { runtime: 'q35', result: 'ok' })).toBe(0);
    expect(v('pcloud_launch_seconds_count', { runtime: 'container', phase: 'running' })).toBe(2);
    expect(v('pcloud_launch_seconds_sum', { runtime: 'container', phase: 'running' })).toBe(3);
    expect(v('pcloud_launch_seconds_count', { runtime: 'container', phase: 'status_ok' })).toBe(1);
    expect(v('pcloud_launch_seconds_sum', { runtime: 'container', phase: 'status_ok' })).toBe(7);
    expect(v('pcloud_launch_seconds_count', { runtime: 'microvm', phase: 'running' })).toBeUndefined();
    expect(JSON.stringify(await registry.getMetricsAsJSON())).not.toContain('evil');
    // Every runtime and result a series from the start.
    expect((await registry.getSingleMetric('pcloud_launches_total')!.get()).values).toHaveLength(9);
  });

  it('time a launch another server recorded from its pending event in the table', async () => {
    const registry = new Registry();
    const events = new TellingEvents();
    launchMetrics(registry, events);
    events.table = [
      { seq: 1, time: 5000, accountId: '1', instanceId: 'i-9', kind: 'state', code: 'pending', previous: null, message: '' },
      { seq: 2, time: 6000, accountId: '1', instanceId: 'i-8', kind: 'state', code: 'pending', previous: null, message: '' },
    ];
    events.tell('i-9', 'microvm', 'state', 'running', 35_000);
    events.tell('i-9', 'microvm', 'status', 'ok', 45_000);
    await flush();
    const v = await values(registry);
    expect(v('pcloud_launches_total', { runtime: 'microvm', result: 'ok' })).toBe(1);
    expect(v('pcloud_launch_seconds_sum', { runtime: 'microvm', phase: 'running' })).toBe(30);
    expect(v('pcloud_launch_seconds_sum', { runtime: 'microvm', phase: 'status_ok' })).toBe(40);
  });

  it('count reconcile\'s actions by fixed names, anything else as other; stop when asked', async () => {
    const registry = new Registry();
    const events = new TellingEvents();
    const stop = launchMetrics(registry, events);
    const before = await values(registry);
    expect(before('pcloud_reconcile_actions_total', { action: 'relaunched' })).toBe(0);
    for (const l of events.reconcileListeners) l({ relaunched: 2, orphans: 3, orphanRouters: 1, skipped: 0, 'evil"}': 4 });
    const v = await values(registry);
    expect(v('pcloud_reconcile_actions_total', { action: 'relaunched' })).toBe(2);
    expect(v('pcloud_reconcile_actions_total', { action: 'orphan_removed' })).toBe(3);
    expect(v('pcloud_reconcile_actions_total', { action: 'orphan_router_removed' })).toBe(1);
    expect(v('pcloud_reconcile_actions_total', { action: 'skipped' })).toBe(0);
    expect(v('pcloud_reconcile_actions_total', { action: 'other' })).toBe(4);
    stop();
    expect(events.listeners.size + events.reconcileListeners.size).toBe(0);
  });
});
