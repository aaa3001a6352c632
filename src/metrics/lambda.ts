/**
 * Lambda's series, counted from the invocations the functions domain records (src/cloud/functions/invocation-stats.ts:
 * Invoke through pcloud's API, timed by pcloud; Invoke through nginx and function URLs, reported and timed by nginx):
 * - `pcloud_lambda_invocations_total{function,mode}`: invocations answered by a function's socket, by the function and
 *   its invoke mode (per-request or warm); a request refused or throttled before it reached the socket is not one.
 * - `pcloud_lambda_cold_starts_total{function}`: those answered by a runtime process that had answered none before
 *   (a warm worker's first, and every per-request invoke: a process of its own each); the runtime says so, so a
 *   function can misreport only its own.
 * - `pcloud_lambda_duration_seconds{function}`: from the request reaching the function's socket to its answer.
 *
 * The `function` label is `ACCOUNT:NAME` (both as Lambda validates them: 12 digits; letters, digits, - and _), for
 * the first MAX_FUNCTION_SERIES functions this server sees invoked, and `other` for any after them (and for anything
 * not so spelled): a tenant with many functions cannot grow the registry without end.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Invocation } from '../cloud/functions/index.js';

export const MAX_FUNCTION_SERIES = 200;
export const OTHER = 'other';

const ACCOUNT = /^\d{12}$/;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MODES: ReadonlySet<string> = new Set(['per-request', 'warm']);

/** The `function` label values handed out: the first `max` functions keep theirs, the rest are `other`. */
export class FunctionLabels {
  private readonly given = new Set<string>();

  constructor(private readonly max = MAX_FUNCTION_SERIES) {}

  of(accountId: string, name: string): string {
    if (!ACCOUNT.test(accountId) || !NAME.test(name)) return OTHER;
    const label = `${accountId}:${name}`;
    if (this.given.has(label)) return label;
    if (this.given.size >= this.max) return OTHER;
    this.given.add(label);
    return label;
  }
}

/** The three series on `registry`, fed by every invocation from now on; returns what stops feeding them. */
export function lambdaMetrics(registry: Registry, stats: { onInvocation(l: (i: Invocation) => void): () => void }, max = MAX_FUNCTION_SERIES): () => void {
  const registers = [registry];
  const labels = new FunctionLabels(max);
  const invocations = new Counter({
    name: 'pcloud_lambda_invocations_total', help: 'Invocations answered by a function\'s socket (Invoke through the API or nginx, function URLs), by function (ACCOUNT:NAME, or other past the series bound) and invoke mode',
    labelNames: ['function', 'mode'], registers,
  });
  const coldStarts = new Counter({
    name: 'pcloud_lambda_cold_starts_total', help: 'Invocations answered by a runtime process that had answered none before (a warm worker starting; every per-request invoke), by function',
    labelNames: ['function'], registers,
  });
  const duration = new Histogram({
    name: 'pcloud_lambda_duration_seconds', help: 'From an invocation reaching the function\'s socket to its answer, by function',
    labelNames: ['function'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900], registers,
  });
  return stats.onInvocation((i) => {
    const fn = labels.of(i.accountId, i.name);
    invocations.inc({ function: fn, mode: MODES.has(i.mode) ? i.mode : OTHER });
    if (i.coldStart) coldStarts.inc({ function: fn });
    if (Number.isFinite(i.seconds) && i.seconds >= 0) duration.observe({ function: fn }, i.seconds);
  });
}
