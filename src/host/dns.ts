/**
 * DNS and DHCP per VPC: a dnsmasq unit in the VPC's router namespace. DNS answers on the VPC's DNS address (base + 2,
 * as Amazon's resolver) for the names of its instances, read from a hosts directory dnsmasq watches (no reloads).
 * DHCP answers on the instance ports and hands each MAC exactly the address the API gave it (static ranges only: an
 * unknown MAC gets nothing), with the subnet's gateway as router and the VPC's DNS address as resolver. The subnets
 * are the one thing dnsmasq reads at start, so a change of them restarts it. The pcloud API's service names
 * (ec2.REGION.amazonaws.com, …) are answered with its address in the VPC (metadata.ts), when the server says so.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP, isIPv4 } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { log } from '../log.js';
import { run } from './exec.js';
import { isPlainPath } from './host-path.js';
import { KeyedQueue } from '../serial.js';
import { portName, routerNs } from './network.js';
import { isFinal, type UnitManager, type UnitSpec } from './units/types.js';
import { SERVICE_RESTART } from './units/restart.js';
import type { ServiceRecords, DnsRecord, VpcDns } from './types.js';
import type { HostDns } from './index.js';
export type { DnsRecord, VpcDns } from './types.js';

export const dnsUnitName = (vpcId: string) => `pcloud-dns@${vpcId}`;



/**
 * A value dnsmasq's files cannot take. dnsmasq reads `option=value` lines, splits values at commas, and has its own
 * quoting, comments and escapes: rather than quote, each value must be what it claims to be (an address, a DNS
 * name, a tag, a path in a plain alphabet) or it is refused.
 */
export class DnsValueError extends Error {
  override name = 'DnsValueError';
}

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

