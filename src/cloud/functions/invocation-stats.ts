/**
 * The invocations of functions this server has seen answered since it started: what `/metrics` counts
 * (src/metrics/lambda.ts) and the dashboard shows, from one source. Two roads lead here:
 * - Invoke through pcloud's API (invoke.ts): pcloud itself calls the function's socket, and times the call.
 * - nginx (Invoke through it, and function URLs), which pcloud's API never sees: nginx writes one line per request that
 *   reached a function's socket to pcloud (src/host/invocation-log.ts), with its own timing of the socket's answer.
 * A cold start is an invoke answered by a runtime process that had answered none before (a warm function's worker just
 * started, and each invoke of a per-request function, which has a process of its own by design): the runtime shim
 * says so on its first answer (X-Pcloud-Cold-Start). The shim runs in the tenant's process, so a function can misreport
 * its own cold starts (never another's, nor its invocations or durations, which pcloud and nginx count).
 *
 * Counts are kept per function for a bounded number of functions (the least recently invoked is forgotten first): a
 * tenant with a great many functions cannot grow this without end.
 */
export type InvokeMode = 'per-request' | 'warm';

export interface Invocation {
  accountId: string;
  name: string;
  mode: InvokeMode;
  /** The HTTP status of the function's answer (200 for an Invoke the handler answered, errors included; a URL's own). */
  status: number;
  /** From the request reaching the function's socket to its answer (a cold start's start included). */
  seconds: number;
  coldStart: boolean;
  /** Which road it came by. */
  via: 'api' | 'nginx';
}

export interface FunctionInvocations {
  invocations: number;
  coldStarts: number;
  /** When the last one was answered (ms since the epoch). */
  lastAt: number;
  mode: InvokeMode;
}

/** How many functions' counts are kept (the dashboard's); metrics bound their own series (src/metrics/lambda.ts). */
export const MAX_TRACKED_FUNCTIONS = 10_000;

export class InvocationStats {
  /** By `account/name`, least recently invoked first (a Map keeps insertion order: re-inserted on each invoke). */
  private readonly byFunction = new Map<string, FunctionInvocations>();
  private readonly listeners = new Set<(i: Invocation) => void>();

  constructor(private readonly max = MAX_TRACKED_FUNCTIONS) {}

  record(i: Invocation, now = Date.now()): void {
    const key = `${i.accountId}/${i.name}`;
    const was = this.byFunction.get(key);
    this.byFunction.delete(key);
    this.byFunction.set(key, {
      invocations: (was?.invocations ?? 0) + 1, coldStarts: (was?.coldStarts ?? 0) + (i.coldStart ? 1 : 0), lastAt: now, mode: i.mode,
    });
    while (this.byFunction.size > this.max) this.byFunction.delete(this.byFunction.keys().next().value!);
    for (const l of this.listeners) {
      try {
        l(i);
      } catch {
        // A listener (the metrics) never stops the count, nor another listener.
      }
    }
  }

  /** The function's counts since this server started, if it was invoked (and is still among those kept). */
  of(accountId: string, name: string): FunctionInvocations | undefined {
    const v = this.byFunction.get(`${accountId}/${name}`);
    return v && { ...v };
  }

  /** Told of every invocation from now on; returns what stops it. */
  onInvocation(listener: (i: Invocation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
