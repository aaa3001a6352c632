/**
 * Public IPs: addresses on the host's physical network (config.external), one per instance that asks for it (its
 * subnet's MapPublicIpOnLaunch, or AssociatePublicIpAddress at launch). The VPC router owns them on a macvlan and NATs
 * each 1:1 to its instance's private address, as AWS's internet gateway does; the instance itself only ever sees its
 * private address. Elastic IPs (addresses.ts) come from the same pool.
 */
import { and, eq, inArray, isNotNull, ne } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { addresses, instances } from '../db/tables.js';
import type { CloudConfig } from './config.js';
import { CloudError } from './errors.js';
import { intToIp, ipToInt, parseCidr } from './ip.js';

export interface PublicMapping {
  publicIp: string;
  privateIp: string;
}

export class PublicIps {
  constructor(private readonly db: Db, private readonly config: CloudConfig) {}

  /**
   * `count` free addresses of the pool, or nulls when there is no external network (the instances then have no public
   * IP, as in a VPC without one). Must run inside the transaction that inserts the instances.
   */
  async allocate(count: number): Promise<(string | null)[]> {
    const ext = this.config.external;
    if (!ext) return Array.from({ length: count }, () => null);
    const used = new Set([
      ...(await this.db.select({ ip: instances.publicIp }).from(instances).where(and(isNotNull(instances.publicIp), ne(instances.state, 'terminated')))).map((r) => r.ip),
      ...(await this.db.select({ ip: addresses.publicIp }).from(addresses)).map((r) => r.ip),
    ]);
    const out: string[] = [];
    for (let n = ipToInt(ext.pool[0]); n <= ipToInt(ext.pool[1]) && out.length < count; n++) {
      const ip = intToIp(n);
      if (!used.has(ip)) out.push(ip);
    }
    if (out.length < count) throw new CloudError('AddressLimitExceeded', 'The public IP pool of this cloud has no free address left');
    return out;
  }

  /**
   * The VPC's public → private pairs, of instances that hold a network now: an instance's Elastic IP while one is
   * associated, else the public IP it got at launch.
   */
  async mappings(vpcId: string): Promise<PublicMapping[]> {
    const eips = new Map((await this.db.select({ instanceId: addresses.instanceId, publicIp: addresses.publicIp }).from(addresses)
      .where(isNotNull(addresses.instanceId))).map((r) => [r.instanceId!, r.publicIp]));
    return (await this.db.select({ id: instances.id, publicIp: instances.publicIp, privateIp: instances.privateIp }).from(instances)
      .where(and(eq(instances.vpcId, vpcId), inArray(instances.state, ['pending', 'running']))))
      .map((r) => ({ publicIp: eips.get(r.id) ?? r.publicIp, privateIp: r.privateIp }))
      .filter((m): m is PublicMapping => m.publicIp !== null);
  }

  prefixLength(): number {
    return this.config.external ? parseCidr(this.config.external.cidr).bits : 32;
  }
}
