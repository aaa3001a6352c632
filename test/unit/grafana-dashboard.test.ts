/**
 * The Grafana dashboard shipped beside the metrics (src/metrics/grafana-dashboard.json): every series its panels
 * query is one the server registers (a renamed metric breaks this test, not an operator's dashboard), every pcloud
 * series is on a panel, and every selector honours the dashboard's `job` variable. The real metrics suite runs each
 * query through Prometheus.
 */
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics/index.js';
import { launchMetrics } from '../../src/metrics/launches.js';
import { lambdaMetrics } from '../../src/metrics/lambda.js';
import { cgroupMetrics } from '../../src/metrics/cgroups.js';
import { dashboardExprs, grafanaDashboard } from '../support/grafana.js';

/** Every metric a server with all its sources registers: name and type. */
async function registered(): Promise<Map<string, string>> {
  const metrics = new Metrics({
    instances: async () => [], pool: async () => ({ sizeBytes: 1, freeBytes: 1 }), units: async () => [], nginxReloads: () => ({ ok: 0, failed: 0 }),
  });
  launchMetrics(metrics.registry, { on: () => () => true, onReconcile: () => () => true, list: async () => [] });
  lambdaMetrics(metrics.registry, { onInvocation: () => () => undefined });
  cgroupMetrics(metrics.registry, async () => []);
  return new Map((await metrics.registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
}

describe('the Grafana dashboard', () => {
  it('queries only series the server registers, and every pcloud series is on a panel', async () => {
    const names = await registered();
    const used = new Set(dashboardExprs().flatMap((e) => e.match(/\bpcloud_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(10);
    const base = (series: string) => {
      const hist = /^(.*)_(bucket|sum|count)$/.exec(series);
      return hist && names.get(hist[1]!) === 'histogram' ? hist[1]! : series;
    };
    expect([...used].filter((s) => !names.has(base(s))), 'queried but not registered').toEqual([]);
    const onPanel = new Set([...used].map(base));
    expect([...names.keys()].filter((n) => n.startsWith('pcloud_') && !onPanel.has(n)), 'registered but on no panel').toEqual([]);
  });

  it('selects by its job variable everywhere, from its datasource variable, with panel ids and refIds unique', () => {
    const dash = grafanaDashboard();
    expect(dash.templating.list.map((v) => v.name)).toEqual(['datasource', 'job']);
    for (const expr of dashboardExprs()) {
      for (const sel of expr.match(/\bpcloud_[a-z0-9_]+(\{[^}]*\})?/g) ?? []) expect(sel, expr).toContain('{job=~"$job"');
    }
    const queried = dash.panels.filter((p) => p.type !== 'row');
    for (const p of queried) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(refs.length, p.title).toBeGreaterThan(0);
      expect(new Set(refs).size, p.title).toBe(refs.length);
    }
    const ids = dash.panels.map((p) => p.id);
    expect(ids.every((id) => typeof id === 'number')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
