/**
 * The metadata service's address in every VPC: 169.254.169.254:80 on each VPC router's loopback, where instances reach
 * it through their gateway. pcloud listens there itself, with a socket bound inside the router's namespace (a helper
 * binds it and passes it over), so a connection's VPC is the socket it came in on and its source address is the
 * instance's private address: overlapping VPCs never meet.
 */
import { statSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { receiveServer } from './exec.js';
import { nsPath, routerNs } from './network.js';
import { projectRoot } from '../paths.js';
import { log } from '../log.js';
import type { HostMetadata } from './index.js';

export const METADATA_IP = '169.254.169.254';

export class MetadataListeners implements HostMetadata {
  private readonly servers = new Map<string, { inode: number; server: Promise<Server> }>();
  private onConnection: (vpcId: string, socket: Socket) => void = (_vpc, socket) => socket.destroy();

  constructor(private readonly port = 80) {}

  /** Where connections go (the metadata HTTP server); until then they are closed. */
  handle(fn: (vpcId: string, socket: Socket) => void): void {
    this.onConnection = fn;
  }

  /** Listen in the VPC's router (once per router namespace: a router made anew gets a new socket). */
  async ensure(vpcId: string): Promise<void> {
    const inode = statSync(nsPath(routerNs(vpcId)), { throwIfNoEntry: false })?.ino;
    if (inode === undefined) return;
    const have = this.servers.get(vpcId);
    if (have?.inode === inode) { await have.server; return; }
    if (have) this.close(vpcId);
    const server = receiveServer('ip', ['netns', 'exec', routerNs(vpcId), process.execPath,
      join(projectRoot(), 'dist/src/host/listen-child.js'), METADATA_IP, String(this.port)]).then((s) => {
      s.on('connection', (sock: Socket) => this.onConnection(vpcId, sock));
      s.on('error', (err) => log.warn(`metadata listener of ${vpcId}: ${err.message}`));
      return s;
    });
    this.servers.set(vpcId, { inode, server });
    server.catch(() => { if (this.servers.get(vpcId)?.server === server) this.servers.delete(vpcId); });
    await server;
  }

  close(vpcId: string): void {
    const have = this.servers.get(vpcId);
    this.servers.delete(vpcId);
    void have?.server.then((s) => s.close(), () => undefined);
  }

  closeAll(): void {
    for (const id of [...this.servers.keys()]) this.close(id);
  }
}
