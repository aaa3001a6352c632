/**
 * The VPC plane: the host side of every VPC, its router. Instances attach to and detach from it (a container's
 * namespace or a VM's tap, each a routed /32 on the VPC's router); security group rules, internet gateways, Name tags
 * and NFS volumes change what the router enforces and publishes; a deleted VPC's router goes. Each sync computes from the database when it runs, one at a time per
 * VPC, so the last one applied always reflects the latest instances, rules and tags.
 *
 * Across hosts (issue 17): where this host has an underlay (PCLOUD_UNDERLAY_ADDRESS, recorded as its hosts.address),
 * the router of a VPC with live instances here joins the VPC's routers on the other hosts holding live instances of it
 * (syncOverlay: the VPC's VNI, those hosts' addresses and their instances' private IPs), and leaves once none is left
 * here. It is synced on this server's own launches, stops and terminations and at reconcile; a change made on another
 * host reaches this one by the database's wake-ups (db/wakeups.ts: followVpc). Security group membership
 * and DNS names are the VPC's, every host's instances counted; the rules applied are this host's instances' only.
 */
import { and, asc, eq, inArray, ne } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { addresses, hosts, instances, subnets, volumes, vpcs } from '../db/tables.js';
import type { Host, Overlay, OverlayPeer } from '../host/index.js';
import { nfsClientAddress, portName, type FlowRule, type NfsClient } from '../host/network.js';
import type { HostRoute, Routing } from '../host/routing.js';
import { unicast } from '../host/vxlan.js';
import { log } from '../log.js';
import { KeyedQueue } from '../serial.js';
import type { CloudConfig } from './config.js';
import { dnsOf, gatewayOf, netmaskOf, parseCidr, privateDnsDomain, privateHostLabel } from './ip.js';
import { instanceRow, type Instance } from './instances/types.js';
import type { Network } from './network.js';
import type { PublicIps, PublicMapping } from './public-ips.js';
import type { Route } from './route-tables.js';
import type { Tags } from './tags.js';
import { vniOf } from './vnis.js';


/** What attaching needs to know of an instance. */
export type PlaneInstance = Pick<Instance, 'id' | 'accountId' | 'vpcId' | 'subnetId' | 'privateIp' | 'macAddress' | 'runtime'>;

/** States in which an instance holds its address on its host's router (its VPC's overlay carries it). */
const LIVE = ['pending', 'running', 'stopping'];

/** Whether a host's address (from the database) can be a VXLAN peer's. */
function usable(address: string): boolean {
  try {
    unicast(address);
    return true;
  } catch {
    return false;
  }
}

/** This host as the hosts table has it (the registry's local row). */
export interface LocalHost {
  id: string;
  address: string | null;
}

/** What the plane is asked to keep in line: the syncs other parts of the cloud call when what they change reaches the host. */
export interface VpcSyncs {
  syncEdge(vpcId: string): Promise<void>;
  syncFirewall(accountId: string, vpcId: string): Promise<void>;
  refreshNames(accountId: string, instanceIds: string[]): Promise<void>;
}

export class VpcPlane implements VpcSyncs {
  private readonly firewalls = new KeyedQueue((vpcId, err) => log.warn(`firewall of ${vpcId}: ${err.message}`));
  private readonly edges = new KeyedQueue((vpcId, err) => log.warn(`edge of ${vpcId}: ${err.message}`));
  private readonly overlays = new KeyedQueue((vpcId, err) => log.warn(`overlay of ${vpcId}: ${err.message}`));
  /**
   * This host's row in the hosts table (the Cloud sets it to the registry's `local()`); unset: the host is the row
   * whose address is PCLOUD_UNDERLAY_ADDRESS, if any.
   */
  localHost: () => Promise<LocalHost | undefined> = () => Promise.resolve(undefined);

  constructor(
    private readonly db: Db,
    private readonly host: Host,
    private readonly config: CloudConfig,
    private readonly network: Network,
    private readonly tags: Tags,
    private readonly publicIps: PublicIps,
  ) {}

