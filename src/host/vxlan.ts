/**
 * A VPC's routers on several hosts, joined over VXLAN (one VNI per VPC), with forwarding written from what the domain
 * knows, never learnt: no flooding, no multicast group, no all-zero FDB entry.
 *
 * Design: routed between routers (L3), not bridged. Each VPC router holds one VXLAN device, `overlay`, made in the
 * host's namespace on the underlay (so its UDP socket stays there) and moved into the router's namespace. Its MAC is
 * derived from the VNI and the host's underlay address (`routerMac`), so every router of the VPC knows every other
 * router's MAC without asking. For each remote instance, a router has:
 *   - a /32 route `IP dev overlay` (as a local instance has `IP dev vPORT`);
 *   - a permanent neighbour entry IP → the remote ROUTER's overlay MAC (frames land on that router's device, whose own
 *     address they carry, and are routed there onto the instance's port);
 *   - per remote host, one permanent FDB entry: that router's MAC → the host's underlay address.
 * Nothing else leaves by the overlay: an address with no entry has no route there, and a frame for an unknown MAC is
 * dropped (no default destination). Local instances reach remote ones exactly as local ones: their ARP for a subnet
 * neighbour is answered by proxy ARP on their own port (the route to it is via another device). Instances never see
 * another's MAC (the router answers for all), so presenting remote instances' own MACs would gain nothing.
 *
 * Security groups: a packet crosses the forward chains of both routers: leaving A by `iifname vPORT_a` (A's
 * instance's egress chain and its source check), entering B's instance by `oifname vPORT_b` (its ingress chain and
 * destination check), as between two local ports. The device's name does not start with `v`, so the catch-all
 * `oifname "v*" drop` of an unattached port does not touch it. A table of its own (`inet pcloud_overlay`, beside
 * `pcloud_sg`, never replaced by it) narrows the overlay further: it carries only the remote instances' addresses in
 * and out, only to and from local ports (NAT leaves by each instance's own host; the router itself serves nothing over
 * it), and clamps TCP's MSS to the device's MTU (the underlay's less VXLAN's 50 bytes).
 *
 * The underlay: VXLAN carries no proof of its sender, and a device takes a packet of its VNI from anywhere. In the
 * host's namespace (where the devices' socket is) a table of its own (`inet pcloud_vxlan`) takes a packet for one of
 * this host's VNIs only from that VNI's peer hosts (a set of address . VNI), and no instance's traffic forwarded by the
 * host (from its router's uplink, NAT) goes to the VXLAN port at all, nor does any unprivileged process of the host
 * (a Lambda handler, in the host's network namespace) send to it: neither an instance nor a function can forge
 * another VPC's packets from its host's address. (An instance's own public address is no peer's.) A machine that can
 * spoof a peer host's address on the underlay still can: VXLAN has no authentication; the underlay must be trusted.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { run } from './exec.js';
import { ip as ipv4 } from './routing.js';

/** The VXLAN device's name in a router (not `v…`: those are instance ports, closed unless attached). */
export const OVERLAY_DEV = 'overlay';
/** VXLAN's IANA port. */
export const VXLAN_PORT = 4789;

export interface OverlayPeer {
  /** The peer host's underlay address. */
  host: string;
  /** The VPC's instances on that host (their private addresses). */
  instances: { ip: string }[];
}

export interface Overlay {
  /** The VPC's VXLAN network identifier, 1..16777215. */
  vni: number;
  /** This host's underlay address. */
  local: string;
  /** The underlay device (else the kernel routes to each peer). */
  device?: string;
  peers: OverlayPeer[];
}

const VPC_ID = /^vpc-[0-9a-f]{17}$/;
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** A VPC id as pcloud makes them, or refused (it names the router's namespace and a host link). */
export function vpcId(value: string): string {
  if (typeof value !== 'string' || !VPC_ID.test(value)) throw new Error('not a VPC id');
  return value;
}

/** A unicast IPv4 address (not 0/8, loopback, multicast, reserved or broadcast), or refused. */
export function unicast(value: string): string {
  const first = Number(ipv4(value).split('.')[0]);
  if (first === 0 || first === 127 || first >= 224) throw new Error('not a unicast IPv4 address');
  return value;
}

export function vni(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 0xffffff) throw new Error('not a VNI (1..16777215)');
  return value;
}

