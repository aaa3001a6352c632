/**
 * Instance networks on the host. Each VPC is a router network namespace (`pcloud-vpc-…`) holding the gateway address
 * of each of its subnets, so VPCs with overlapping CIDRs never meet. Each instance gets a namespace of its own
 * (`pcloud-i-…`) with `eth0`, one end of a veth pair whose other end is routed (a /32, proxy ARP) in its VPC's router,
 * set up before the container starts; nspawn joins it with --network-namespace-path (never under `ip netns exec`).
 * Security groups are nftables chains in the router's forward hook, per instance port.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { run } from './exec.js';
import { Owners } from './owners.js';
import type { Edge, FlowRule, Nic } from './types.js';
import { natAddresses, natSnatLines, natSources, ownRulePrefs, ownTables, routingLines, type CheckedPort, type RoutedEdge } from './routing.js';
import type { HostNetwork } from './index.js';
import { joinOverlay, leaveOverlay, type Overlay } from './vxlan.js';
export type { Edge, FlowRule, NfsClient, Nic, PortRules } from './types.js';


export const routerNs = (vpcId: string) => `pcloud-${vpcId}`;



function ruleText(r: FlowRule, dir: 'saddr' | 'daddr'): string | undefined {
  if (!r.cidrs.length) return undefined;
  const addrs = `ip ${dir} { ${r.cidrs.join(', ')} }`;
  const proto = r.protocol.toLowerCase();
  if (proto === '-1' || proto === 'all') return `${addrs} accept`;
  if (proto === 'icmp' || proto === '1') return `${addrs} ip protocol icmp accept`;
  const name = proto === '6' ? 'tcp' : proto === '17' ? 'udp' : proto;
  if (name !== 'tcp' && name !== 'udp') return undefined;
  const ports = r.fromPort === undefined || r.fromPort < 0 ? '' : ` ${name} dport ${r.fromPort === r.toPort || r.toPort === undefined ? r.fromPort : `${r.fromPort}-${r.toPort}`}`;
  return ports ? `${addrs}${ports} accept` : `${addrs} ip protocol ${name} accept`;
}

/**
 * The router's security group table: replies pass, then each instance port's own ingress and egress chains. A port
 * with its source/destination check on (the default) sends only from its instance's address and is sent only what is
 * addressed to it; with the check off the instance may route (a NAT instance).
 */
