/**
 * VPCs, subnets and security groups as the API sees them, and private IP allocation. Every account gets a default
 * VPC (172.31.0.0/16), a default subnet per availability zone (172.31.0.0/20, 172.31.16.0/20, ...) and a default
 * security group. The host side (each VPC's router namespace, instances as routed /32s on it, nftables) is the VPC
 * plane's (vpc-plane.ts), over the network driver.
 */
import { and, count, eq, inArray, ne } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/index.js';
import { instances, internetGateways, natGateways, routeTableAssociations, securityGroupRules, securityGroups, subnets, vpcs } from '../db/tables.js';
import { Addresses } from './addresses.js';
import { GroupNames } from './group-names.js';
import type { CloudConfig } from './config.js';
import { CloudError } from './errors.js';
import { newId } from './ids.js';
import { intToIp, ipToInt, parseCidr, subBlock } from './ip.js';
import { NatGateways } from './nat-gateways.js';
import { PublicIps } from './public-ips.js';
import { derivedId, RouteTables } from './route-tables.js';
import { freeVni } from './vnis.js';
import { write } from '../db/store.js';

export type { RouteTable } from './route-tables.js';

export type Vpc = typeof vpcs.$inferSelect;
export type Subnet = typeof subnets.$inferSelect;
export type SecurityGroup = typeof securityGroups.$inferSelect;
export type SecurityGroupRule = typeof securityGroupRules.$inferSelect;
export type InternetGateway = typeof internetGateways.$inferSelect;

export interface NetworkAcl {
  id: string;
  vpcId: string;
  accountId: string;
  subnets: { subnetId: string; associationId: string }[];
}

export interface Permission {
  protocol: string;
  fromPort?: number;
  toPort?: number;
  cidrs: { cidr: string; description?: string }[];
  groups: string[];
}

export class Network {
  private readonly ensured = new Set<string>();
  /** Route tables, their routes and subnet associations. */
  readonly routing: RouteTables;
  /** Elastic IPs. */
  readonly addresses: Addresses;
  readonly natGateways: NatGateways;
  /** Security groups' names by id, kept once read. */
  readonly groupNames: GroupNames;

  constructor(private readonly db: Db, private readonly config: CloudConfig) {
    this.routing = new RouteTables(db);
    this.groupNames = new GroupNames(db);
    this.addresses = new Addresses(db, new PublicIps(db, config));
    this.natGateways = new NatGateways(db, this.addresses, async (subnet) => (await this.allocateIps(subnet, 1))[0]!);
  }

  /** Create the account's default VPC, subnets and security group if missing. */
  async ensureDefaults(accountId: string): Promise<void> {
    if (this.ensured.has(accountId)) return;
    await write(this.db, async (tx) => {
      let vpc = (await tx.select().from(vpcs).where(and(eq(vpcs.accountId, accountId), eq(vpcs.isDefault, true))).limit(1))[0];
      const now = Date.now();
      if (!vpc) {
        vpc = {
          id: newId('vpc'), accountId, cidr: this.config.defaultVpcCidr, isDefault: true, createdAt: now, dnsSupport: true, dnsHostnames: true,
          addressUsageMetrics: false, vni: await freeVni(tx),
        };
        await tx.insert(vpcs).values(vpc);
        const g = { id: newId('sg'), accountId, vpcId: vpc.id, name: 'default', description: 'default VPC security group', createdAt: now };
        await tx.insert(securityGroups).values(g);
        await this.defaultRules(tx, g);
        await tx.insert(internetGateways).values({ id: newId('igw'), accountId, vpcId: vpc.id, createdAt: now });
      }
      const existing = await tx.select().from(subnets).where(and(eq(subnets.vpcId, vpc.id), eq(subnets.isDefault, true)));
      for (const [i, az] of this.config.availabilityZones.entries()) {
        if (existing.some((s) => s.availabilityZone === az)) continue;
        await tx.insert(subnets).values({
          id: newId('subnet'), accountId, vpcId: vpc.id, cidr: subBlock(vpc.cidr, 20, i), availabilityZone: az,
          isDefault: true, createdAt: now, mapPublicIp: false,
      });
      }
    });
    this.ensured.add(accountId);
  }

  async vpcs(accountId: string): Promise<Vpc[]> {
    await this.ensureDefaults(accountId);
    return await this.db.select().from(vpcs).where(eq(vpcs.accountId, accountId));
  }

