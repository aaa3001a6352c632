/**
 * The metrics' own listener (`--metrics-listen`, default 127.0.0.1:9773): GET /metrics answers Prometheus' text format;
 * anything else is 404. An address it cannot listen on (the port taken) is logged and the API serves on without it.
 */
import { createServer, type Server } from 'node:http';
import { log } from '../log.js';
import type { Metrics } from './index.js';

export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9773';

/** `--metrics-listen`'s value: an address, or undefined for `off`/`none` (no listener). */
export function metricsListenOf(value: string): { hostname: string; port: number } | undefined {
  if (value === 'off' || value === 'none') return undefined;
  const i = value.lastIndexOf(':');
  const hostname = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !hostname || !/^\d{1,5}$/.test(value.slice(i + 1)) || port > 65535) {
    throw new Error(`invalid --metrics-listen ${value}: expected HOST:PORT, or off`);
  }
  return { hostname, port };
}

/** Listen; resolved with the server, or undefined (logged) where it cannot. */
export function serveMetrics(at: { hostname: string; port: number }, metrics: Metrics): Promise<Server | undefined> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    metrics.text().then((text) => {
      res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text);
    }, (err: Error) => {
      log.error(`metrics: a scrape failed: ${err.message}`);
      res.writeHead(500, { 'content-type': 'text/plain' }).end('The metrics could not be collected: see pcloud\'s log\n');
    });
  });
  const where = `${at.hostname.includes(':') ? `[${at.hostname}]` : at.hostname}:${at.port}`;
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      log.error(`metrics not served: ${err.code === 'EADDRINUSE' ? `${where} is in use` : `cannot listen on ${where}: ${err.message}`}; set --metrics-listen to a free HOST:PORT (or off)`);
      resolve(undefined);
    });
    server.listen(at.port, at.hostname, () => {
      server.on('error', (err) => log.error(`metrics listener on ${where}: ${err.message}`));
      log.info(`metrics on http://${where}/metrics`);
      resolve(server);
    });
  });
}