/** A network interface name (what the kernel takes: at most 15 characters, no space, `/` or `:`), or refused. */
export function ifname(value: string): string {
  if (typeof value !== 'string' || !IFNAME.test(value)) throw new Error('not an interface name');
  return value;
}

/** The overlay as asked, checked whole: every value that reaches an argv or a batch line, and no ambiguity. */
export function checkOverlay(o: Overlay): Overlay {
  vni(o.vni);
  unicast(o.local);
  if (o.device !== undefined) ifname(o.device);
  if (!Array.isArray(o.peers)) throw new Error('peers must be a list');
  const hosts = new Set<string>();
  const ips = new Set<string>();
  for (const p of o.peers) {
    unicast(p.host);
    if (p.host === o.local) throw new Error('a peer is this host');
    if (hosts.has(p.host)) throw new Error('a peer host is listed twice');
    hosts.add(p.host);
    if (!Array.isArray(p.instances)) throw new Error('instances must be a list');
    for (const i of p.instances) {
      unicast(i.ip);
      if (ips.has(i.ip)) throw new Error('an instance address is listed twice');
      ips.add(i.ip);
    }
  }
  return o;
}

/**
 * The overlay MAC of the VPC's router on the host at `address`: locally administered, unicast, from the VNI and the
 * address (every router computes every other's).
 */
