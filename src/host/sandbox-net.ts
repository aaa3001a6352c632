/**
 * What of the host's network a Lambda handler reaches. Handlers run in the host's network namespace (they call out,
 * as on Lambda, and call pcloud's API), as users of the sandbox range (sandbox-users.ts under the direct manager;
 * systemd gives DynamicUser= ones from the same range). Their sockets' packets to the host itself (any of its local
 * addresses: loopback, its LAN address, a VPC uplink's end, and its broadcast and multicast ones, which the kernel
 * loops back to the host's sockets) are refused but for DNS (a resolver on the host, as /etc/resolv.conf may say),
 * pcloud's API port (AWS_ENDPOINT_URL) and its nginx's (function URLs); so are packets to VPC routers' uplink ends
 * (100.64.0.0/10), link-local addresses and the NFS clients' space (240.0.0.0/4). Everything else (the world, other
 * machines) is reached as before. The host's other services over IP (a PostgreSQL control plane, tgt, ganesha,
 * anything bound to 127.0.0.1) are not a handler's to reach, nor another function's Runtime API: a custom runtime's
 * API (src/runtime/shim.ts) listens on a loopback address at the port equal to its function's uid, and a user of the
 * range reaches on the host's loopback only the port that is its own uid (a pair set: uid . port), answering from it.
 * Every packet is judged on its own: no conntrack state (which another socket may have made) lets one through.
 *
 * One nft table for every pcloud of the host (`inet pcloud_sandbox`), written idempotently: the rules replaced, the
 * API ports a set each server adds its own to. The match is the socket's owner: packets without one (the kernel's
 * own replies) never match. A service of the host's own running with systemd's DynamicUser= falls in the same range
 * and is held to the same: on a pcloud host, that is pcloud's functions. A firewall reload that flushes every table
 * (Debian's nftables.conf begins with `flush ruleset`) takes it away: servers look for it every minute and write it
 * again (FunctionHost.keepNetwork).
 */
import { log } from '../log.js';
import { run } from './exec.js';
import { SANDBOX_UID_FIRST, SANDBOX_UID_LAST } from '../runtime/sandbox-range.js';

export const SANDBOX_NET_TABLE = 'inet pcloud_sandbox';

/** A TCP port, or refused (it is written into nft's input). */
function port(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`not a port: ${String(value)}`);
  return value;
}

/** Each user of the range with the port that is its uid: where its Runtime API listens (sandbox-range.ts' runtimeApiPort). */
const OWN_PORTS = Array.from({ length: SANDBOX_UID_LAST - SANDBOX_UID_FIRST + 1 }, (_, i) => `${SANDBOX_UID_FIRST + i} . ${SANDBOX_UID_FIRST + i}`).join(', ');

