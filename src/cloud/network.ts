/**
 * VPCs, subnets and security groups as the API sees them, and private IP allocation. Every account gets a default
 * VPC (172.31.0.0/16), a default subnet per availability zone (172.31.0.0/20, 172.31.16.0/20, ...) and a default
 * security group. The host side (bridges, veth, nftables) comes with the network driver.
 */
import { and, eq, ne } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/index.js';
import { instances, securityGroups, subnets, vpcs } from '../db/schema.js';
import type { CloudConfig } from './config.js';
import { CloudError } from './errors.js';
import { newId } from './ids.js';
import { intToIp, ipToInt, parseCidr, subBlock } from './ip.js';

export type Vpc = typeof vpcs.$inferSelect;
export type Subnet = typeof subnets.$inferSelect;
export type SecurityGroup = typeof securityGroups.$inferSelect;

export class Network {
  private readonly ensured = new Set<string>();

  constructor(private readonly db: Db, private readonly config: CloudConfig) {}

  /** Create the account's default VPC, subnets and security group if missing. */
  ensureDefaults(accountId: string): void {
    if (this.ensured.has(accountId)) return;
    this.db.transaction((tx) => {
      let vpc = tx.select().from(vpcs).where(and(eq(vpcs.accountId, accountId), eq(vpcs.isDefault, true))).get();
      const now = Date.now();
      if (!vpc) {
        vpc = { id: newId('vpc'), accountId, cidr: this.config.defaultVpcCidr, isDefault: true, createdAt: now };
        tx.insert(vpcs).values(vpc).run();
        tx.insert(securityGroups).values({
          id: newId('sg'), accountId, vpcId: vpc.id, name: 'default', description: 'default VPC security group', createdAt: now,
        }).run();
      }
      const existing = tx.select().from(subnets).where(and(eq(subnets.vpcId, vpc.id), eq(subnets.isDefault, true))).all();
      this.config.availabilityZones.forEach((az, i) => {
        if (existing.some((s) => s.availabilityZone === az)) return;
        tx.insert(subnets).values({
          id: newId('subnet'), accountId, vpcId: vpc!.id, cidr: subBlock(vpc!.cidr, 20, i), availabilityZone: az,
          isDefault: true, createdAt: now,
        }).run();
      });
    });
    this.ensured.add(accountId);
  }

  vpcs(accountId: string): Vpc[] {
    this.ensureDefaults(accountId);
    return this.db.select().from(vpcs).where(eq(vpcs.accountId, accountId)).all();
  }

  subnets(accountId: string): Subnet[] {
    this.ensureDefaults(accountId);
    return this.db.select().from(subnets).where(eq(subnets.accountId, accountId)).all();
  }

  securityGroups(accountId: string): SecurityGroup[] {
    this.ensureDefaults(accountId);
    return this.db.select().from(securityGroups).where(eq(securityGroups.accountId, accountId)).all();
  }

  /** The subnet an instance goes to: the one asked for, or the default subnet of the AZ (first AZ by default). */
  pickSubnet(accountId: string, opts: { subnetId?: string; availabilityZone?: string }): Subnet {
    const all = this.subnets(accountId);
    if (opts.subnetId) {
      const s = all.find((x) => x.id === opts.subnetId);
      if (!s) throw new CloudError('InvalidSubnetID.NotFound', `The subnet ID '${opts.subnetId}' does not exist`);
      return s;
    }
    const az = opts.availabilityZone || this.config.availabilityZones[0];
    const s = all.find((x) => x.isDefault && x.availabilityZone === az);
    if (!s) throw new CloudError('InvalidParameterValue', `Invalid availability zone: [${az}]`);
    return s;
  }

  securityGroupsFor(accountId: string, vpcId: string, ids: string[], names: string[]): SecurityGroup[] {
    const all = this.securityGroups(accountId).filter((g) => g.vpcId === vpcId);
    if (!ids.length && !names.length) return all.filter((g) => g.name === 'default');
    const out: SecurityGroup[] = [];
    for (const id of ids) {
      const g = all.find((x) => x.id === id);
      if (!g) throw new CloudError('InvalidGroup.NotFound', `The security group '${id}' does not exist in VPC '${vpcId}'`);
      out.push(g);
    }
    for (const name of names) {
      const g = all.find((x) => x.name === name);
      if (!g) throw new CloudError('InvalidGroup.NotFound', `The security group '${name}' does not exist in VPC '${vpcId}'`);
      out.push(g);
    }
    return out;
  }

  /**
   * Allocate `count` free private IPs in a subnet (AWS reserves the first four and the last address). Must run inside
   * the transaction that inserts the instances, so two launches never get the same address.
   */
  allocateIps(subnet: Subnet, count: number, wanted?: string): string[] {
    const used = new Set(
      this.db.select({ ip: instances.privateIp }).from(instances)
        .where(and(eq(instances.subnetId, subnet.id), ne(instances.state, 'terminated'))).all().map((r) => r.ip),
    );
    const { base, size } = parseCidr(subnet.cidr);
    if (wanted) {
      const n = ipToInt(wanted);
      if (n < base + 4 || n >= base + size - 1) {
        throw new CloudError('InvalidParameterValue', `Address ${wanted} is not in subnet ${subnet.id} (${subnet.cidr}) or is reserved`);
      }
      if (used.has(wanted)) throw new CloudError('InvalidIPAddress.InUse', `Address ${wanted} is in use.`);
      return [wanted];
    }
    const out: string[] = [];
    for (let n = base + 4; n < base + size - 1 && out.length < count; n++) {
      const ip = intToIp(n);
      if (!used.has(ip)) out.push(ip);
    }
    if (out.length < count) {
      throw new CloudError('InsufficientFreeAddressesInSubnet', `There are not enough free addresses in subnet '${subnet.id}'`);
    }
    return out;
  }
}

export function newMac(): string {
  const b = randomBytes(5);
  return ['0e', ...Array.from(b, (x) => x.toString(16).padStart(2, '0'))].join(':');
}