export function routerMac(vniValue: number, address: string): string {
  const h = createHash('sha256').update(`${vni(vniValue)}/${unicast(address)}`).digest();
  h[0] = (h[0]! & 0xfc) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The device's temporary name in the host's namespace, before it moves into the router (`px` + 12 hex of the id). */
export const hostTempName = (vpc: string) => `px${vpcId(vpc).slice(4, 16)}`;

/** What a router's overlay holds now (read back from `ip -j` and `bridge -j`). */
export interface OverlayState {
  device?: { vni: number; local?: string; port?: number; learning: boolean; group: boolean; mac: string };
  routes: string[];
  neighbours: { ip: string; mac: string }[];
  fdb: { mac: string; dst: string }[];
}

/** The device's creation, in the host's namespace: made there, on the underlay, then moved into the router. */
export function createLines(vpc: string, ns: string, o: Overlay): string[] {
  const tmp = hostTempName(vpc);
  const dev = o.device === undefined ? '' : ` dev ${ifname(o.device)}`;
  return [
    `link add ${tmp} address ${routerMac(o.vni, o.local)} type vxlan id ${vni(o.vni)} local ${unicast(o.local)}${dev} dstport ${VXLAN_PORT} nolearning`,
    `link set ${tmp} netns ${ns}`,
  ];
}

/** Whether the device there is the one asked for (else it is made again). */
export function deviceMatches(state: OverlayState, o: Overlay): boolean {
  const d = state.device;
  return !!d && d.vni === o.vni && d.local === o.local && d.port === VXLAN_PORT && !d.learning && !d.group && d.mac === routerMac(o.vni, o.local);
}

/**
 * The `ip -batch` lines (in the router) and `bridge -batch` lines that bring the overlay's entries from `state` to
 * what `o` asks: every wanted entry replaced, every other removed (an all-zero or multicast destination included).
 */
export function entryLines(state: OverlayState, o: Overlay): { ip: string[]; bridge: string[] } {
  checkOverlay(o);
  const dev = OVERLAY_DEV;
  const fdb = new Map(o.peers.map((p) => [routerMac(o.vni, p.host), p.host] as const));
  const neigh = new Map(o.peers.flatMap((p) => p.instances.map((i) => [i.ip, routerMac(o.vni, p.host)] as const)));
  const ip: string[] = [];
  const bridge: string[] = [];
  // Stale first: an address that moved host is replaced below, one no longer there stops being routed before its
  // neighbour entry goes.
  for (const r of state.routes) if (!neigh.has(r)) ip.push(`route del ${ipv4(r)}/32 dev ${dev}`);
  for (const n of state.neighbours) if (!neigh.has(n.ip)) ip.push(`neigh del ${ipv4(n.ip)} dev ${dev}`);
  for (const f of state.fdb) if (fdb.get(f.mac) !== f.dst) bridge.push(`fdb del ${mac(f.mac)} dev ${dev} dst ${ipv4(f.dst)} self`);
  for (const [m, host] of fdb) {
    if (!state.fdb.some((f) => f.mac === m && f.dst === host)) bridge.push(`fdb replace ${m} dev ${dev} dst ${host} self permanent`);
  }
  for (const [addr, m] of neigh) {
    if (!state.neighbours.some((n) => n.ip === addr && n.mac === m)) ip.push(`neigh replace ${addr} lladdr ${m} dev ${dev} nud permanent`);
    if (!state.routes.includes(addr)) ip.push(`route replace ${addr}/32 dev ${dev}`);
  }
  return { ip, bridge };
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
function mac(value: string): string {
  if (!MAC.test(value)) throw new Error('not a MAC address');
  return value;
}

/** The router's overlay filter (see the header); `remote` the remote instances' addresses. */
export function overlayNft(remote: string[]): string {
  const dev = OVERLAY_DEV;
  const lines = ['table inet pcloud_overlay', 'delete table inet pcloud_overlay', 'table inet pcloud_overlay {'];
  lines.push('  set remote {', '    type ipv4_addr', ...(remote.length ? [`    elements = { ${remote.map(unicast).join(', ')} }`] : []), '  }');
  lines.push('  chain forward {', '    type filter hook forward priority filter - 1; policy accept;',
    `    iifname "${dev}" ip saddr != @remote drop`, `    oifname "${dev}" ip daddr != @remote drop`,
    `    iifname "${dev}" meta nfproto ipv6 drop`, `    oifname "${dev}" meta nfproto ipv6 drop`,
    `    iifname "${dev}" oifname != "v*" drop`, `    oifname "${dev}" iifname != "v*" drop`,
    `    oifname "${dev}" tcp flags syn tcp option maxseg size set rt mtu`, '  }');
  lines.push('  chain input {', '    type filter hook input priority filter - 1; policy accept;', `    iifname "${dev}" drop`, '  }', '}', '');
  return lines.join('\n');
}

const HOST_TABLE = 'inet pcloud_vxlan';

/**
 * The host's VXLAN filter as one nft transaction (idempotent: the table, sets and chains made if missing, the rules
 * replaced), with the VNI's peers set to `peers` given those it has (`had`); `peers` undefined: the VNI leaves.
 */
export function hostFilterText(vniValue: number, peers: string[] | undefined, had: string[]): string {
  const v = vni(vniValue);
  const t = HOST_TABLE;
  const lines = [
    `add table ${t}`,
    `add set ${t} vnis { typeof @th,96,24; }`,
    `add set ${t} peers { typeof ip saddr . @th,96,24; }`,
    `add chain ${t} input { type filter hook input priority filter - 1; policy accept; }`,
    `flush chain ${t} input`,
    // The VNI is the 24 bits after the UDP header's 8 bytes and VXLAN's flags and reserved 4.
    `add rule ${t} input udp dport ${VXLAN_PORT} @th,96,24 @vnis ip saddr . @th,96,24 != @peers drop`,
    `add chain ${t} forward { type filter hook forward priority filter - 1; policy accept; }`,
    `flush chain ${t} forward`,
    `add rule ${t} forward iifname "pu*" udp dport ${VXLAN_PORT} drop`,
    // Nor from a process of the host's own other than root's: a Lambda handler runs in the host's network namespace
    // as an unprivileged user, and would send from this host's underlay address, the one its peers take VNIs from.
    // The kernel's tunnel sends with no user-space socket (or one in a router's namespace): no skuid, no match.
    `add chain ${t} output { type filter hook output priority filter - 1; policy accept; }`,
    `flush chain ${t} output`,
    `add rule ${t} output udp dport ${VXLAN_PORT} meta skuid != 0 drop`,
  ];
  const stale = had.filter((h) => !peers?.includes(h));
  if (stale.length) lines.push(`delete element ${t} peers { ${stale.map((h) => `${unicast(h)} . ${v}`).join(', ')} }`);
  if (peers) {
    lines.push(`add element ${t} vnis { ${v} }`);
    if (peers.length) lines.push(`add element ${t} peers { ${peers.map((h) => `${unicast(h)} . ${v}`).join(', ')} }`);
  } else {
    // Added first, so that deleting it never fails for its absence.
    lines.push(`add element ${t} vnis { ${v} }`, `delete element ${t} vnis { ${v} }`);
  }
  return lines.join('\n') + '\n';
}

/** The peer hosts of a VNI in `nft -j list set inet pcloud_vxlan peers` output. */
export function parsePeerSet(json: string, vniValue: number): string[] {
  return setElements(json).flatMap((e) => {
    const c = (e as { concat?: [string, number] }).concat;
    return c && c[1] === vniValue ? [c[0]] : [];
  });
}

/** The VNIs in `nft -j list set inet pcloud_vxlan vnis` output. */
export function parseVniSet(json: string): number[] {
  return setElements(json).filter((e): e is number => typeof e === 'number');
}

/** A set's elements in `nft -j list set` output. */
function setElements(json: string): unknown[] {
  if (!json.trim()) return [];
  const out = JSON.parse(json) as { nftables?: { set?: { elem?: unknown[] } }[] };
  return out.nftables?.find((e) => e.set)?.set?.elem ?? [];
}

/** The VNI's place in the host's filter now: whether it is filtered, and its peers. */
async function filterOf(vniValue: number): Promise<{ filtered: boolean; peers: string[] }> {
  const [vnis, peers] = await Promise.all([
    run('nft', ['-j', 'list', 'set', 'inet', 'pcloud_vxlan', 'vnis'], { reject: false }),
    run('nft', ['-j', 'list', 'set', 'inet', 'pcloud_vxlan', 'peers'], { reject: false }),
  ]);
  return {
    filtered: vnis.exitCode === 0 && parseVniSet(vnis.stdout).includes(vniValue),
    peers: peers.exitCode === 0 ? parsePeerSet(peers.stdout, vniValue) : [],
  };
}

/** The VNI's peers in the host's filter set to `peers` (undefined: the VNI leaves the filter). */
async function hostFilter(vniValue: number, peers: string[] | undefined, had?: string[]): Promise<void> {
  const was = had ?? (await filterOf(vniValue)).peers;
  await run('nft', ['-f', '-'], { input: hostFilterText(vniValue, peers, was) });
}

interface IpLink { address?: string; linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean; group?: string } } }

