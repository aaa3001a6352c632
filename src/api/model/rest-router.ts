/**
 * A REST service's router, compiled from its model's HTTP bindings (method + requestUri, labels `{Name}` for one path
 * segment, `{Name+}` for the rest, fixed query members after `?`): a request maps to exactly one operation by name,
 * with its path labels percent-decoded.
 */
import type { Operation, ServiceModel } from './index.js';

export interface RouteMatch {
  operation: Operation;
  /** Path labels by the model's names (never by anything the request chose). */
  labels: ReadonlyMap<string, string>;
}

interface Route {
  operation: Operation;
  method: string;
  /** Literal segments as strings; labels as { label, greedy }. */
  segments: (string | { label: string; greedy: boolean })[];
  query: [string, string | undefined][];
  /** More literal segments and fixed query members first: `/layers?find=LayerVersion` before `/layers`. */
  rank: number;
}

function compile(op: Operation): Route {
  const [path, query = ''] = op.http.requestUri.split('?') as [string, string?];
  const segments = path.split('/').filter(Boolean).map((s) => {
    const m = /^\{([A-Za-z0-9]+)(\+?)\}$/.exec(s);
    return m ? { label: m[1]!, greedy: m[2] === '+' } : s;
  });
  const fixed = query ? query.split('&').map((kv) => { const [k, v] = kv.split('='); return [k!, v] as [string, string | undefined]; }) : [];
  const rank = segments.filter((s) => typeof s === 'string').length * 10 + fixed.length;
  return { operation: op, method: op.http.method, segments, query: fixed, rank };
}

export class BadPathEncoding extends Error {}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new BadPathEncoding('The request path is not validly percent-encoded.');
  }
}

export class RestRouter {
  private readonly routes: Route[];
  /** The first path segments the model's operations use (`2015-03-31`, `2018-10-31`, …). */
  readonly prefixes: ReadonlySet<string>;

  constructor(model: ServiceModel) {
    this.routes = [...model.operations.values()].map(compile).sort((a, b) => b.rank - a.rank);
    this.prefixes = new Set(this.routes.map((r) => r.segments[0]).filter((s): s is string => typeof s === 'string'));
  }

  /** The operation this method and URL name, or undefined. Throws BadPathEncoding for a malformed %-escape in a label. */
  match(method: string, url: URL): RouteMatch | undefined {
    const parts = url.pathname.split('/').filter(Boolean);
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const labels = this.bind(r, parts);
      if (!labels) continue;
      if (!r.query.every(([k, v]) => (v === undefined ? url.searchParams.has(k) : url.searchParams.get(k) === v))) continue;
      return { operation: r.operation, labels };
    }
    return undefined;
  }

  private bind(r: Route, parts: string[]): Map<string, string> | undefined {
    const labels = new Map<string, string>();
    let i = 0;
    for (const s of r.segments) {
      if (typeof s === 'string') {
        if (parts[i] !== s) return undefined;
        i++;
      } else if (s.greedy) {
        if (i >= parts.length) return undefined;
        labels.set(s.label, parts.slice(i).map(decode).join('/'));
        i = parts.length;
      } else {
        if (parts[i] === undefined) return undefined;
        labels.set(s.label, decode(parts[i]!));
        i++;
      }
    }
    return i === parts.length ? labels : undefined;
  }
}
