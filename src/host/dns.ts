/**
 * DNS per VPC: a dnsmasq unit in the VPC's router namespace, answering on the VPC's DNS address (base + 2, as
 * Amazon's resolver) for the names of its instances, read from a hosts directory dnsmasq watches (no reloads).
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { routerNs } from './network.js';
import { isFinal, type UnitManager, type UnitSpec } from './units/types.js';

export const dnsUnitName = (vpcId: string) => `pcloud-dns@${vpcId}`;

export interface DnsRecord {
  ip: string;
  names: string[];
}

export function dnsUnit(vpcId: string, listen: string, hostsDir: string, domain: string, upstream: string[]): UnitSpec {
  return {
    name: dnsUnitName(vpcId),
    description: `pcloud DNS for ${vpcId}`,
    exec: [
      'ip', 'netns', 'exec', routerNs(vpcId),
      'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--no-hosts', '--bind-interfaces',
      `--listen-address=${listen}`, `--hostsdir=${hostsDir}`, `--local=/${domain}/`, `--domain=${domain}`, '--expand-hosts',
      '--domain-needed', '--bogus-priv', '--log-facility=-',
      ...(upstream.length ? upstream.map((s) => `--server=${s}`) : ['--no-resolv']),
    ],
    type: 'simple',
    startTimeoutSec: 10,
    stopTimeoutSec: 5,
  };
}

export class DnsDriver {
  private readonly running = new Map<string, Promise<void>>();
  private readonly writes = new Map<string, Promise<void>>();

  constructor(private readonly units: UnitManager, private readonly dir: string, private readonly upstream: string[] = []) {}

  private hostsDir(vpcId: string): string {
    return join(this.dir, vpcId);
  }

  /** The VPC's dnsmasq, started once (the router namespace and its listen address must exist). */
  ensure(vpcId: string, listen: string, domain: string): Promise<void> {
    let p = this.running.get(vpcId);
    if (!p) {
      p = (async () => {
        await mkdir(this.hostsDir(vpcId), { recursive: true });
        const name = dnsUnitName(vpcId);
        const st = await this.units.status(name);
        if (st && !isFinal(st.state)) return;
        if (st) await this.units.remove(name);
        await this.units.start(dnsUnit(vpcId, listen, this.hostsDir(vpcId), domain, this.upstream));
      })();
      this.running.set(vpcId, p);
      p.catch(() => this.running.delete(vpcId));
    }
    return p;
  }

  /** Replace the VPC's records, one write at a time per VPC; dnsmasq notices the file through inotify. */
  publish(vpcId: string, records: DnsRecord[]): Promise<void> {
    const write = async () => {
      const dir = this.hostsDir(vpcId);
      await mkdir(dir, { recursive: true });
      const text = records.map((r) => `${r.ip} ${r.names.join(' ')}`).join('\n') + '\n';
      const tmp = join(dir, '.instances.tmp');
      await writeFile(tmp, text, { mode: 0o644 });
      await rename(tmp, join(dir, 'instances'));
    };
    const next = (this.writes.get(vpcId) ?? Promise.resolve()).then(write, write);
    this.writes.set(vpcId, next.catch(() => undefined));
    return next;
  }

  async remove(vpcId: string): Promise<void> {
    this.running.delete(vpcId);
    await this.units.stop(dnsUnitName(vpcId));
    await this.units.remove(dnsUnitName(vpcId));
    await rm(this.hostsDir(vpcId), { recursive: true, force: true });
  }
}
