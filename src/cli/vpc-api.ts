/**
 * The pcloud API over TLS at its address in every VPC: connections the VPC routers' listeners pass on (host/metadata.ts)
 * are served by the same app as the main listener, with pcloud's CA's certificate for the region's service names
 * (host/tls.ts). The certificate is looked at once a day and a renewed one served from then on.
 */
import { createServer } from 'node:https';
import type { Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { ServerCredentials } from '../host/tls.js';
import { log } from '../log.js';

const DAY = 86_400_000;

export interface VpcApiServer {
  connection(socket: Socket): void;
  close(): void;
}

export function vpcApiServer(fetch: (req: Request, env: unknown) => Response | Promise<Response>,
  credentials: () => ServerCredentials, checkEveryMs = DAY): VpcApiServer {
  let current = credentials();
  const listener = getRequestListener(fetch);
  const server = createServer({ key: current.key, cert: current.cert }, (req, res) => void listener(req, res));
  // As the main listener: SDK clients keep connections open between calls.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.on('tlsClientError', (err) => log.debug(`API in a VPC: TLS handshake failed: ${err.message}`));
  const timer = setInterval(() => {
    try {
      const next = credentials();
      if (next.cert === current.cert) return;
      server.setSecureContext({ key: next.key, cert: next.cert });
      current = next;
      log.info(`API in the VPCs: certificate renewed, valid until ${next.notAfter.toISOString()}`);
    } catch (err) {
      log.warn(`API in the VPCs: certificate not renewed: ${(err as Error).message}`);
    }
  }, checkEveryMs);
  timer.unref();
  return {
    connection(socket) { server.emit('connection', socket); },
    close() { clearInterval(timer); server.close(); },
  };
}