/** Parse `ip -d -j link show`, `ip -j route show`, `ip -j neigh show`, `bridge -j fdb show` of the device. */
export function parseState(link: string, routes: string, neighbours: string, fdb: string): OverlayState {
  const json = <T>(s: string): T[] => (s.trim() ? JSON.parse(s) as T[] : []);
  const l = json<IpLink>(link)[0];
  const info = l?.linkinfo?.info_kind === 'vxlan' ? l.linkinfo.info_data : undefined;
  return {
    device: l && info ? {
      vni: info.id ?? 0, local: info.local, port: info.port, learning: info.learning !== false, group: !!info.group, mac: l.address ?? '',
    } : undefined,
    routes: json<{ dst: string }>(routes).map((r) => r.dst).filter((d) => HOST_ROUTE.test(d)),
    // A learnt or failed entry is not one of ours: replaced if wanted, else removed.
    neighbours: json<{ dst: string; lladdr?: string; state?: string[] }>(neighbours)
      .map((n) => ({ ip: n.dst, mac: n.state?.includes('PERMANENT') ? n.lladdr ?? '' : '' })),
    // Entries with a remote destination only: the device's own addresses (its multicast list) have none.
    fdb: json<{ mac: string; dst?: string }>(fdb).filter((f) => f.dst !== undefined).map((f) => ({ mac: f.mac, dst: f.dst! })),
  };
}
/** A host route's destination as `ip -j route` prints it (a bare address; a wider prefix is not ours). */
const HOST_ROUTE = /^\d+\.\d+\.\d+\.\d+$/;

const nsPathOf = (ns: string) => `/run/netns/${ns}`;