  /** Whether instances get a VPC network on the host at all ('none': loopback only). */
  get enabled(): boolean {
    return this.config.networking === 'vpc';
  }

  /**
   * The instance's eth0 as a routed /32 on its VPC's router, with the address and MAC the API reported at launch; the
   * router (made if need be) with its gateways, DNS/DHCP and metadata service. Returns a container's network namespace
   * path ('' for a VM's tap).
   */
  async attach(inst: PlaneInstance): Promise<string> {
    const subnets = (await this.network.subnets(inst.accountId)).filter((s) => s.vpcId === inst.vpcId);
    const vpc = await this.network.vpc(inst.accountId, inst.vpcId);
    const dns = dnsOf(vpc.cidr);
    const addresses = [
      ...subnets.map((s) => ({ address: gatewayOf(s.cidr), prefixLength: parseCidr(s.cidr).bits })),
      { address: dns, prefixLength: 32 },
    ];
    await this.host.network.ensureVpc(inst.vpcId, addresses);
    await this.syncEdge(inst.vpcId);
    await this.syncOverlay(inst.vpcId);
    const subnet = subnets.find((s) => s.id === inst.subnetId)!;
    const [path] = await Promise.all([
      (async () => {
        const nic = {
          instanceId: inst.id, vpcId: inst.vpcId, ip: inst.privateIp, prefixLength: parseCidr(subnet.cidr).bits,
          gateway: gatewayOf(subnet.cidr), mac: inst.macAddress,
        };
        if (inst.runtime === 'container') return this.host.network.attach(nic);
        await this.host.network.attachTap(nic);
        return '';
      })().then(async (p) => {
        await this.syncFirewall(inst.accountId, inst.vpcId);
        return p;
      }),
      this.host.metadata.ensure(inst.vpcId),
      this.host.dns.ensure(inst.vpcId, {
        listen: dns, domain: privateDnsDomain(this.config.region),
        subnets: subnets.map((s) => ({ id: s.id, network: s.cidr.split('/')[0]!, netmask: netmaskOf(s.cidr), gateway: gatewayOf(s.cidr) })),
      }).then(() => this.publishNames(inst.accountId, inst.vpcId)),
    ]);
    return path;
  }

  /** The instance's namespace (container) or tap (VM) leaves its VPC's router. Failures are logged, never thrown. */
  async detach(id: string): Promise<void> {
    const inst = await instanceRow(this.db, id);
    await this.host.network.detach(id).catch((err) => log.warn(`removing network of ${id}: ${(err as Error).message}`));
    if (inst && inst.runtime !== 'container' && this.enabled) {
      await this.host.network.detachTap(inst.vpcId, id).catch((err) => log.warn(`removing the tap of ${id}: ${(err as Error).message}`));
    }
  }

  /** The instance's DHCP lease goes (before its port does, so the address can go to a new instance straight away). */
  async releaseLease(id: string): Promise<void> {
    const row = (await this.db.select({ vpcId: instances.vpcId, ip: instances.privateIp, mac: instances.macAddress }).from(instances).where(eq(instances.id, id)).limit(1))[0];
    if (row && this.enabled) {
      await this.host.dns.release(row.vpcId, id, row.ip, row.mac).catch((err) => log.warn(`releasing the lease of ${id}: ${(err as Error).message}`));
    }
  }

  /** After an instance left (or stopped): its name leaves the VPC's DNS, its addresses the VPC's rules and edge. */
  async unpublish(id: string): Promise<void> {
    const inst = await instanceRow(this.db, id);
    if (!inst || !this.enabled) return;
    await this.publishNames(inst.accountId, inst.vpcId).catch((err) => log.warn(`dns of ${inst.vpcId}: ${(err as Error).message}`));
    await this.syncFirewall(inst.accountId, inst.vpcId).catch(() => undefined);
    await this.syncEdge(inst.vpcId).catch(() => undefined);
    await this.syncOverlay(inst.vpcId).catch(() => undefined);
  }