function refuse(what: string, v: string): never {
  throw new DnsValueError(`${what} ${JSON.stringify(v.slice(0, 64))} cannot be written into dnsmasq's configuration`);
}
const ipv4 = (v: string, what: string) => (isIPv4(v) ? v : refuse(what, v));
/** A DNS name: labels of letters, digits and inner hyphens, at most 63 each and 253 in all. */
export const isDnsName = (v: string) => v.length <= 253 && DNS_NAME.test(v);
const dnsName = (v: string, what: string) => (isDnsName(v) ? v : refuse(what, v));
const tag = (v: string, what: string) => (/^[A-Za-z0-9_-]{1,64}$/.test(v) ? v : refuse(what, v));
const path = (v: string, what: string) => (isPlainPath(v) && v.length <= 1024 ? v : refuse(what, v));
const mac = (v: string, what: string) => (/^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/.test(v) ? v : refuse(what, v));
/** An upstream server: an address, with `#port` if not 53. */
function server(v: string): string {
  const m = /^([^#]+)(?:#(\d{1,5}))?$/.exec(v);
  if (!m || !isIP(m[1]!) || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) refuse('The upstream DNS server', v);
  return v;
}

/** Names answered with one address in every VPC, and only with it (the pcloud API's: no upstream is asked for them). */
/** `host-record` lines (dnsmasq answers them itself, AAAA with no data), each name checked, the address an IPv4 one. */
function serviceLines(services: ServiceRecords | undefined): string[] {
  if (!services?.names.length) return [];
  const address = ipv4(services.address, 'A service address');
  return services.names.map((n) => `host-record=${dnsName(n, 'A service name')},${address}`);
}

/** dnsmasq's configuration for one VPC: everything it reads at start (records come from watched directories). */
export function dnsmasqConf(dir: string, vpc: VpcDns, upstream: string[], services?: ServiceRecords): string {
  const listen = ipv4(vpc.listen, 'The DNS address');
  const domain = dnsName(vpc.domain, 'The DNS domain');
  const base = path(dir, 'The DNS directory');
  return [
    '# pcloud: DNS and DHCP for one VPC (generated; rewritten when the VPC\'s subnets change)',
    'keep-in-foreground', 'pid-file=', 'no-hosts', 'log-facility=-',
    // DNS on the VPC's resolver address; DHCP on the instance ports (they carry their subnet's gateway as a /32).
    // Names come from a watched directory; DHCP hosts from a file read at start and on SIGHUP.
    'bind-dynamic', `listen-address=${listen}`, 'interface=v*', 'no-dhcp-interface=br0', 'no-dhcp-interface=uplink',
    `hostsdir=${join(base, 'hosts')}`, `local=/${domain}/`, `domain=${domain}`, 'expand-hosts', 'domain-needed', 'bogus-priv',
    ...(upstream.length ? upstream.map((s) => `server=${server(s)}`) : ['no-resolv']),
    ...serviceLines(services),
    `dhcp-hostsfile=${join(base, 'dhcp-hosts')}`, `dhcp-leasefile=${join(base, 'leases')}`, 'dhcp-authoritative',
    ...vpc.subnets.flatMap((s) => {
      const id = tag(s.id, 'A subnet id');
      return [
        `dhcp-range=set:${id},${ipv4(s.network, 'A subnet address')},static,${ipv4(s.netmask, 'A netmask')},1h`,
        `dhcp-option=tag:${id},option:router,${ipv4(s.gateway, 'A gateway')}`,
      ];
    }),
    `dhcp-option=option:dns-server,${listen}`,
    `dhcp-option=option:domain-search,${domain}`,
    '',
  ].join('\n');
}

/**
 * The VPC's records as dnsmasq's two files: the hosts file (`ip name...`) and the DHCP hosts (`mac,ip[,name]`). An
 * address or MAC that is not one is refused; a name that is not a DNS name (it may come from a tenant's tag) is left
 * out, with the rest of its record kept.
 */
export function recordFiles(records: DnsRecord[]): { hosts: string; dhcpHosts: string } {
  const clean = records.map((r) => {
    const names = r.names.filter((n) => {
      if (isDnsName(n)) return true;
      log.warn(`dns: name ${JSON.stringify(n.slice(0, 64))} of ${r.ip} is not a DNS name: left out`);
      return false;
    });
    return { ip: ipv4(r.ip, 'An instance address'), mac: r.mac === undefined ? undefined : mac(r.mac, 'A MAC address'), names };
  });
  return {
    hosts: clean.filter((r) => r.names.length).map((r) => `${r.ip} ${r.names.join(' ')}`).join('\n') + '\n',
    dhcpHosts: clean.filter((r) => r.mac).map((r) => [r.mac, r.ip, ...r.names.slice(0, 1)].join(',')).join('\n') + '\n',
  };
}

export function dnsUnit(vpcId: string, confFile: string): UnitSpec {
  return {
    name: dnsUnitName(vpcId),
    description: `pcloud DNS and DHCP for ${vpcId}`,
    exec: ['ip', 'netns', 'exec', routerNs(vpcId), 'dnsmasq', `--conf-file=${confFile}`],
    type: 'simple',
    startTimeoutSec: 10,
    stopTimeoutSec: 5,
    restart: SERVICE_RESTART,
  };
}

export class DnsDriver implements HostDns {
  /** Per VPC: the configuration its dnsmasq was last started with by this process. */
  private readonly confs = new Map<string, string>();
  /** Per VPC: every change (start, records, restart) one at a time. */
  private readonly queue = new KeyedQueue();
  private services?: ServiceRecords;

  constructor(private readonly units: UnitManager, private readonly dir: string, private readonly upstream: string[] = []) {}

  /** Answer these names with this address in every VPC from now on (each VPC's dnsmasq takes them at its next ensure). */
  serve(services: ServiceRecords): void {
    this.services = { address: services.address, names: [...services.names] };
  }

  private vpcDir(vpcId: string): string {
    return join(this.dir, vpcId);
  }

  /**
   * The VPC's dnsmasq running with this configuration: started once, restarted only when the configuration changed
   * (a new subnet). The router namespace and its listen address must exist.
   */
  ensure(vpcId: string, vpc: VpcDns): Promise<void> {
    const dir = this.vpcDir(vpcId);
    let conf: string;
    try {
      conf = dnsmasqConf(dir, vpc, this.upstream, this.services);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.confs.get(vpcId) === conf) return this.queue.idle(vpcId);
    return this.queue.run(vpcId, async () => {
      if (this.confs.get(vpcId) === conf) return;
      await mkdir(join(dir, 'hosts'), { recursive: true });
      await writeFile(join(dir, 'dhcp-hosts'), '', { flag: 'a' });
      const file = join(dir, 'dnsmasq.conf');
      const same = (await readFile(file, 'utf8').catch(() => '')) === conf;
      if (!same) await writeAtomic(file, conf);
      const st = await this.units.status(dnsUnitName(vpcId));
      if (!same || !st || isFinal(st.state)) await this.restart(vpcId);
      this.confs.set(vpcId, conf);
    });
  }

  /** (Re)start dnsmasq from its files, dropping leases no instance holds any more first. */
  private async restart(vpcId: string): Promise<void> {
    const name = dnsUnitName(vpcId);
    const st = await this.units.status(name);
    if (st && !isFinal(st.state)) await this.units.stop(name);
    if (st) await this.units.remove(name);
    await pruneLeases(this.vpcDir(vpcId));
    await this.units.start(dnsUnit(vpcId, join(this.vpcDir(vpcId), 'dnsmasq.conf')));
  }

  /** Replace the VPC's records: names through the watched directory, DHCP hosts with a SIGHUP. */
  publish(vpcId: string, records: DnsRecord[]): Promise<void> {
    return this.queue.run(vpcId, async () => {
      const dir = this.vpcDir(vpcId);
      await mkdir(join(dir, 'hosts'), { recursive: true });
      const { hosts, dhcpHosts: dhcp } = recordFiles(records);
      await writeAtomic(join(dir, 'hosts', 'instances'), hosts);
      // DHCP hosts are a plain file and a SIGHUP, not a watched directory: dnsmasq only ever adds what it reads from
      // one, so an address passed to a new MAC would clash with the entry of the instance that had it.
      const file = join(dir, 'dhcp-hosts');
      if ((await readFile(file, 'utf8').catch(() => '')) === dhcp) return;
      await writeAtomic(file, dhcp);
      const st = await this.units.status(dnsUnitName(vpcId));
      if (!st || isFinal(st.state)) return;
      // A lease left by an instance that ended without a release (a crash mid-terminate) keeps its address from the
      // next instance that gets it: such leases are dropped with a restart (rare); otherwise a SIGHUP rereads the hosts.
      if (await blockingLeases(dir)) await this.restart(vpcId);
      else await this.units.signal(dnsUnitName(vpcId), 'SIGHUP');
    });
  }

  /**
   * Give up an instance's lease (dhcp_release sends dnsmasq the DHCPRELEASE its client would), while its port is still
   * there: dnsmasq will not hand a leased address to another MAC.
   */
  async release(vpcId: string, instanceId: string, ip: string, mac: string): Promise<void> {
    await run('ip', ['netns', 'exec', routerNs(vpcId), 'dhcp_release', portName(instanceId), ip, mac], { reject: false });
  }

  remove(vpcId: string): Promise<void> {
    return this.queue.run(vpcId, async () => {
      this.confs.delete(vpcId);
      await this.units.stop(dnsUnitName(vpcId));
      await this.units.remove(dnsUnitName(vpcId));
      await rm(this.vpcDir(vpcId), { recursive: true, force: true });
    });
  }
}

/** Leases (as dnsmasq's lease file has them) and which of them no instance holds: their MAC and address are not a pair in the DHCP hosts. */
async function leases(dir: string): Promise<{ all: string[]; kept: string[] }> {
  const hosts = new Set((await readFile(join(dir, 'dhcp-hosts'), 'utf8').catch(() => '')).split('\n')
    .map((l) => l.split(',')).filter((f) => f.length >= 2).map((f) => `${f[0]} ${f[1]}`));
  const all = (await readFile(join(dir, 'leases'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { all, kept: all.filter((l) => { const f = l.split(' '); return hosts.has(`${f[1]} ${f[2]}`); }) };
}

/** Whether a lease holds an address the DHCP hosts now give to another MAC (only those get in the way). */
async function blockingLeases(dir: string): Promise<boolean> {
  const owner = new Map((await readFile(join(dir, 'dhcp-hosts'), 'utf8').catch(() => '')).split('\n')
    .map((l) => l.split(',')).filter((f) => f.length >= 2).map((f) => [f[1]!, f[0]!] as const));
  const { all } = await leases(dir);
  return all.some((l) => { const f = l.split(' '); return owner.has(f[2]!) && owner.get(f[2]!) !== f[1]; });
}

/** With dnsmasq stopped: drop the leases no instance holds. */
async function pruneLeases(dir: string): Promise<void> {
  const { all, kept } = await leases(dir);
  if (kept.length !== all.length) await writeAtomic(join(dir, 'leases'), kept.map((l) => `${l}\n`).join(''));
}

/**
 * Write by renaming a temporary file over the target, so dnsmasq never reads half a file. The temporary name starts
 * with a dot: dnsmasq skips those in the directories it watches.
 */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.tmp`);
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}
