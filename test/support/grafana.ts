/** The Grafana dashboard shipped beside the metrics (src/metrics/grafana-dashboard.json), read as its tests read it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

interface Panel { id?: number; type: string; title: string; datasource?: { uid: string }; targets?: { refId: string; expr: string }[] }

/** The dashboard's JSON. */
export function grafanaDashboard(): { uid: string; panels: Panel[]; templating: { list: { name: string }[] } } {
  return JSON.parse(readFileSync(join(projectRoot(), 'src/metrics/grafana-dashboard.json'), 'utf8')) as ReturnType<typeof grafanaDashboard>;
}

/** Each query of the dashboard's panels. */
export const dashboardExprs = (): string[] => grafanaDashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

