/** The metadata service's HTTP server: connections come from the VPC routers' listeners, tagged with their VPC. */
import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Metadata } from '../cloud/metadata.js';
import { metadataApp } from './app.js';

export function metadataServer(metadata: Metadata): { connection(vpcId: string, socket: Socket): void; close(): void } {
  const app = metadataApp(metadata);
  const vpcOf = new WeakMap<Socket, string>();
  const listener = getRequestListener((req, env) => {
    const incoming = env.incoming as IncomingMessage;
    return app.fetch(req, { incoming, vpcId: vpcOf.get(incoming.socket) ?? '' });
  });
  const server = createServer((req, res) => void listener(req, res));
  server.keepAliveTimeout = 5_000;
  return {
    connection(vpcId, socket) {
      vpcOf.set(socket, vpcId);
      server.emit('connection', socket);
    },
    close() { server.close(); },
  };
}
