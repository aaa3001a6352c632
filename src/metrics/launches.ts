/**
 * Launches and reconcile, in Prometheus' terms, from the domain's events as they are told (src/cloud/events.ts):
 *   - pcloud_launches_total{runtime,result}: launches (RunInstances, StartInstances, a relaunch after the host lost the
 *     instance) by how they ended: `ok` (running), `failed` (the launch failed: terminated, or stopped again), `cancelled`
 *     (stopped or terminated before it ran);
 *   - pcloud_launch_seconds{runtime,phase}: from the launch (its instance pending) to `running`, and to `status_ok` (the
 *     instance status check ok: the guest's boot done);
 *   - pcloud_reconcile_actions_total{action}: what a start did to bring the database and the host in line.
 * Label values come from fixed sets only. A launch is timed from its `pending` event: one this server did not see (the
 * API of another server on the database took the RunInstances) is read back from the events table.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Events, ToldEvent } from '../cloud/events.js';
import { log } from '../log.js';
import { RUNTIMES } from './index.js';

type Runtime = (typeof RUNTIMES)[number];

/** Reconcile's counts (ReconcileStats and the cloud's own keys) and the action each is counted as. */
export const RECONCILE_ACTIONS: ReadonlyMap<string, string> = new Map([
  ['relaunched', 'relaunched'], ['ended', 'ended'], ['finished', 'finished'], ['resumed', 'resumed'], ['orphans', 'orphan_removed'],
  ['skipped', 'skipped'], ['partialImages', 'partial_image_removed'], ['orphanFunctionUnits', 'orphan_function_unit_removed'],
  ['orphanRouters', 'orphan_router_removed'], ['strayLinks', 'stray_link_removed'],
]);
const OTHER = 'other';

/** Launches followed at once at most, and for how long: an instance whose end this server never hears is forgotten. */
const MAX_FOLLOWED = 10_000;
const FOLLOW_MS = 3_600_000;

interface Launch {
  runtime: Runtime;
  /** When it was launched (ms), once known. */
  start: Promise<number | undefined>;
  running: boolean;
  seenAt: number;
}

const ENDS = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

/** Count launches and reconcile's actions in `registry`, from what `events` tells; returns the way to stop. */
export function launchMetrics(registry: Registry, events: Pick<Events, 'on' | 'onReconcile' | 'list'>): () => void {
  const registers = [registry];
  const launches = new Counter({
    name: 'pcloud_launches_total', help: 'Instance launches (RunInstances, StartInstances, relaunches) by runtime and how they ended (ok, failed, cancelled)',
    labelNames: ['runtime', 'result'], registers,
  });
  const seconds = new Histogram({
    name: 'pcloud_launch_seconds', help: 'Time from a launch to its instance running (phase running) and to its instance status check ok (phase status_ok), by runtime',
    labelNames: ['runtime', 'phase'], buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600], registers,
  });
  const actions = new Counter({
    name: 'pcloud_reconcile_actions_total', help: 'What reconcile did at a start to bring the database and the host in line, by action',
    labelNames: ['action'], registers,
  });
  for (const runtime of RUNTIMES) for (const result of ['ok', 'failed', 'cancelled']) launches.inc({ runtime, result }, 0);
  for (const action of [...RECONCILE_ACTIONS.values(), OTHER]) actions.inc({ action }, 0);

  const followed = new Map<string, Launch>();
  const follow = (id: string, launch: Launch) => {
    followed.delete(id);
    followed.set(id, launch);
    for (const [old, l] of followed) {
      if (followed.size <= MAX_FOLLOWED && l.seenAt > launch.seenAt - FOLLOW_MS) break;
      followed.delete(old);
    }
  };
  /** When the instance was last launched, from the table (its pending event another server recorded). */
  const launchedAt = async (id: string): Promise<number | undefined> => {
    const recent = await events.list({ instanceId: id, limit: 20 });
    return recent.filter((e) => e.kind === 'state' && e.code === 'pending').at(-1)?.time;
  };
  const observe = (l: Launch, phase: 'running' | 'status_ok', at: number) => {
    void l.start.then((start) => {
      if (start !== undefined && at >= start) seconds.observe({ runtime: l.runtime, phase }, (at - start) / 1000);
    }, (err: Error) => log.warn(`launch metrics: ${err.message}`));
  };

  const onEvent = (e: ToldEvent) => {
    const runtime = RUNTIMES.find((r) => r === e.runtime);
    if (!runtime) return;
    const l = followed.get(e.instanceId);
    if (e.kind === 'state') {
      if (e.code === 'pending') follow(e.instanceId, { runtime, start: Promise.resolve(e.time), running: false, seenAt: e.time });
      else if (e.code === 'running') {
        if (l?.running) return;
        const launch = l ?? { runtime, start: launchedAt(e.instanceId).catch(() => undefined), running: false, seenAt: e.time };
        launch.running = true;
        if (!l) follow(e.instanceId, launch);
        launches.inc({ runtime, result: 'ok' });
        observe(launch, 'running', e.time);
      } else if (ENDS.has(e.code) && l) {
        if (!l.running) launches.inc({ runtime, result: 'cancelled' });
        followed.delete(e.instanceId);
      }
    } else if (e.kind === 'status' && l?.running) {
      if (e.code === 'ok') observe(l, 'status_ok', e.time);
      if (e.code === 'ok' || e.code === 'impaired') followed.delete(e.instanceId);
    } else if (e.kind === 'failure' && e.code === 'launch-failed' && l && !l.running) {
      launches.inc({ runtime, result: 'failed' });
      followed.delete(e.instanceId);
    }
  };
  const onReconcile = (stats: Readonly<Record<string, number>>) => {
    for (const [key, n] of Object.entries(stats)) if (n > 0) actions.inc({ action: RECONCILE_ACTIONS.get(key) ?? OTHER }, n);
  };
  const stops = [events.on(onEvent), events.onReconcile(onReconcile)];
  return () => { for (const stop of stops) stop(); };
}