/** The table as one nft transaction: the rules replaced, `ports` added to those the host's handlers may reach. */
export function sandboxNetText(ports: number[]): string {
  const t = SANDBOX_NET_TABLE;
  const allowed = [...new Set(ports.map(port))];
  return [
    `add table ${t}`,
    `add set ${t} api_ports { type inet_service; }`,
    ...(allowed.length ? [`add element ${t} api_ports { ${allowed.join(', ')} }`] : []),
    `add set ${t} own_ports { type uid . inet_service; }`,
    `add element ${t} own_ports { ${OWN_PORTS} }`,
    `add chain ${t} output { type filter hook output priority filter; policy accept; }`,
    `add chain ${t} sandboxed`,
    `flush chain ${t} output`,
    `flush chain ${t} sandboxed`,
    `add rule ${t} output meta skuid ${SANDBOX_UID_FIRST}-${SANDBOX_UID_LAST} jump sandboxed`,
    // Each packet on its own (no state another socket could have made): DNS, the API ports, its own port on loopback
    // (its Runtime API), and that listener's answers (the reply direction of a connection made to it, from its port).
    `add rule ${t} sandboxed fib daddr type local meta l4proto { tcp, udp } th dport 53 accept`,
    `add rule ${t} sandboxed fib daddr type local tcp dport @api_ports accept`,
    `add rule ${t} sandboxed ip daddr 127.0.0.0/8 meta skuid . tcp dport @own_ports accept`,
    `add rule ${t} sandboxed ip daddr 127.0.0.0/8 ct direction reply meta skuid . tcp sport @own_ports accept`,
    // Refused at once (a reset, an ICMP error), not dropped: a handler's connect fails now, not after its timeout. The
    // host's broadcast and multicast addresses too: the kernel loops them back to the host's sockets on every address.
    `add rule ${t} sandboxed fib daddr type { local, broadcast, multicast } meta l4proto tcp reject with tcp reset`,
    `add rule ${t} sandboxed fib daddr type { local, broadcast, multicast } reject`,
    `add rule ${t} sandboxed ip daddr { 224.0.0.0/4, 255.255.255.255 } reject`,
    `add rule ${t} sandboxed ip6 daddr ff00::/8 reject`,
    `add rule ${t} sandboxed ip daddr { 100.64.0.0/10, 169.254.0.0/16, 240.0.0.0/4 } meta l4proto tcp reject with tcp reset`,
    `add rule ${t} sandboxed ip daddr { 100.64.0.0/10, 169.254.0.0/16, 240.0.0.0/4 } reject`,
    `add rule ${t} sandboxed ip6 daddr fe80::/10 reject`,
  ].join('\n') + '\n';
}

/** The port of an endpoint handlers are given (pcloud's API: AWS_ENDPOINT_URL; its nginx), if any. */
export function endpointPort(endpoint: string | undefined): number | undefined {
  if (!endpoint) return undefined;
  const url = new URL(endpoint);
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Whether the table is there (a firewall reload may have flushed it). */
export async function sandboxNetPresent(): Promise<boolean> {
  return (await run('nft', ['list', 'table', ...SANDBOX_NET_TABLE.split(' ')], { reject: false })).exitCode === 0;
}

/** Write the table (idempotent), `ports` among those the host's handlers may reach. */
export async function applySandboxNet(ports: number[]): Promise<void> {
  await run('nft', ['-f', '-'], { input: sandboxNetText(ports) });
}

/** `ports` no longer among those (a server that gave them stops: nothing of the host's may take them over unseen). */
export async function withdrawSandboxPorts(ports: number[]): Promise<void> {
  const gone = [...new Set(ports.map(port))];
  if (!gone.length) return;
  // Added first, so that deleting one already gone does not fail the others' (a table never written: nothing to do).
  const elements = `${SANDBOX_NET_TABLE} api_ports { ${gone.join(', ')} }`;
  await run('nft', ['-f', '-'], { input: `add element ${elements}\ndelete element ${elements}\n`, reject: false });
}

/**
 * One server's part in the table: written (once) before its handlers run, with the ports it gives them; written again
 * if something took it away; its ports withdrawn when it stops.
 */
export class SandboxNet {
  private ready?: Promise<void>;
  private readonly ports = new Set<number>();

  /** The table written with these ports among the reachable ones (nothing to do once it has them). */
  ensure(ports: (number | undefined)[]): Promise<void> {
    const fresh = ports.filter((p): p is number => p !== undefined && !this.ports.has(p));
    if (this.ready && !fresh.length) return this.ready;
    for (const p of fresh) this.ports.add(p);
    const ready = applySandboxNet([...this.ports]);
    this.ready = ready;
    ready.catch(() => { if (this.ready === ready) this.ready = undefined; });
    return ready;
  }

  /** Written again if it was once and is gone (a firewall reload that flushed every table). */
  async keep(): Promise<void> {
    if (!this.ready || (await sandboxNetPresent())) return;
    log.warn('the Lambda sandbox\'s network filter was gone (a firewall reload?): written again');
    this.ready = undefined;
    await this.ensure([]);
  }

  async close(): Promise<void> {
    const ports = [...this.ports];
    this.ready = undefined;
    this.ports.clear();
    await withdrawSandboxPorts(ports);
  }
}
