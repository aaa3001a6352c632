/**
 * pcloud's metrics in Prometheus' terms (prom-client, a registry of its own): API requests by service, action and
 * status, and their latency; instances by state and runtime, units by kind and state and their restarts, the storage
 * pool's size and free bytes and nginx's reloads, read at each scrape; Node's process metrics (prom-client's defaults). Every label value comes from a fixed set: a request's action is one the
 * service has (calls.ts) or `unknown`, never the request's own text.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ApiCall } from '../api/calls.js';

/** The states and runtimes an instance is counted by (every pair is a series, 0 when none). */
export const INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] as const;
export const RUNTIMES = ['container', 'microvm', 'q35'] as const;

export interface MetricsSources {
  /** Every instance's state and runtime (those DescribeInstances lists), read at each scrape. */
  instances?: () => Promise<Iterable<{ state: string; runtime: string; count: number }>>;
  /** The storage pool's file system: its size and the bytes free for new data. */
  pool?: () => Promise<{ sizeBytes: number; freeBytes: number }>;
  /** The units the unit manager knows: each one's kind (from a fixed set), state and restarts. */
  units?: () => Promise<Iterable<{ kind: string; state: string; restarts: number }>>;
  /** The nginx reloads this process has asked for, by how they ended. */
  nginxReloads?: () => { ok: number; failed: number };
}

/** An action name as a label: a name as services spell theirs (letters and digits), else unknown. */
const actionLabel = (action: string | undefined) => (action && action.length <= 64 && /^[A-Za-z][A-Za-z0-9]*$/.test(action) ? action : 'unknown');

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'service' | 'action' | 'status'>;
  private readonly latency: Histogram<'service' | 'action'>;

  constructor(sources: MetricsSources = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'pcloud_api_requests_total', help: 'API requests answered, by service, action and HTTP status',
      labelNames: ['service', 'action', 'status'], registers,
    });
    this.latency = new Histogram({
      name: 'pcloud_api_request_duration_seconds', help: 'Time from an API request\'s arrival to its answer, by service and action',
      labelNames: ['service', 'action'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
    });
    const instances = sources.instances;
    new Gauge({
      name: 'pcloud_instances', help: 'Instances by state and runtime (those DescribeInstances lists: terminated ones for a while)',
      labelNames: ['state', 'runtime'], registers,
      async collect() {
        const counts = new Map<string, number>();
        for (const i of instances ? await instances() : []) {
          const key = `${i.state}\0${i.runtime}`;
          counts.set(key, (counts.get(key) ?? 0) + i.count);
        }
        for (const state of INSTANCE_STATES) {
          for (const runtime of RUNTIMES) this.set({ state, runtime }, counts.get(`${state}\0${runtime}`) ?? 0);
        }
      },
    });
    const pool = sources.pool;
    if (pool) {
      new Gauge({
        name: 'pcloud_pool_size_bytes', help: 'Size of the storage pool\'s file system (images, instance disks, volumes, snapshots)', registers,
        async collect() { this.set((await pool()).sizeBytes); },
      });
      new Gauge({
        name: 'pcloud_pool_free_bytes', help: 'Bytes free for new data in the storage pool\'s file system', registers,
        async collect() { this.set((await pool()).freeBytes); },
      });
    }
    const units = sources.units;
    if (units) {
      new Gauge({
        name: 'pcloud_units', help: 'Units pcloud runs (instances, TPMs, DNS, functions, nginx, iSCSI, NFS) by kind and state',
        labelNames: ['kind', 'state'], registers,
        async collect() {
          this.reset();
          for (const u of await units()) this.inc({ kind: u.kind, state: u.state });
        },
      });
      new Gauge({
        name: 'pcloud_unit_restarts', help: 'Restarts by their restart policy of the units pcloud runs now, by kind',
        labelNames: ['kind'], registers,
        async collect() {
          this.reset();
          for (const u of await units()) this.inc({ kind: u.kind }, u.restarts);
        },
      });
    }
    const reloads = sources.nginxReloads;
    new Counter({
      name: 'pcloud_nginx_reloads_total', help: 'Reloads of pcloud\'s nginx (function URLs and Invoke) by this server, by result',
      labelNames: ['result'], registers,
      collect() {
        const n = reloads?.() ?? { ok: 0, failed: 0 };
        this.reset();
        this.inc({ result: 'ok' }, n.ok);
        this.inc({ result: 'failed' }, n.failed);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Count one answered request. */
  observe(call: ApiCall): void {
    const service = call.service;
    const action = actionLabel(call.action);
    this.requests.inc({ service, action, status: String(call.status) });
    this.latency.observe({ service, action }, call.ms / 1000);
  }

  /** The exposition: Prometheus' text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