  /**
   * Bring the VPC router's overlay in line with the database: joined to every other host holding live instances of
   * the VPC (with their addresses) while this host holds one; left once it holds none. Nothing without an underlay.
   */
  syncOverlay(vpcId: string): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const apply = async () => {
      const want = await this.overlay(vpcId);
      if (want === undefined) return;
      if (want === 'leave') await this.host.network.leaveVpc(vpcId);
      else await this.host.network.joinVpc(vpcId, want);
    };
    return this.overlays.run(vpcId, apply);
  }

  /** The overlay the VPC's router here should have; 'leave' when it holds no live instance; undefined: no underlay. */
  async overlay(vpcId: string): Promise<Overlay | 'leave' | undefined> {
    const me = await this.underlay();
    if (!me) return undefined;
    const rows = await this.placed(vpcId, me);
    if (!rows.some((r) => !r.remote)) return 'leave';
    const vni = await vniOf(this.db, vpcId);
    if (vni === undefined) return 'leave'; // deleted meanwhile
    const peers = new Map<string, OverlayPeer>();
    // An address held here, or already on another host (a row left behind), is carried once: the first kept.
    const seen = new Set(rows.filter((r) => !r.remote).map((r) => r.ip));
    for (const r of rows) {
      // A draining host's instances run on, reached as before; a removed host's are not.
      if (!r.remote || r.hostState === 'removed' || !r.address || seen.has(r.ip)) continue;
      if (!usable(r.address)) {
        log.warn(`overlay of ${vpcId}: a host's address is not a unicast IPv4 address: its instances are left out`);
        continue;
      }
      seen.add(r.ip);
      const peer = peers.get(r.address) ?? { host: r.address, instances: [] };
      peer.instances.push({ ip: r.ip });
      peers.set(r.address, peer);
    }
    return { vni, local: me.local, ...(me.device ? { device: me.device } : {}), peers: [...peers.values()].sort((a, b) => (a.host < b.host ? -1 : 1)) };
  }

  /** This host's underlay address, device and hosts row id; undefined when it has no underlay (it joins nothing). */
  private async underlay(): Promise<{ local: string; device?: string; hostId?: string } | undefined> {
    const me = await this.localHost();
    const local = me?.address ?? this.host.config.underlayAddress;
    if (!local) return undefined;
    const hostId = me?.id ?? (await this.db.select({ id: hosts.id }).from(hosts).where(eq(hosts.address, local)).limit(1))[0]?.id;
    return { local, device: this.host.config.underlayDevice, hostId };
  }

  /**
   * The VPC's live instances with their hosts, each marked remote or not. Local: no host (the embedded cloud's), this
   * host's id or underlay address; and while this host's row is not known (localHost unset, no row with its address),
   * a host with no address (that is this one, before the registry records its address). Every other one is remote.
   */
  private async placed(vpcId: string, me: { local: string; hostId?: string }) {
    return (await this.db.select({ id: instances.id, ip: instances.privateIp, hostId: instances.hostId, address: hosts.address, hostState: hosts.state }).from(instances)
      .leftJoin(hosts, eq(hosts.id, instances.hostId))
      .where(and(eq(instances.vpcId, vpcId), inArray(instances.state, LIVE))).orderBy(asc(instances.privateIp), asc(instances.id)))
      .map((r) => ({
        ...r, remote: r.hostId !== null && r.hostId !== me.hostId && r.address !== me.local && (me.hostId !== undefined || r.address !== null),
      }));
  }

  /** The VPC's live instances on other hosts: their ids, and their addresses no local instance holds (none without an underlay). */
  private async remote(vpcId: string): Promise<{ ids: Set<string>; ips: Set<string> }> {
    const me = await this.underlay();
    const rows = me ? (await this.placed(vpcId, me)) : [];
    const here = new Set(rows.filter((r) => !r.remote).map((r) => r.ip));
    const away = rows.filter((r) => r.remote);
    return { ids: new Set(away.map((r) => r.id)), ips: new Set(away.map((r) => r.ip).filter((ip) => !here.has(ip))) };
  }

  /**
   * Bring the VPC router's edge in line with the database: NAT while an internet gateway is attached, the public IPs
   * of its instances that hold a network, and the NFS traffic of its containers that hold volumes.
   */
  syncEdge(vpcId: string): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const apply = async () => {
      if (!(await this.vpcExists(vpcId))) return; // deleted meanwhile: its router is gone and stays gone
      const ext = this.config.external;
      // Public addresses, NFS and route targets are each instance's own host's: NAT leaves by the local host.
      const remote = (await this.remote(vpcId)).ips;
      const maps = (await this.publicIps.mappings(vpcId)).filter((m) => !remote.has(m.privateIp));
      const vpc = (await this.db.select({ cidr: vpcs.cidr, accountId: vpcs.accountId }).from(vpcs).where(eq(vpcs.id, vpcId)).limit(1))[0];
      const nfsClients = (await this.nfsClients(vpcId)).filter((c) => !remote.has(c.ip));
      const settling = await this.network.natGateways.settling(vpcId);
      const edge = {
        internet: await this.network.hasInternet(vpcId),
        nfs: nfsClients.length ? { clients: nfsClients, port: this.host.nfs.port } : undefined,
        external: ext && vpc ? { parent: ext.parent, cidr: ext.cidr, gateway: ext.gateway, vpcCidr: vpc.cidr, maps } : undefined,
        routing: vpc ? (await this.routing(vpc.accountId, vpcId, vpc.cidr, maps, remote)) : undefined,
      };
      await this.host.network.setEdge(vpcId, edge);
      // The router serves them now (or no longer): pending NAT gateways become available, deleting ones deleted.
      for (const id of settling) await this.network.natGateways.settle(id);
    };
    return this.edges.run(vpcId, apply);
  }

  /**
   * The VPC's route tables as the router applies them: for each table, the subnets using it, those of their instances
   * with a public address, and its routes (the local one aside) with what each target is on the host now.
   */
  private async routing(accountId: string, vpcId: string, vpcCidr: string, maps: PublicMapping[], remote: Set<string>): Promise<Routing> {
    const { tables, bySubnet } = await this.network.routing.tableOfSubnets(accountId, vpcId);
    const subs = await this.db.select({ id: subnets.id, cidr: subnets.cidr }).from(subnets).where(eq(subnets.vpcId, vpcId));
    const live = (await this.db.select({ id: instances.id, ip: instances.privateIp, subnetId: instances.subnetId }).from(instances)
      .where(and(eq(instances.vpcId, vpcId), inArray(instances.state, ['pending', 'running'])))).filter((i) => !remote.has(i.ip));
    const nats = new Map((await this.network.natGateways.live(vpcId)).map((n) => [n.id, n]));
    const eips = new Map((await this.db.select({ id: addresses.allocationId, ip: addresses.publicIp }).from(addresses).where(eq(addresses.accountId, accountId))).map((a) => [a.id, a.ip]));
    const publicIps = new Set(maps.map((m) => m.privateIp));
    const hostRoute = (r: Route): HostRoute => {
      const destination = r.destination;
      if (r.state === 'blackhole') return { destination, via: 'blackhole' };
      if (r.gatewayId) return { destination, via: 'internet' };
      if (r.natGatewayId) {
        // A private NAT gateway (no Elastic IP) reaches only what is privately routed beyond it: nothing here (no transit
        // gateways or VPNs), so never the internet.
        const n = nats.get(r.natGatewayId);
        const publicIp = n?.allocationId ? eips.get(n.allocationId) : undefined;
        if (!publicIp) return { destination, via: 'blackhole' };
        return { destination, via: 'nat', publicIp };
      }
      const target = live.find((i) => i.id === r.instanceId);
      // An instance on another host is no target here yet (the overlay carries only its own address): a blackhole.
      return target ? { destination, via: 'instance', ip: target.ip, port: portName(target.id) } : { destination, via: 'blackhole' };
    };
    return {
      vpcCidr,
      tables: tables.map((t) => {
        const mine = subs.filter((s) => bySubnet.get(s.id) === t.id);
        return {
          sources: mine.map((s) => s.cidr),
          publicSources: live.filter((i) => mine.some((s) => s.id === i.subnetId) && publicIps.has(i.ip)).map((i) => i.ip),
          routes: t.routes.filter((r) => r.origin === 'CreateRoute').map(hostRoute),
        };
      }).filter((t) => t.sources.length),
    };
  }

  /** Bring the VPC's security group rules (and each instance's metadata hop limit) on the host in line with the database. */
  syncFirewall(accountId: string, vpcId: string): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const apply = async () => {
      if (!(await this.vpcExists(vpcId))) return; // deleted meanwhile: its router is gone and stays gone
      const rows = await this.db.select().from(instances)
        .where(and(eq(instances.accountId, accountId), eq(instances.vpcId, vpcId), inArray(instances.state, ['pending', 'running'])));
      const groupIds = [...new Set(rows.flatMap((r) => r.securityGroupIds))];
      const rules = await this.network.rules(accountId, groupIds);
      const members = (groupId: string) => rows.filter((r) => r.securityGroupIds.includes(groupId)).map((r) => `${r.privateIp}/32`);
      const flows = (inst: Instance, egress: boolean): FlowRule[] => rules
        .filter((r) => r.isEgress === egress && inst.securityGroupIds.includes(r.groupId))
        .map((r) => ({ protocol: r.protocol, fromPort: r.fromPort ?? undefined, toPort: r.toPort ?? undefined, cidrs: r.cidr ? [r.cidr] : members(r.refGroupId!) }));
      // Members are every host's; the ports are this host's instances' only (the others' hosts enforce theirs).
      const remote = (await this.remote(vpcId)).ids;
      await this.host.network.applyFirewall(vpcId, rows.filter((r) => !remote.has(r.id)).map((r) => ({
        instanceId: r.id, ingress: flows(r, false), egress: flows(r, true), ip: r.privateIp, hopLimit: r.attributes.metadataOptions.httpPutResponseHopLimit,
        sourceDestCheck: r.attributes.sourceDestCheck,
      })));
    };
    return this.firewalls.run(vpcId, apply);
  }

  /**
   * Another host's instances of the VPC came, went or changed (told by the database's wake-ups): where this host has
   * the VPC's router, its overlay, names, rules and edge follow. Nothing where it has none (no instance of it here).
   */
  async followVpc(vpcId: string): Promise<void> {
    if (!this.enabled || !(await this.routers()).includes(vpcId)) return;
    const vpc = (await this.db.select({ accountId: vpcs.accountId }).from(vpcs).where(eq(vpcs.id, vpcId)).limit(1))[0];
    await this.syncOverlay(vpcId);
    if (!vpc) return;
    await Promise.all([this.publishNames(vpc.accountId, vpcId), this.syncFirewall(vpc.accountId, vpcId), this.syncEdge(vpcId)]);
  }

  /** Publish the DNS records of the instances' VPCs again (their Name tags changed). */
  async refreshNames(accountId: string, instanceIds: string[]): Promise<void> {
    if (!this.enabled) return;
    const vpcIds = new Set((await this.db.select({ vpcId: instances.vpcId }).from(instances)
      .where(and(eq(instances.accountId, accountId), inArray(instances.id, instanceIds), ne(instances.state, 'terminated')))).map((r) => r.vpcId));
    await Promise.all([...vpcIds].map((v) => this.publishNames(accountId, v)));
  }

  /** The VPC's names (ip-a-b-c-d, and the Name tag) and DHCP hosts, for every instance that keeps its address. */
  async publishNames(accountId: string, vpcId: string): Promise<void> {
    if (!(await this.vpcExists(vpcId))) return; // deleted meanwhile: its DNS unit is gone and stays gone
    const rows = await this.db.select({ id: instances.id, ip: instances.privateIp, mac: instances.macAddress }).from(instances)
      .where(and(eq(instances.accountId, accountId), eq(instances.vpcId, vpcId), inArray(instances.state, ['pending', 'running', 'stopping', 'stopped'])));
    const tags = await this.tags.of(rows.map((r) => r.id));
    const records = rows.map((r) => {
      // A DNS label: at most 63 characters of letters, digits and inner hyphens.
      const name = tags.get(r.id)?.find((t) => t.key === 'Name')?.value.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
      return { ip: r.ip, mac: r.mac, names: [privateHostLabel(r.ip), ...(name ? [name] : [])] };
    });
    await this.host.dns.publish(vpcId, records);
  }

  /**
   * Instances of a VPC that hold NFS volumes (their router lets their NFS traffic through to the host, as their own
   * NFS address), each once.
   */
  async nfsClients(vpcId: string): Promise<NfsClient[]> {
    const rows = await this.db.selectDistinct({ id: instances.id, ip: instances.privateIp }).from(instances).innerJoin(volumes, eq(volumes.instanceId, instances.id))
      .where(and(eq(instances.vpcId, vpcId), eq(instances.runtime, 'container'), inArray(instances.state, ['pending', 'running']))).orderBy(asc(instances.id));
    return rows.map((r) => ({ ip: r.ip, nat: nfsClientAddress(r.id) }));
  }

  // ---------------------------------------------------------------- routers

  /** A VPC's router on the host: its DNS/DHCP unit, the metadata listener in it, then the namespace. */
  async removeRouter(vpcId: string): Promise<void> {
    await this.host.dns.remove(vpcId);
    this.host.metadata.close(vpcId);
    await this.host.network.removeVpc(vpcId);
  }

  /** The metadata service in every VPC router there is (instances there may have run on without us). */
  async ensureMetadata(): Promise<void> {
    for (const vpcId of await this.routers().catch((err) => { log.error(`listing VPC routers: ${(err as Error).message}`); return []; })) {
      await this.host.metadata.ensure(vpcId).catch((err) => log.warn(`metadata service in ${vpcId}: ${(err as Error).message}`));
    }
  }

  /** Routers (with their DNS) of VPCs deleted while the server died mid-way, and host links left half-made. */
  async reconcile(): Promise<{ orphanRouters: number; strayLinks: number }> {
    const known = new Set((await this.db.select({ id: vpcs.id }).from(vpcs)).map((v) => v.id));
    const orphans = (await this.routers()).filter((id) => !known.has(id));
    for (const vpcId of orphans) await this.removeRouter(vpcId).catch((err) => log.error(`removing router of ${vpcId}, skipped: ${(err as Error).message}`));
    // Ports (taps of VMs) of instances that no longer run; a container's veth end goes with its namespace.
    const running = new Set((await this.db.select({ id: instances.id }).from(instances).where(inArray(instances.state, ['pending', 'running'])))
      .map((r) => portName(r.id)));
    let strayLinks = await this.host.network.reconcileLinks();
    for (const vpcId of (await this.routers()).filter((id) => known.has(id))) {
      try {
        for (const port of await this.host.network.ports(vpcId)) {
          if (running.has(port)) continue;
          await this.host.network.removePort(vpcId, port);
          strayLinks++;
        }
      } catch (err) {
        log.error(`ports of ${vpcId}, skipped: ${(err as Error).message}`);
      }
    }
    // Each router's edge as the database has it now (Elastic IPs, route tables, NAT gateways changed while the server
    // was down, or applied only half).
    for (const vpcId of (await this.routers()).filter((id) => known.has(id))) {
      await this.syncEdge(vpcId).catch((err) => log.error(`edge of ${vpcId}, skipped: ${(err as Error).message}`));
      // Its overlay as the hosts and instances are now (peers that came, went or moved while the server was down).
      await this.syncOverlay(vpcId).catch((err) => log.error(`overlay of ${vpcId}, skipped: ${(err as Error).message}`));
    }
    return { orphanRouters: orphans.length, strayLinks };
  }

  /** The VPCs whose router exists on the host. */
  private async routers(): Promise<string[]> {
    return (await this.host.network.namespaces()).filter((n) => n.startsWith('pcloud-vpc-')).map((n) => n.slice('pcloud-'.length));
  }

  private async vpcExists(vpcId: string): Promise<boolean> {
    return (await this.db.select({ id: vpcs.id }).from(vpcs).where(eq(vpcs.id, vpcId)).limit(1))[0] !== undefined;
  }
}
