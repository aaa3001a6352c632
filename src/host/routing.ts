/**
 * Route tables in a VPC router: policy routing by source. Each route table is two kernel tables (1000 + 2i for its
 * subnets, 1001 + 2i for those of its instances that have a public address on the physical network, whose internet
 * routes leave by the macvlan instead of the uplink); `ip rule`s send each subnet (and each public instance) to its
 * table, the VPC's own range stays in main, and what no route matches is unreachable. NAT gateways SNAT the sources
 * routed to them to their Elastic IP on the macvlan (routerNft renders that part).
 */
import type { Edge, PortRules } from './types.js';

/** Where one route sends its traffic, as the router does it. */
export type HostRoute =
  | { destination: string; via: 'internet' }
  | { destination: string; via: 'nat'; publicIp?: string }
  | { destination: string; via: 'instance'; ip: string; port: string }
  | { destination: string; via: 'blackhole' };

export interface HostRouteTable {
  /** The subnets (CIDRs) that use it. */
  sources: string[];
  /** Instances of those subnets with a public address (their private IPs). */
  publicSources: string[];
  routes: HostRoute[];
}

export interface Routing {
  vpcCidr: string;
  tables: HostRouteTable[];
}

/** The edge with the VPC's route tables (host/types.ts' Edge gains `routing`: see the report). */
export type RoutedEdge = Edge & { routing?: Routing };

/** A port's rules with its source/destination check (off: the instance may forward, as a NAT instance does). */
export type CheckedPort = PortRules & { sourceDestCheck?: boolean };

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** An IPv4 address, or refused: what is rendered into a command batch is exactly that. */
export function ip(value: string): string {
  if (typeof value !== 'string' || !IPV4.test(value)) throw new Error('not an IPv4 address');
  return value;
}

/** An IPv4 CIDR (a.b.c.d/n), or refused. */
export function cidr(value: string): string {
  const [a, n, ...rest] = typeof value === 'string' ? value.split('/') : [];
  if (rest.length || a === undefined || n === undefined || !/^\d{1,2}$/.test(n) || Number(n) > 32) throw new Error('not an IPv4 CIDR');
  ip(a);
  return value;
}

/** An interface name pcloud made (instance ports `v` + 14 hex), or refused. */
function port(value: string): string {
  if (!/^v[0-9a-f]{14}$/.test(value)) throw new Error('not an instance port');
  return value;
}

export const TABLE_BASE = 1000;
export const RULE_PREFS = { vpc: 90, uplink: 95, public: 100, subnet: 200, unreachable: 300 } as const;

/**
 * The `ip -batch` lines that put the router's policy routing in place: what `existing` (rule priorities and kernel
 * tables of ours, as found) had goes first, then every rule and route of `routing`.
 */
export function routingLines(
  routing: Routing,
  ctx: { uplinkHost: string; uplinkCidr: string; ext?: { cidr: string; gateway?: string } },
  existing: { rulePrefs: number[]; tables: number[] },
): string[] {
  const lines: string[] = [];
  for (const pref of existing.rulePrefs) lines.push(`rule del pref ${pref}`);
  for (const t of existing.tables) lines.push(`route flush table ${t}`);
  lines.push(`rule add to ${cidr(routing.vpcCidr)} lookup main pref ${RULE_PREFS.vpc}`);
  lines.push(`rule add to ${cidr(ctx.uplinkCidr)} lookup main pref ${RULE_PREFS.uplink}`);
  routing.tables.forEach((t, i) => {
    const priv = TABLE_BASE + 2 * i;
    const pub = priv + 1;
    const twins = t.publicSources.length ? [[priv, false], [pub, true]] as const : [[priv, false]] as const;
    for (const [table, isPublic] of twins) {
      let extUsed = false;
      for (const r of t.routes) {
        const dest = cidr(r.destination);
        const byExt = ctx.ext && ((r.via === 'internet' && isPublic) || (r.via === 'nat' && r.publicIp));
        if (r.via === 'blackhole') lines.push(`route replace blackhole ${dest} table ${table}`);
        else if (r.via === 'instance') lines.push(`route replace ${dest} via ${ip(r.ip)} dev ${port(r.port)} onlink table ${table}`);
        else if (byExt && ctx.ext) {
          extUsed = true;
          lines.push(ctx.ext.gateway ? `route replace ${dest} via ${ip(ctx.ext.gateway)} dev ext onlink table ${table}` : `route replace ${dest} dev ext table ${table}`);
        } else lines.push(`route replace ${dest} via ${ip(ctx.uplinkHost)} dev uplink onlink table ${table}`);
      }
      // The physical network itself is reached directly by the macvlan, from any table that reaches out (where the
      // router lets out only public addresses and NAT gateways' sources: a private address never leaves there, nor
      // reaches the physical network by the host).
      if (ctx.ext && (extUsed || t.routes.some((r) => r.via === 'internet'))) lines.push(`route replace ${cidr(ctx.ext.cidr)} dev ext table ${table}`);
    }
    for (const p of t.publicSources) lines.push(`rule add from ${ip(p)} lookup ${pub} pref ${RULE_PREFS.public}`);
    for (const s of t.sources) lines.push(`rule add from ${cidr(s)} lookup ${priv} pref ${RULE_PREFS.subnet}`);
  });
  lines.push(`rule add from ${cidr(routing.vpcCidr)} unreachable pref ${RULE_PREFS.unreachable}`);
  return lines;
}

/** Our rules' priorities in `ip rule show` output (one entry per rule, so each `rule del pref` removes one). */
export function ownRulePrefs(ruleShow: string): number[] {
  const ours = new Set<number>(Object.values(RULE_PREFS));
  return [...ruleShow.matchAll(/^(\d+):/gm)].map((m) => Number(m[1])).filter((p) => ours.has(p));
}

/** Our kernel tables in `ip route show table all` output. */
export function ownTables(routeShow: string): number[] {
  return [...new Set([...routeShow.matchAll(/\btable (\d+)\b/g)].map((m) => Number(m[1])).filter((t) => t >= TABLE_BASE && t < TABLE_BASE + 10_000))];
}

/** The SNAT rules of NAT gateways (postrouting): each table's sources, for its NAT routes, to the gateway's address. */
export function natSnatLines(routing: Routing | undefined): string[] {
  const out: string[] = [];
  for (const t of routing?.tables ?? []) {
    if (!t.sources.length) continue;
    for (const r of t.routes) {
      if (r.via !== 'nat' || !r.publicIp) continue;
      out.push(`    oifname "ext" ip saddr { ${t.sources.map(cidr).join(', ')} } ip daddr ${cidr(r.destination)} snat to ${ip(r.publicIp)}`);
    }
  }
  return out;
}

/** The sources NAT gateways carry out by the macvlan (the router's forward chain lets them out there). */
export function natSources(routing: Routing | undefined): string[] {
  return [...new Set((routing?.tables ?? []).filter((t) => t.routes.some((r) => r.via === 'nat' && r.publicIp)).flatMap((t) => t.sources.map(cidr)))];
}

/** The NAT gateways' Elastic IPs: addresses of the router's macvlan. */
export function natAddresses(routing: Routing | undefined): string[] {
  return [...new Set((routing?.tables ?? []).flatMap((t) => t.routes.flatMap((r) => (r.via === 'nat' && r.publicIp ? [ip(r.publicIp)] : []))))];
}
