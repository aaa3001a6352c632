/**
 * pcloud's addresses in every VPC, on each VPC router's loopback, where instances reach them through their gateway:
 * - the metadata service, 169.254.169.254:80, as EC2's;
 * - the pcloud API over TLS, API_IP:443, which the VPC's DNS gives for the region's service names (dns.ts), so the
 *   AWS CLI and SDKs in an instance reach pcloud with no endpoint configured.
 * pcloud listens there itself, with sockets bound inside the router's namespace (a helper binds each and passes it
 * over), so a connection's VPC is the socket it came in on and its source address is the instance's private address:
 * overlapping VPCs never meet.
 */
import { statSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { receiveServer, run } from './exec.js';
import { nsPath, routerNs } from './network.js';
import { projectRoot } from '../paths.js';
import { log } from '../log.js';
import type { HostMetadata } from './index.js';

export const METADATA_IP = '169.254.169.254';
/**
 * The API's address in every VPC. Link-local, as the metadata service's, so it is never an address of a VPC's own;
 * and one AWS gives instances nothing at: 169.254.169.254 is the metadata service, .253 the DNS resolver, .123 the
 * time service, .250 and .251 Windows (KMS) activation, 169.254.170.2 ECS's task endpoint.
 */
export const API_IP = '169.254.169.252';
export const API_PORT = 443;

/** One listening address in each VPC router. */
export interface VpcEndpoint {
  ip: string;
  port: number;
}

export const METADATA_ENDPOINT: VpcEndpoint = { ip: METADATA_IP, port: 80 };
export const API_ENDPOINT: VpcEndpoint = { ip: API_IP, port: API_PORT };

/** Whether a connection the listeners passed on came in at the API's address (else the metadata service's). */
export function isApiConnection(socket: Socket): boolean {
  return socket.localAddress === API_IP && socket.localPort === API_PORT;
}

export class MetadataListeners implements HostMetadata {
  private readonly servers = new Map<string, { inode: number; servers: Promise<Server[]> }>();
  private onConnection: (vpcId: string, socket: Socket) => void = (_vpc, socket) => socket.destroy();

  constructor(private readonly endpoints: readonly VpcEndpoint[] = [METADATA_ENDPOINT, API_ENDPOINT]) {}

  /** Where connections go (both addresses': `isApiConnection` tells them apart); until then they are closed. */
  handle(fn: (vpcId: string, socket: Socket) => void): void {
    this.onConnection = fn;
  }

  /** Listen in the VPC's router (once per router namespace: a router made anew gets new sockets). */
  async ensure(vpcId: string): Promise<void> {
    const inode = statSync(nsPath(routerNs(vpcId)), { throwIfNoEntry: false })?.ino;
    if (inode === undefined) return;
    const have = this.servers.get(vpcId);
    if (have?.inode === inode) { await have.servers; return; }
    if (have) this.close(vpcId);
    const servers = this.listen(vpcId);
    this.servers.set(vpcId, { inode, servers });
    servers.catch(() => { if (this.servers.get(vpcId)?.servers === servers) this.servers.delete(vpcId); });
    await servers;
  }

  /** Every endpoint's socket in the router, or none: one that fails closes those already made. */
  private async listen(vpcId: string): Promise<Server[]> {
    const ns = routerNs(vpcId);
    // The metadata address is the router's from its making (network.ts); any other is added here, once.
    const extra = this.endpoints.filter((e) => e.ip !== METADATA_IP);
    if (extra.length) {
      const addrs = (await run('ip', ['-n', ns, '-o', 'addr', 'show', 'dev', 'lo'], { reject: false })).stdout;
      for (const e of extra) if (!addrs.includes(` ${e.ip}/`)) await run('ip', ['-n', ns, 'addr', 'add', `${e.ip}/32`, 'dev', 'lo']);
    }
    const made = await Promise.allSettled(this.endpoints.map((e) => receiveServer('ip', ['netns', 'exec', ns, process.execPath,
      join(projectRoot(), 'dist/src/host/listen-child.js'), e.ip, String(e.port)])));
    const servers = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []));
    const failed = made.find((m) => m.status === 'rejected');
    if (failed) {
      for (const s of servers) s.close();
      throw failed.reason;
    }
    for (const s of servers) {
      s.on('connection', (sock: Socket) => this.onConnection(vpcId, sock));
      s.on('error', (err) => log.warn(`listener of ${vpcId}: ${err.message}`));
    }
    return servers;
  }

  close(vpcId: string): void {
    const have = this.servers.get(vpcId);
    this.servers.delete(vpcId);
    void have?.servers.then((ss) => { for (const s of ss) s.close(); }, () => undefined);
  }

  closeAll(): void {
    for (const id of [...this.servers.keys()]) this.close(id);
  }
}