  async subnets(accountId: string): Promise<Subnet[]> {
    await this.ensureDefaults(accountId);
    return await this.db.select().from(subnets).where(eq(subnets.accountId, accountId));
  }

  async securityGroups(accountId: string): Promise<SecurityGroup[]> {
    await this.ensureDefaults(accountId);
    return await this.db.select().from(securityGroups).where(eq(securityGroups.accountId, accountId));
  }

  /** The subnet an instance goes to: the one asked for, or the default subnet of the AZ (first AZ by default). */
  async pickSubnet(accountId: string, opts: { subnetId?: string; availabilityZone?: string }): Promise<Subnet> {
    const all = await this.subnets(accountId);
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

  async securityGroupsFor(accountId: string, vpcId: string, ids: string[], names: string[]): Promise<SecurityGroup[]> {
    const all = (await this.securityGroups(accountId)).filter((g) => g.vpcId === vpcId);
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

  /** AWS's starting rules: egress to anywhere; a VPC's default group also lets its own members in. */
  private async defaultRules(tx: Pick<Db, 'insert'>, g: { id: string; accountId: string; name: string; createdAt: number }): Promise<void> {
    await tx.insert(securityGroupRules).values({ id: newId('sgr'), accountId: g.accountId, groupId: g.id, isEgress: true, protocol: '-1', cidr: '0.0.0.0/0', createdAt: g.createdAt });
    if (g.name === 'default') {
      await tx.insert(securityGroupRules).values({ id: newId('sgr'), accountId: g.accountId, groupId: g.id, isEgress: false, protocol: '-1', refGroupId: g.id, createdAt: g.createdAt });
    }
  }

  async rules(accountId: string, groupIds?: string[]): Promise<SecurityGroupRule[]> {
    const conds = [eq(securityGroupRules.accountId, accountId)];
    if (groupIds) conds.push(inArray(securityGroupRules.groupId, groupIds.length ? groupIds : ['']));
    return await this.db.select().from(securityGroupRules).where(and(...conds)).orderBy(securityGroupRules.createdAt, securityGroupRules.id);
  }

  /** AuthorizeSecurityGroupIngress/Egress: add rules; one that exists already is InvalidPermission.Duplicate. */
  async authorize(accountId: string, groupId: string, egress: boolean, perms: Permission[]): Promise<SecurityGroupRule[]> {
    const group = await this.group(accountId, groupId);
    const existing = (await this.rules(accountId, [group.id])).filter((r) => r.isEgress === egress);
    const now = Date.now();
    const added: SecurityGroupRule[] = [];
    for (const p of perms) {
      const protocol = normalizeProtocol(p.protocol);
      const ports = protocol === '-1' ? { fromPort: null, toPort: null } : { fromPort: p.fromPort ?? null, toPort: p.toPort ?? null };
      if ((protocol === 'tcp' || protocol === 'udp') && (ports.fromPort === null || ports.toPort === null || ports.fromPort > ports.toPort || ports.toPort > 65535 || ports.fromPort < 0)) {
        throw new CloudError('InvalidParameterValue', `Invalid port range (${p.fromPort ?? ''}-${p.toPort ?? ''}) for ${protocol}`);
      }
      for (const ref of p.groups) await this.group(accountId, ref);
      const targets = [...p.cidrs.map((c) => ({ cidr: normalize(checkAnyCidr(c.cidr)), refGroupId: null, description: c.description ?? '' })),
        ...p.groups.map((g) => ({ cidr: null, refGroupId: g, description: '' }))];
      for (const t of targets) {
        const same = (r: { protocol: string; fromPort: number | null; toPort: number | null; cidr: string | null; refGroupId: string | null }) =>
          r.protocol === protocol && r.fromPort === ports.fromPort && r.toPort === ports.toPort && r.cidr === t.cidr && r.refGroupId === t.refGroupId;
        if ([...existing, ...added].some(same)) {
          throw new CloudError('InvalidPermission.Duplicate', `the specified rule "peer: ${t.cidr ?? t.refGroupId}, ${protocol.toUpperCase()}, from port: ${ports.fromPort ?? -1}, to port: ${ports.toPort ?? -1}, ALLOW" already exists`);
        }
        added.push({ id: newId('sgr'), accountId, groupId: group.id, isEgress: egress, protocol, ...ports, cidr: t.cidr, refGroupId: t.refGroupId, description: t.description, createdAt: now });
      }
    }
    await write(this.db, async (tx) => { for (const r of added) await tx.insert(securityGroupRules).values(r); });
    return added;
  }

  /** RevokeSecurityGroupIngress/Egress, by permission or by rule id; a rule that is not there is InvalidPermission.NotFound. */
  async revoke(accountId: string, groupId: string, egress: boolean, perms: Permission[], ruleIds: string[] = []): Promise<number> {
    const group = await this.group(accountId, groupId);
    const existing = (await this.rules(accountId, [group.id])).filter((r) => r.isEgress === egress);
    const gone = new Set<string>();
    for (const id of ruleIds) {
      if (!existing.some((r) => r.id === id)) throw new CloudError('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist`);
      gone.add(id);
    }
    for (const p of perms) {
      const protocol = normalizeProtocol(p.protocol);
      const from = protocol === '-1' ? null : p.fromPort ?? null;
      const to = protocol === '-1' ? null : p.toPort ?? null;
      const wanted = [...p.cidrs.map((c) => ({ cidr: normalize(checkAnyCidr(c.cidr)), ref: null as string | null })), ...p.groups.map((g) => ({ cidr: null as string | null, ref: g }))];
      for (const w of wanted) {
        const hit = existing.find((r) => r.protocol === protocol && r.fromPort === from && r.toPort === to && r.cidr === w.cidr && r.refGroupId === w.ref);
        if (!hit) throw new CloudError('InvalidPermission.NotFound', `The specified rule does not exist in this security group.`);
        gone.add(hit.id);
      }
    }
    if (gone.size) await this.db.delete(securityGroupRules).where(inArray(securityGroupRules.id, [...gone]));
    return gone.size;
  }

  async group(accountId: string, groupId: string): Promise<SecurityGroup> {
    const g = (await this.securityGroups(accountId)).find((x) => x.id === groupId);
    if (!g) throw new CloudError('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`);
    return g;
  }

  async setVpcAttribute(accountId: string, vpcId: string, attr: 'dnsSupport' | 'dnsHostnames' | 'addressUsageMetrics', value: boolean): Promise<void> {
    const v = await this.vpc(accountId, vpcId);
    if (attr === 'dnsHostnames' && value && !v.dnsSupport) {
      throw new CloudError('InvalidParameterCombination', 'Cannot enable DNS hostnames without DNS support.');
    }
    await this.db.update(vpcs).set({ [attr]: value }).where(eq(vpcs.id, vpcId));
  }

  async setSubnetAttribute(accountId: string, subnetId: string, attr: 'mapPublicIp', value: boolean): Promise<void> {
    await this.subnet(accountId, subnetId);
    await this.db.update(subnets).set({ [attr]: value }).where(eq(subnets.id, subnetId));
  }

  async subnet(accountId: string, subnetId: string): Promise<Subnet> {
    const s = (await this.subnets(accountId)).find((x) => x.id === subnetId);
    if (!s) throw new CloudError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    return s;
  }

  // ------------------------------------------------------------ route tables and network ACLs: views of the VPC

  /** Every route table of the account (each VPC's main one made on first use): route-tables.ts. */
  async routeTables(accountId: string) {
    await this.ensureDefaults(accountId);
    return await this.routing.list(accountId);
  }

  /** Each VPC's default network ACL, which lets everything through both ways (pcloud filters with security groups). */
  async networkAcls(accountId: string): Promise<NetworkAcl[]> {
    const all = await this.subnets(accountId);
    return (await this.vpcs(accountId)).map((v) => ({
      id: derivedId('acl', v.id), vpcId: v.id, accountId,
      subnets: all.filter((s) => s.vpcId === v.id).map((s) => ({ subnetId: s.id, associationId: derivedId('aclassoc', s.id) })),
    }));
  }

  // ------------------------------------------------------------ internet gateways: the switch for NAT

  async internetGateways(accountId: string): Promise<InternetGateway[]> {
    await this.ensureDefaults(accountId);
    return await this.db.select().from(internetGateways).where(eq(internetGateways.accountId, accountId)).orderBy(internetGateways.createdAt);
  }

  async hasInternet(vpcId: string): Promise<boolean> {
    return Boolean((await this.db.select({ id: internetGateways.id }).from(internetGateways).where(eq(internetGateways.vpcId, vpcId)).limit(1))[0]);
  }

  async createInternetGateway(accountId: string): Promise<InternetGateway> {
    const igw: InternetGateway = { id: newId('igw'), accountId, vpcId: null, createdAt: Date.now() };
    await this.db.insert(internetGateways).values(igw);
    return igw;
  }

  private async igw(accountId: string, id: string): Promise<InternetGateway> {
    const g = (await this.internetGateways(accountId)).find((x) => x.id === id);
    if (!g) throw new CloudError('InvalidInternetGatewayID.NotFound', `The internetGateway ID '${id}' does not exist`);
    return g;
  }

  async attachInternetGateway(accountId: string, id: string, vpcId: string): Promise<void> {
    // The account's defaults first, in their own transaction: a failure below must not roll them back.
    await this.ensureDefaults(accountId);
    await write(this.db, async () => {
      const g = await this.igw(accountId, id);
      await this.vpc(accountId, vpcId);
      if (g.vpcId) throw new CloudError('Resource.AlreadyAssociated', `resource ${id} is already attached to network ${g.vpcId}`);
      if ((await this.hasInternet(vpcId))) throw new CloudError('Resource.AlreadyAssociated', `network ${vpcId} already has an internet gateway attached`);
      await this.routing.ensureMain(accountId, vpcId);
      await this.db.update(internetGateways).set({ vpcId }).where(eq(internetGateways.id, id));
      // pcloud's own step (AWS leaves the main table alone): the main table routes 0.0.0.0/0 to the gateway unless it
      // routes it elsewhere already, so a VPC with a gateway reaches out as it always did here (detaching takes that
      // route away again). Delete the route to make the main table private; subnets with tables of their own follow theirs.
      await this.routing.defaultRouteOnAttach(accountId, vpcId, id);
    });
  }

  async detachInternetGateway(accountId: string, id: string, vpcId: string): Promise<void> {
    // The account's defaults first, in their own transaction: a failure below must not roll them back.
    await this.ensureDefaults(accountId);
    await write(this.db, async () => {
      const g = await this.igw(accountId, id);
      if (g.vpcId !== vpcId) throw new CloudError('Gateway.NotAttached', `resource ${id} is not attached to network ${vpcId}`);
      await this.db.update(internetGateways).set({ vpcId: null }).where(eq(internetGateways.id, id));
      await this.routing.defaultRouteOnDetach(vpcId, id);
    });
  }

  async deleteInternetGateway(accountId: string, id: string): Promise<void> {
    const g = await this.igw(accountId, id);
    if (g.vpcId) throw new CloudError('DependencyViolation', `The internetGateway '${id}' has dependencies and cannot be deleted.`);
    await this.db.delete(internetGateways).where(eq(internetGateways.id, id));
  }

  // ------------------------------------------------------------ VPCs, subnets and groups the user makes

  async createVpc(accountId: string, cidr: string): Promise<Vpc> {
    checkCidr(cidr, 16, 28, 'VPC');
    await this.ensureDefaults(accountId);
    const vpc: Vpc = {
      id: newId('vpc'), accountId, cidr: normalize(cidr), isDefault: false, createdAt: Date.now(), dnsSupport: true, dnsHostnames: false, addressUsageMetrics: false,
      vni: null,
    };
    await write(this.db, async (tx) => {
      const held = (await tx.select({ n: count() }).from(vpcs).where(eq(vpcs.accountId, accountId)).limit(1))[0]?.n ?? 0;
      if (held >= this.config.limits.vpcs) throw new CloudError('VpcLimitExceeded', `The maximum number of VPCs has been reached (${this.config.limits.vpcs}, the default VPC included): delete one you no longer need, or ask the operator to raise PCLOUD_LIMIT_VPCS.`);
      vpc.vni = await freeVni(tx);
      await tx.insert(vpcs).values(vpc);
      // Every VPC comes with its own default security group, as on AWS.
      const g = { id: newId('sg'), accountId, vpcId: vpc.id, name: 'default', description: 'default VPC security group', createdAt: vpc.createdAt };
      await tx.insert(securityGroups).values(g);
      await this.defaultRules(tx, g);
    });
    return vpc;
  }

  async vpc(accountId: string, vpcId: string): Promise<Vpc> {
    const v = (await this.vpcs(accountId)).find((x) => x.id === vpcId);
    if (!v) throw new CloudError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
    return v;
  }

  /** DeleteVpc: only an empty VPC (no subnets, no groups but its default one, no route tables but its main one). */
  async deleteVpc(accountId: string, vpcId: string): Promise<void> {
    await this.vpc(accountId, vpcId);
    const subs = (await this.subnets(accountId)).filter((s) => s.vpcId === vpcId);
    if (subs.length) {
      throw new CloudError('DependencyViolation', `The vpc '${vpcId}' has dependencies and cannot be deleted.`);
    }
    const groups = (await this.securityGroups(accountId)).filter((g) => g.vpcId === vpcId && g.name !== 'default');
    if (groups.length || (await this.hasInternet(vpcId)) || (await this.routing.userTables(vpcId)).length) throw new CloudError('DependencyViolation', `The vpc '${vpcId}' has dependencies and cannot be deleted.`);
    const groupIds = (await this.securityGroups(accountId)).filter((g) => g.vpcId === vpcId).map((g) => g.id);
    await write(this.db, async (tx) => {
      if (groupIds.length) await tx.delete(securityGroupRules).where(inArray(securityGroupRules.groupId, groupIds));
      await tx.delete(securityGroups).where(eq(securityGroups.vpcId, vpcId));
      await tx.delete(vpcs).where(eq(vpcs.id, vpcId));
    });
    await this.routing.dropVpc(vpcId);
  }

  async createSubnet(accountId: string, vpcId: string, cidr: string, availabilityZone?: string): Promise<Subnet> {
    // The account's defaults first, in their own transaction: a failure below must not roll them back.
    await this.ensureDefaults(accountId);
    return await write(this.db, async () => {
      const vpc = await this.vpc(accountId, vpcId);
      checkCidr(cidr, 16, 28, 'subnet');
      const inner = parseCidr(cidr);
      const outer = parseCidr(vpc.cidr);
      if (inner.base < outer.base || inner.base + inner.size > outer.base + outer.size) {
        throw new CloudError('InvalidSubnet.Range', `The CIDR '${cidr}' is invalid.`);
      }
      for (const s of (await this.subnets(accountId)).filter((x) => x.vpcId === vpcId)) {
        const o = parseCidr(s.cidr);
        if (inner.base < o.base + o.size && o.base < inner.base + inner.size) {
          throw new CloudError('InvalidSubnet.Conflict', `The CIDR '${cidr}' conflicts with another subnet`);
        }
      }
      const az = availabilityZone || this.config.availabilityZones[0]!;
      if (!this.config.availabilityZones.includes(az)) throw new CloudError('InvalidParameterValue', `Value (${az}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${this.config.availabilityZones.join(', ')}.`);
      const subnet: Subnet = { id: newId('subnet'), accountId, vpcId, cidr: normalize(cidr), availabilityZone: az, isDefault: false, createdAt: Date.now(), mapPublicIp: false };
      await this.db.insert(subnets).values(subnet);
      return subnet;
    });
  }

  /** DeleteSubnet: refused while an instance that is not terminated is in it. */
  async deleteSubnet(accountId: string, subnetId: string): Promise<Subnet> {
    const s = await this.subnet(accountId, subnetId);
    const used = (await this.db.select({ id: instances.id }).from(instances)
      .where(and(eq(instances.subnetId, subnetId), ne(instances.state, 'terminated'))).limit(1))[0];
    if (used || (await this.natGateways.inSubnet(subnetId)).some((n) => n.state !== 'deleting')) throw new CloudError('DependencyViolation', `The subnet '${subnetId}' has dependencies and cannot be deleted.`);
    await write(this.db, async (tx) => {
      await tx.delete(subnets).where(eq(subnets.id, subnetId));
      // Its route table association goes with it, as on AWS.
      await tx.delete(routeTableAssociations).where(eq(routeTableAssociations.subnetId, subnetId));
    });
    return s;
  }

  async createSecurityGroup(accountId: string, name: string, description: string, vpcId?: string): Promise<SecurityGroup> {
    // The account's defaults first, in their own transaction: a failure below must not roll them back.
    await this.ensureDefaults(accountId);
    return await write(this.db, async () => {
      const vpc = vpcId ? (await this.vpc(accountId, vpcId)) : (await this.vpcs(accountId)).find((v) => v.isDefault)!;
      if (!name) throw new CloudError('MissingParameter', 'The request must contain the parameter GroupName');
      if (!description) throw new CloudError('MissingParameter', 'The request must contain the parameter GroupDescription');
      if (name.toLowerCase().startsWith('sg-')) throw new CloudError('InvalidParameterValue', "Group names may not be in the format sg-*.");
      if ((await this.securityGroups(accountId)).some((g) => g.vpcId === vpc.id && g.name === name)) {
        throw new CloudError('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpc.id}'`);
      }
      const g: SecurityGroup = { id: newId('sg'), accountId, vpcId: vpc.id, name, description, createdAt: Date.now() };
      await write(this.db, async (tx) => {
        await tx.insert(securityGroups).values(g);
        await this.defaultRules(tx, g);
      });
      return g;
    });
  }

  async deleteSecurityGroup(accountId: string, by: { id?: string; name?: string }): Promise<string> {
    const vpcsOf = await this.vpcs(accountId);
    const g = (await this.securityGroups(accountId)).find((x) => (by.id ? x.id === by.id : x.name === by.name && vpcsOf.find((v) => v.id === x.vpcId)?.isDefault));
    if (!g) throw new CloudError('InvalidGroup.NotFound', `The security group '${by.id ?? by.name}' does not exist`);
    if (g.name === 'default') throw new CloudError('CannotDelete', `the specified group: "${g.id}" name: "default" cannot be deleted by a user`);
    const used = (await this.db.select({ id: instances.id, groups: instances.securityGroupIds }).from(instances)
      .where(and(eq(instances.accountId, accountId), ne(instances.state, 'terminated')))).some((r) => r.groups.includes(g.id));
    if (used) throw new CloudError('DependencyViolation', `resource ${g.id} has a dependent object`);
    await write(this.db, async (tx) => {
      await tx.delete(securityGroupRules).where(eq(securityGroupRules.groupId, g.id));
      await tx.delete(securityGroups).where(eq(securityGroups.id, g.id));
    });
    return g.id;
  }

  /** The addresses of a subnet taken: every instance holds one until it is terminated, a NAT gateway until deleted. */
  private async usedAddresses(subnet: Subnet): Promise<string[]> {
    return [
      ...(await this.db.select({ ip: instances.privateIp }).from(instances)
        .where(and(eq(instances.subnetId, subnet.id), ne(instances.state, 'terminated')))).map((r) => r.ip),
      ...(await this.db.select({ ip: natGateways.privateIp }).from(natGateways)
        .where(and(eq(natGateways.subnetId, subnet.id), ne(natGateways.state, 'deleted')))).map((r) => r.ip),
    ];
  }

  /** A subnet's free addresses (its AvailableIpAddressCount): its size less AWS's five reserved and those taken. */
  async freeAddresses(subnet: Subnet): Promise<number> {
    return parseCidr(subnet.cidr).size - 5 - (await this.usedAddresses(subnet)).length;
  }

  /**
   * Allocate `count` free private IPs in a subnet (AWS reserves the first four and the last address). Must run inside
   * the transaction that inserts the instances, so two launches never get the same address.
   */
  async allocateIps(subnet: Subnet, count: number, wanted?: string): Promise<string[]> {
    const used = new Set((await this.usedAddresses(subnet)));
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

function normalizeProtocol(p: string): string {
  const v = (p ?? '').toLowerCase();
  const byNumber: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', all: '-1' };
  const out = byNumber[v] ?? v;
  if (!['tcp', 'udp', 'icmp', '-1'].includes(out)) throw new CloudError('InvalidParameterValue', `Invalid IP protocol '${p}': expected tcp, udp, icmp or -1`);
  return out;
}

function checkAnyCidr(cidr: string): string {
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.test(cidr ?? '') || Number(cidr.split('/')[1]) > 32) {
    throw new CloudError('InvalidParameterValue', `CIDR block ${cidr} is malformed`);
  }
  return cidr;
}

function normalize(cidr: string): string {
  const { base, bits } = parseCidr(cidr);
  return `${intToIp(base)}/${bits}`;
}

function checkCidr(cidr: string, min: number, max: number, what: string): void {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr ?? '');
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255)) throw new CloudError('InvalidParameterValue', `Value (${cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`);
  const bits = Number(m[5]);
  if (bits < min || bits > max) throw new CloudError(what === 'VPC' ? 'InvalidVpc.Range' : 'InvalidSubnet.Range', `The CIDR '${cidr}' is invalid: a ${what} block must be between /${min} and /${max}.`);
}

export function newMac(): string {
  const b = randomBytes(5);
  return ['0e', ...Array.from(b, (x) => x.toString(16).padStart(2, '0'))].join(':');
}