async function readState(ns: string): Promise<OverlayState> {
  const dev = OVERLAY_DEV;
  const link = await run('ip', ['-n', ns, '-d', '-j', 'link', 'show', 'dev', dev], { reject: false });
  if (link.exitCode !== 0) return { routes: [], neighbours: [], fdb: [] };
  const [routes, neighbours, fdb] = await Promise.all([
    run('ip', ['-n', ns, '-j', '-4', 'route', 'show', 'dev', dev]),
    run('ip', ['-n', ns, '-j', '-4', 'neigh', 'show', 'dev', dev]),
    run('bridge', ['-n', ns, '-j', 'fdb', 'show', 'dev', dev]),
  ]);
  return parseState(link.stdout, routes.stdout, neighbours.stdout, fdb.stdout);
}

/**
 * Join the VPC's router (namespace `ns`, made by ensureVpc) to its routers on other hosts: the overlay device made
 * if missing or not as asked, then its entries converged to `o.peers` and its filter replaced (idempotent).
 */
export async function joinOverlay(vpc: string, ns: string, o: Overlay): Promise<void> {
  vpcId(vpc);
  checkOverlay(o);
  if (!existsSync(nsPathOf(ns))) throw new Error('the VPC has no router on this host');
  let state = await readState(ns);
  if (state.device && !deviceMatches(state, o)) {
    await run('ip', ['-n', ns, 'link', 'del', OVERLAY_DEV]);
    if (state.device.vni !== o.vni && state.device.vni > 0) await hostFilter(state.device.vni, undefined);
    state = { routes: [], neighbours: [], fdb: [] };
  }
  // What the filter said of the VNI before: put back if the device cannot be made (the VNI may be another's).
  const before = state.device ? undefined : await filterOf(o.vni);
  // The host takes the VNI's packets from its peers only, before a device of the VNI is there to take any.
  await hostFilter(o.vni, o.peers.map((p) => p.host), before?.peers);
  if (!state.device) {
    const tmp = hostTempName(vpc);
    await run('ip', ['link', 'del', tmp], { reject: false });
    try {
      await batch(['ip'], createLines(vpc, ns, o));
      await batch(['ip', '-n', ns], [`link set ${tmp} name ${OVERLAY_DEV}`, `link set ${OVERLAY_DEV} up`]);
    } catch (err) {
      await run('ip', ['link', 'del', tmp], { reject: false });
      await run('ip', ['-n', ns, 'link', 'del', tmp], { reject: false });
      // No device made: the filter as it was for the VNI (a later leave finds no device to say which VNI it was; and a
      // device of the host's that holds the VNI, another pcloud's, keeps its peers).
      await hostFilter(o.vni, before?.filtered ? before.peers : undefined).catch(() => undefined);
      throw err;
    }
    // No IPv6 on it (no router solicitations, no duplicate address detection), and no ARP answered on it.
    await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${OVERLAY_DEV}.disable_ipv6=1`, `net.ipv4.conf.${OVERLAY_DEV}.arp_ignore=8`]);
  }
  const lines = entryLines(state, o);
  // The filter first: a narrower one stops what leaves before its routes go; a wider one passes nothing yet unrouted.
  const remote = o.peers.flatMap((p) => p.instances.map((i) => i.ip));
  const nft = () => run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: overlayNft(remote) });
  await nft();
  if (lines.ip.length) await batch(['ip', '-n', ns], lines.ip);
  if (lines.bridge.length) await batch(['bridge', '-n', ns], lines.bridge);
}

/** The overlay leaves the VPC's router: its device (its routes, neighbours and FDB entries with it) and its filter. */
export async function leaveOverlay(vpc: string, ns: string): Promise<void> {
  await run('ip', ['link', 'del', hostTempName(vpc)], { reject: false });
  if (!existsSync(nsPathOf(ns))) return;
  // The filters are made around the device: a router with no device has none (a router never joined: one command).
  const state = await readState(ns);
  if (!state.device) return;
  await run('ip', ['-n', ns, 'link', 'del', OVERLAY_DEV], { reject: false });
  await run('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'pcloud_overlay'], { reject: false });
  if (state.device.vni > 0) await hostFilter(state.device.vni, undefined);
}

async function batch(cmd: string[], lines: string[]): Promise<void> {
  await run(cmd[0]!, [...cmd.slice(1), '-batch', '-'], { input: lines.join('\n') + '\n' });
}