export function firewallText(ports: CheckedPort[]): string {
  const lines = ['table inet pcloud_sg', 'delete table inet pcloud_sg', 'table inet pcloud_sg {', '  chain forward {',
    '    type filter hook forward priority filter; policy accept;', '    ct state established,related accept', '    ct state invalid drop'];
  for (const p of ports) {
    const port = portName(p.instanceId);
    // An instance sends only from its own address (a VM's guest could forge any): no other instance's NFS access, no
    // address of the router's or the host's.
    if (p.ip && p.sourceDestCheck !== false) lines.push(`    iifname "${port}" ip saddr != ${p.ip} drop`, `    oifname "${port}" ip daddr != ${p.ip} drop`);
    lines.push(`    oifname "${port}" jump in_${p.instanceId.slice(2)}`, `    iifname "${port}" jump out_${p.instanceId.slice(2)}`);
  }
  // A port with no chains yet (an instance still attaching) is closed, not open.
  lines.push('    oifname "v*" drop', '    iifname "v*" drop', '  }');
  // The metadata service (local to the router) answers each instance with its hop limit as the IP TTL: a packet
  // forwarded once more inside the instance (a container there) dies past the limit.
  lines.push('  chain metadata {', '    type filter hook output priority filter; policy accept;');
  for (const p of ports) {
    if (p.ip && p.hopLimit) lines.push(`    ip saddr 169.254.169.254 tcp sport 80 ip daddr ${p.ip} ip ttl set ${p.hopLimit}`);
  }
  lines.push('  }');
  for (const p of ports) {
    lines.push(`  chain in_${p.instanceId.slice(2)} {`, ...p.ingress.map((r) => ruleText(r, 'saddr')).filter(Boolean).map((l) => `    ${l}`), '    drop', '  }');
    lines.push(`  chain out_${p.instanceId.slice(2)} {`, ...p.egress.map((r) => ruleText(r, 'daddr')).filter(Boolean).map((l) => `    ${l}`), '    drop', '  }');
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
/** The router end of a VM's tap: the guest's MAC with another first octet (both locally administered). */
const tapMac = (mac: string) => `fe${mac.slice(2)}`;
/** Whether the VPC's router namespace exists (its bind mount under /run/netns; no command on the launch path). */
const routerExists = (vpcId: string) => existsSync(nsPath(routerNs(vpcId)));
export const instanceNs = (instanceId: string) => `pcloud-${instanceId}`;
export const nsPath = (name: string) => `/run/netns/${name}`;
/** The router side of an instance's veth: interface names are at most 15 characters. */
export const portName = (instanceId: string) => `v${instanceId.slice(2, 16)}`;
/** The host side of a VPC router's uplink. */
export const uplinkName = (vpcId: string) => `pu${vpcId.slice(4, 16)}`;

/**
 * The /30 that links a VPC's router to the host, in 100.64.0.0/10 (shared address space, never routed outside),
 * derived from the VPC id: host .1, router .2.
 */
export function uplinkAddresses(vpcId: string): { host: string; router: string } {
  const slot = (parseInt(vpcId.slice(4, 12), 16) % (1 << 20)) * 4;
  const base = ((100 << 24) | (64 << 16)) + slot;
  const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  return { host: ip(base + 1), router: ip(base + 2) };
}

/** The host's part of NAT: forwarding on, and one nftables table of pcloud's own masquerading the VPC uplinks. */
export const HOST_NFT = `table ip pcloud {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 100.64.0.0/10 oifname != "pu*" masquerade
  }
}
`;

/**
 * The host's filter for what arrives from VPC routers (their uplinks, `pu…`), one table shared by every pcloud on the
 * host. An instance reaches the host only as pcloud means it to: nothing addressed to the host itself passes (its main
 * address, another VPC's uplink end, any other) unless it answers a connection the host made, or is for the host's
 * end of the uplink it came by. That end is the router's own (iSCSI for its VMs); the router drops its instances'
 * traffic to it but their NFS, SNATed to each instance's NFS address, which the NFS port's filter (nfs.ts) narrows to
 * the exported addresses. Nor does the host forward one VPC's traffic into another's uplink.
 */
export const HOST_FILTER = `table inet pcloud_host {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname != "pu*" accept
    ct state established,related accept
    fib daddr . iif type local accept
    drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "pu*" oifname "pu*" drop
  }
}
`;



/**
 * The address an instance's NFS traffic reaches the host from: one per instance, host-wide (VPCs overlap, and the
 * router's own address is shared by its instances), in 240.0.0.0/4 (reserved, never on a real network), derived from
 * the instance id as uplink slots are from VPC ids. ganesha exports each volume to its instance's address only.
 */
export function nfsClientAddress(instanceId: string): string {
  const n = 0xf0000000 + (createHash('sha256').update(instanceId).digest().readUInt32BE(0) % 0x0fffffff); // never .255.255.255.255
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * The router's NAT table. With an internet gateway, VPC traffic leaving by the uplink takes the router's uplink
 * address; a public IP is DNATed to its instance and the instance's traffic out of the macvlan SNATed to it (1:1).
 * Without one, nothing is forwarded out of either; private addresses never leave by the macvlan.
 */
export function routerNft(edge: RoutedEdge, hostAddress?: string): string {
  const maps = edge.external?.maps ?? [];
  const on = edge.internet;
  // NAT gateways' SNAT to their Elastic IPs on the macvlan (only with an external network to put them on).
  const natOut = on && edge.external ? natSnatLines(edge.routing) : [];
  const natFrom = on && edge.external ? natSources(edge.routing) : [];
  const lines = ['table ip pcloud', 'delete table ip pcloud', 'table ip pcloud {'];
  lines.push('  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;');
  if (on && maps.length) lines.push(`    iifname "ext" dnat to ip daddr map { ${maps.map((m) => `${m.publicIp} : ${m.privateIp}`).join(', ')} }`);
  lines.push('  }', '  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  if (on && maps.length) lines.push(`    oifname "ext" snat to ip saddr map { ${maps.map((m) => `${m.privateIp} : ${m.publicIp}`).join(', ')} }`);
  lines.push(...natOut);
  const nfs = edge.nfs?.clients.length && hostAddress ? edge.nfs : undefined;
  if (nfs) {
    lines.push(`    oifname "uplink" ip daddr ${hostAddress} tcp dport ${nfs.port} snat to ip saddr map { ${nfs.clients.map((c) => `${c.ip} : ${c.nat}`).join(', ')} }`);
  }
  if (on) lines.push('    oifname "uplink" masquerade');
  lines.push('  }', '  chain forward {', '    type filter hook forward priority filter; policy accept;');
  // The host's end of the uplink serves the router itself (iSCSI volumes of its VMs), and NFS to the instances that
  // have NFS volumes, nothing else to instances.
  if (nfs) lines.push(`    ip saddr { ${nfs.clients.map((c) => c.ip).join(', ')} } ip daddr ${hostAddress} tcp dport ${nfs.port} accept`);
  if (hostAddress) lines.push(`    ip daddr ${hostAddress} drop`);
  const outByExt = [...maps.map((m) => m.privateIp), ...natFrom];
  if (!on) lines.push('    oifname "uplink" drop', '    oifname "ext" drop', '    iifname "ext" drop');
  else if (outByExt.length) lines.push(`    oifname "ext" ip saddr != { ${outByExt.join(', ')} } drop`);
  else lines.push('    oifname "ext" drop');
  lines.push('  }', '}', '');
  return lines.join('\n');
}

async function batch(ns: string | undefined, lines: string[], force = false): Promise<void> {
  await run('ip', [...(ns ? ['-n', ns] : []), ...(force ? ['-force'] : []), '-batch', '-'], { input: lines.join('\n') + '\n' });
}

export class NetworkDriver implements HostNetwork {
  /** Namespaces record the data dir that made them (see owners.ts): a server sees and reconciles only its own. */
  private readonly owners: Owners;
  private readonly vpcReady = new Map<string, Promise<void>>();
  private hostReady?: Promise<void>;
  /** The edge (NAT, public IPs) as last applied to each VPC router. */
  private readonly edges = new Map<string, string>();

  constructor(dataDir: string) {
    this.owners = new Owners('netns', dataDir);
  }

  private async addNetns(ns: string): Promise<void> {
    await this.owners.claim(ns);
    await run('ip', ['netns', 'add', ns]);
  }

  private async delNetns(ns: string): Promise<void> {
    await run('ip', ['netns', 'del', ns], { reject: false });
    await this.owners.release(ns);
  }

  /** Forwarding and the host's NAT table, once (replacing only pcloud's own table). */
  private ensureHost(): Promise<void> {
    this.hostReady ??= (async () => {
      await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
      await run('nft', ['-f', '-'], { input: `table ip pcloud\ndelete table ip pcloud\n${HOST_NFT}table inet pcloud_host\ndelete table inet pcloud_host\n${HOST_FILTER}` });
    })();
    this.hostReady.catch(() => { this.hostReady = undefined; });
    return this.hostReady;
  }

  /** pcloud's namespaces on the host (routers `pcloud-vpc-…`, instances `pcloud-i-…`). */
  async allNamespaces(): Promise<string[]> {
    const res = await run('ip', ['netns', 'list'], { reject: false });
    return res.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('pcloud-'));
  }

  /** This data dir's namespaces. */
  async namespaces(): Promise<string[]> {
    return this.owners.mine(await this.allNamespaces());
  }

  /**
   * The VPC's router namespace, with a gateway address for each subnet on `br0` (a bridge with no ports: it only holds
   * the subnets' addresses; instances are routed /32s on ports of their own), and its uplink (idempotent).
   */
  ensureVpc(vpcId: string, gateways: { address: string; prefixLength: number }[]): Promise<void> {
    const key = `${vpcId}|${gateways.map((g) => g.address).join(',')}`;
    let p = this.vpcReady.get(key);
    if (!p) {
      p = this.setupVpc(vpcId, gateways);
      this.vpcReady.set(key, p);
      p.catch(() => this.vpcReady.delete(key));
    }
    return p;
  }

  private async setupVpc(vpcId: string, gateways: { address: string; prefixLength: number }[]): Promise<void> {
    await this.ensureHost();
    const ns = routerNs(vpcId);
    const fresh = !routerExists(vpcId);
    if (fresh) await this.addNetns(ns);
    const links = (await run('ip', ['-n', ns, '-o', 'link', 'show'], { reject: false })).stdout;
    const addrs = (await run('ip', ['-n', ns, '-o', 'addr', 'show'], { reject: false })).stdout;
    const lines = ['link set lo up'];
    if (!/\d+: br0[:@]/.test(links)) lines.push('link add br0 type bridge');
    lines.push('link set br0 up');
    for (const g of gateways) if (!addrs.includes(` ${g.address}/`)) lines.push(`addr add ${g.address}/${g.prefixLength} dev br0`);
    // The metadata service's address, local to the router (instances reach it through their gateway).
    if (!addrs.includes(' 169.254.169.254/')) lines.push('addr add 169.254.169.254/32 dev lo');
    await batch(ns, lines);
    // The uplink to the host, and NAT out of it.
    if (!/\d+: uplink[:@]/.test(links)) {
      const up = uplinkAddresses(vpcId);
      const host = uplinkName(vpcId);
      await run('ip', ['link', 'del', host], { reject: false });
      await batch(undefined, [`link add ${host} type veth peer name uplink netns ${ns}`, `addr add ${up.host}/30 dev ${host}`, `link set ${host} up`]);
      await batch(ns, [`addr add ${up.router}/30 dev uplink`, 'link set uplink up', `route replace default via ${up.host}`]);
      await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      this.edges.delete(vpcId); // a new router has no rules yet, whatever was applied to an earlier one
      await this.setEdge(vpcId, { internet: false });
    }
  }

  /**
   * The router's edge: the NAT switch (internet gateway) and the public IPs on its macvlan. Every launch asks; only a
   * change (or the first ask since this process started) touches the router.
   */
  async setEdge(vpcId: string, edge: RoutedEdge): Promise<void> {
    const key = JSON.stringify(edge);
    if (this.edges.get(vpcId) === key) return;
    const ns = routerNs(vpcId);
    // A router still being made (its uplink not there yet) gets its edge once it is: setupVpc and attach both ask.
    if (!routerExists(vpcId) || !existsSync(`/sys/class/net/${uplinkName(vpcId)}`)) return;
    const natIps = edge.internet ? natAddresses(edge.routing) : [];
    // The macvlan exists once something needs it (a public address); routes by it only then.
    const extUp = Boolean(edge.external && (edge.external.maps.length || natIps.length));
    if (extUp) await this.ensureExternal(vpcId, edge.external!, natIps);
    else await run('ip', ['-n', ns, 'addr', 'flush', 'dev', 'ext'], { reject: false });
    if (edge.routing) await this.applyRouting(vpcId, edge.routing, extUp ? edge.external : undefined);
    await this.routeNfsClients(vpcId, (edge.nfs?.clients ?? []).map((c) => c.nat));
    await run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: routerNft(edge, uplinkAddresses(vpcId).host) });
    this.edges.set(vpcId, key);
  }

  /** The host's routes back to the VPC's NFS client addresses (by its uplink), exactly those. */
  private async routeNfsClients(vpcId: string, nats: string[]): Promise<void> {
    const dev = uplinkName(vpcId);
    const have = (await run('ip', ['-o', '-4', 'route', 'show', 'root', '240.0.0.0/4', 'dev', dev], { reject: false })).stdout
      .split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
    const via = uplinkAddresses(vpcId).router;
    const lines = [
      ...nats.filter((a) => !have.includes(a)).map((a) => `route replace ${a}/32 via ${via} dev ${dev}`),
      ...have.filter((a) => !nats.includes(a)).map((a) => `route del ${a}/32 dev ${dev}`),
    ];
    if (lines.length) await batch(undefined, lines);
  }

  /**
   * The router's leg on the physical network: a macvlan (bridge mode) of the parent, named `ext`, holding each public
   * IP (instances' and NAT gateways') as a /32. Which traffic leaves by it is the route tables' (applyRouting).
   */
  private async ensureExternal(vpcId: string, ext: NonNullable<Edge['external']>, natIps: string[]): Promise<void> {
    const ns = routerNs(vpcId);
    const links = (await run('ip', ['-n', ns, '-o', 'link', 'show'], { reject: false })).stdout;
    if (!/\d+: ext[:@]/.test(links)) {
      const tmp = `pe${vpcId.slice(4, 16)}`;
      await run('ip', ['link', 'del', tmp], { reject: false });
      await batch(undefined, [`link add link ${ext.parent} name ${tmp} type macvlan mode bridge`, `link set ${tmp} netns ${ns}`]);
      await batch(ns, [`link set ${tmp} name ext`, 'link set ext up', `route replace ${ext.cidr} dev ext`]);
    }
    const addrs = (await run('ip', ['-n', ns, '-o', '-4', 'addr', 'show', 'dev', 'ext'])).stdout;
    const have = [...addrs.matchAll(/inet (\S+)\/32/g)].map((m) => m[1]!);
    const want = [...ext.maps.map((m) => m.publicIp), ...natIps];
    const lines = [
      ...want.filter((a) => !have.includes(a)).map((a) => `addr add ${a}/32 dev ext`),
      ...have.filter((a) => !want.includes(a)).map((a) => `addr del ${a}/32 dev ext`),
    ];
    if (lines.length) await batch(ns, lines);
  }

  /** The route tables as policy routing in the router (routing.ts), replacing what was there in one batch. */
  private async applyRouting(vpcId: string, routing: NonNullable<RoutedEdge['routing']>, ext: Edge['external']): Promise<void> {
    const ns = routerNs(vpcId);
    const [rules, tables] = await Promise.all([
      run('ip', ['-n', ns, '-4', 'rule', 'show']), run('ip', ['-n', ns, '-4', 'route', 'show', 'table', 'all']),
    ]);
    const up = uplinkAddresses(vpcId);
    const lines = routingLines(routing, {
      uplinkHost: up.host, uplinkCidr: `${up.host}/32`, ext: ext ? { cidr: ext.cidr, gateway: ext.gateway } : undefined,
    }, { rulePrefs: ownRulePrefs(rules.stdout), tables: ownTables(tables.stdout) });
    // -force: a line that fails does not stop the rest (the sync fails, and the next one redoes it all).
    await batch(ns, lines, true);
  }

  /** The instance's namespace and its eth0, routed as a /32 by the VPC's router, addressed as the API said. */
  async attach(nic: Nic): Promise<string> {
    const ns = instanceNs(nic.instanceId);
    const port = portName(nic.instanceId);
    await this.detach(nic.instanceId);
    // The old namespace's name is gone, but the namespace itself outlives it while a process of the container that
    // left holds it (a unit killed from outside, still dying): its veth goes with the router's end, removed here.
    await run('ip', ['-n', routerNs(nic.vpcId), 'link', 'del', port], { reject: false });
    await this.addNetns(ns);
    // Routed, not bridged: the router owns a /32 route to each instance and answers ARP for the rest of the subnet
    // (proxy ARP), so every packet between instances crosses its forward chain, where security groups apply.
    // The port also carries the subnet's gateway as a /32: the router answers ARP for it there, and DHCP (dnsmasq)
    // tells from it which subnet a request on this port is for.
    await batch(routerNs(nic.vpcId), [
      `link add ${port} type veth peer name eth0 netns ${ns}`, `addr add ${nic.gateway}/32 dev ${port}`, `link set ${port} up`,
      `route replace ${nic.ip}/32 dev ${port}`,
    ]);
    await run('ip', ['netns', 'exec', routerNs(nic.vpcId), 'sysctl', '-q', '-w', `net.ipv4.conf.${port}.proxy_arp=1`]);
    await batch(ns, [
      'link set lo up',
      `link set eth0 address ${nic.mac}`,
      `addr add ${nic.ip}/${nic.prefixLength} dev eth0`,
      'link set eth0 up',
      `route add default via ${nic.gateway}`,
    ]);
    // The container's root is unprivileged in this (host-owned) namespace: its services may still listen on ports
    // below 1024 (sshd) and ping, in this namespace only.
    await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_unprivileged_port_start=0', 'net.ipv4.ping_group_range=0 2147483647']);
    return nsPath(ns);
  }

  /** Replace the VPC's security group rules, atomically (one nft transaction). */
  async applyFirewall(vpcId: string, ports: CheckedPort[]): Promise<void> {
    // A VPC without a router yet has nothing to filter; its first instance's attach applies the rules.
    if (!routerExists(vpcId)) return;
    await run('ip', ['netns', 'exec', routerNs(vpcId), 'nft', '-f', '-'], { input: firewallText(ports) });
  }

  /**
   * A VM's port: a tap in the VPC router (QEMU, run in the router's namespace, opens it by name), routed and carrying
   * the subnet's gateway exactly as a container's veth end. The guest configures itself by DHCP.
   */
  async attachTap(nic: Nic): Promise<void> {
    const port = portName(nic.instanceId);
    const ns = routerNs(nic.vpcId);
    await run('ip', ['-n', ns, 'link', 'del', port], { reject: false });
    await batch(ns, [
      `tuntap add dev ${port} mode tap`, `link set ${port} address ${tapMac(nic.mac)}`, `addr add ${nic.gateway}/32 dev ${port}`,
      `link set ${port} up`, `route replace ${nic.ip}/32 dev ${port}`,
    ]);
    await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv4.conf.${port}.proxy_arp=1`]);
  }

  /** The instance ports (veth ends and taps) in a VPC router, by name. */
  async ports(vpcId: string): Promise<string[]> {
    const out = (await run('ip', ['-n', routerNs(vpcId), '-o', 'link', 'show'], { reject: false })).stdout;
    return [...out.matchAll(/^\d+: (v[0-9a-f]{14})[:@]/gm)].map((m) => m[1]!);
  }

  async removePort(vpcId: string, port: string): Promise<void> {
    await run('ip', ['-n', routerNs(vpcId), 'link', 'del', port], { reject: false });
  }

  async detachTap(vpcId: string, instanceId: string): Promise<void> {
    await run('ip', ['-n', routerNs(vpcId), 'link', 'del', portName(instanceId)], { reject: false });
  }

  /** Remove the instance's namespace; its veth pair goes with it. */
  async detach(instanceId: string): Promise<void> {
    await this.delNetns(instanceNs(instanceId));
  }

  /**
   * After a crash: host links left half-made (a macvlan not yet moved into its router) or orphaned (an uplink whose
   * router is gone). Returns how many it removed. Where routers remain, the host's tables are put in place too.
   */
  async reconcileLinks(): Promise<number> {
    let removed = 0;
    const routers = new Set((await this.allNamespaces()).filter((n) => n.startsWith('pcloud-vpc-')).map((n) => uplinkName(n.slice('pcloud-'.length))));
    // Routers left running (by this server before a restart, or by an older pcloud): the host's NAT and filter as this
    // version has them, before any launch asks.
    if (routers.size) await this.ensureHost();
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    for (const [, name] of links.matchAll(/^\d+: (p[uex][0-9a-f]{12})[:@]/gm)) {
      if (name!.startsWith('pu') && routers.has(name!)) continue;
      await run('ip', ['link', 'del', name!], { reject: false });
      removed++;
    }
    return removed;
  }

  /** The VPC's router joined to its routers on other hosts over VXLAN (vxlan.ts), its entries those of `overlay.peers`. */
  joinVpc(vpcId: string, overlay: Overlay): Promise<void> {
    return joinOverlay(vpcId, routerNs(vpcId), overlay);
  }

  leaveVpc(vpcId: string): Promise<void> {
    return leaveOverlay(vpcId, routerNs(vpcId));
  }

  async removeVpc(vpcId: string): Promise<void> {
    for (const key of this.vpcReady.keys()) if (key.startsWith(`${vpcId}|`)) this.vpcReady.delete(key);
    this.edges.delete(vpcId);
    // The overlay first: a namespace outliving its name (a process still in it) would keep the VPC's VNI taken.
    await leaveOverlay(vpcId, routerNs(vpcId));
    await this.delNetns(routerNs(vpcId));
  }
}
