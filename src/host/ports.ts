/**
 * Host-wide TCP ports (nginx's function URLs, tgtd's portal, NFS, the API's --listen): whether one is free, and who
 * holds it when it is not, so that a second server on the host is refused with a message instead of silently sharing
 * a port (or taking it over once the first one's service dies).
 */
import { createServer } from 'node:net';
import { readFile, readdir, readlink } from 'node:fs/promises';
import type { HostPort } from './units/types.js';

export class PortInUseError extends Error {
  constructor(readonly port: HostPort, holder: string) {
    super(`port ${port.port} on ${port.host} is already in use${holder}: stop it, or set ${port.setting} to a free port`);
  }
}

/** A HOST:PORT listen address (`[::1]:8773`, or a bare port on 127.0.0.1). */
export function parseListen(listen: string): { hostname: string; port: number } {
  const i = listen.lastIndexOf(':');
  const hostname = i > 0 ? listen.slice(0, i).replace(/^\[|\]$/g, '') : '127.0.0.1';
  const port = Number(i >= 0 ? listen.slice(i + 1) : listen);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --listen ${listen}: expected HOST:PORT`);
  return { hostname, port };
}

/** A listen address as a host-wide port of a unit, with the setting that moves it (e.g. nginx's PCLOUD_LAMBDA_LISTEN). */
export function hostPortOf(listen: string, setting: string): HostPort {
  const { hostname, port } = parseListen(listen);
  return { host: hostname, port, setting };
}

/** Whether host:port can be listened on now (EADDRINUSE: no; any other error is the service's own to report). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'EADDRINUSE'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Inodes of the sockets listening on a TCP port (any address) in this network namespace. */
async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex, st 0A is LISTEN, inode is the tenth field.
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A' && f[9]) inodes.add(f[9]);
    }
  }
  return inodes;
}

/** The processes holding a listening socket on a TCP port. */
export async function portHolders(port: number): Promise<number[]> {
  const inodes = await listeningInodes(port);
  if (!inodes.size) return [];
  const holders: number[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) {
        holders.push(Number(pid));
        break;
      }
    }
  }
  return holders;
}

/** The pcloud unit a process runs in, from its cgroup (`/pcloud/NAME.ID` under the direct manager, `NAME.service` under systemd). */
export async function unitOfProcess(pid: number): Promise<string | undefined> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    const direct = /\/pcloud\/(pcloud-[^/.]+)\.[0-9a-f]+(?:\/|$)/.exec(path);
    if (direct) return direct[1];
    const systemd = /\/(pcloud-[^/]+)\.service(?:\/|$)/.exec(path);
    if (systemd) return systemd[1];
  }
  return undefined;
}

/**
 * Refuse (PortInUseError) while a port is held by a process that is not `own` (the data dir's own unit, e.g. a
 * leftover of it that the caller will take down).
 */
export async function assertPortsFree(ports: readonly HostPort[], own: (pid: number) => boolean | Promise<boolean> = () => false): Promise<void> {
  for (const p of ports) {
    if (await portFree(p.host, p.port)) continue;
    const holders = await portHolders(p.port);
    const others: number[] = [];
    for (const pid of holders) if (!(await own(pid))) others.push(pid);
    if (holders.length && !others.length) continue;
    const unit = others.length ? await unitOfProcess(others[0]!) : undefined;
    throw new PortInUseError(p, unit ? ` by another pcloud server (its ${unit})` : ' by another program');
  }
}
