/**
 * Elastic IPs: addresses of the public pool (public-ips.ts) an account holds until it releases them. One may be
 * associated to an instance (its primary private address), which then has it as its public IP: the VPC router NATs it
 * 1:1 to the instance as it does a launch-time public IP. A terminated instance's association goes; a stopped one's
 * stays, and its NAT comes back when it starts. A NAT gateway holds the Elastic IP it was made with.
 */
import { and, count, eq, inArray, isNotNull, ne } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { byChunks } from '../db/chunks.js';
import { addresses, instances, internetGateways } from '../db/tables.js';
import { CloudError } from './errors.js';
import { newId } from './ids.js';
import type { PublicIps } from './public-ips.js';
import { write } from '../db/store.js';

export type Address = typeof addresses.$inferSelect & { id: string };

/** AWS's default Elastic IP quota per account and region. */
export const ADDRESS_LIMIT = 5;

/** How an address is named in a call: by allocation id (VPC) or by the address itself. */
export interface AddressRef {
  allocationId?: string;
  publicIp?: string;
}

export class Addresses {
  constructor(private readonly db: Db, private readonly publicIps: PublicIps) {}

  /** The account's addresses, associations of instances that are gone dropped first. */
  async list(accountId: string): Promise<Address[]> {
    await this.prune();
    return (await this.db.select().from(addresses).where(eq(addresses.accountId, accountId)).orderBy(addresses.createdAt, addresses.allocationId))
      .map((a) => ({ ...a, id: a.allocationId }));
  }

  /** Associations to terminated (or vanished) instances end, as AWS disassociates on terminate. */
  async prune(): Promise<void> {
    const held = await this.db.select({ id: addresses.allocationId, instanceId: addresses.instanceId }).from(addresses).where(isNotNull(addresses.instanceId));
    if (!held.length) return;
    const alive = new Set((await this.db.select({ id: instances.id }).from(instances)
      .where(and(inArray(instances.id, held.map((h) => h.instanceId!)), ne(instances.state, 'terminated')))).map((r) => r.id));
    const gone = held.filter((h) => !alive.has(h.instanceId!)).map((h) => h.id);
    if (gone.length) {
      await this.db.update(addresses).set({ instanceId: null, networkInterfaceId: null, privateIp: null, associationId: null })
        .where(inArray(addresses.allocationId, gone));
    }
  }

  /** AllocateAddress: a free address of the pool, within the account's quota. */
  async allocate(accountId: string): Promise<Address> {
    return await write(this.db, async () => {
      const held = (await this.db.select({ n: count() }).from(addresses).where(eq(addresses.accountId, accountId)).limit(1))[0]?.n ?? 0;
      if (held >= ADDRESS_LIMIT) throw new CloudError('AddressLimitExceeded', 'The maximum number of addresses has been reached.');
      const [ip] = await this.publicIps.allocate(1);
      if (!ip) throw new CloudError('AddressLimitExceeded', 'This cloud has no public address pool: Elastic IPs need the operator to configure an external network.');
      const row = { allocationId: newId('eipalloc'), accountId, publicIp: ip, instanceId: null, networkInterfaceId: null, privateIp: null, associationId: null, natGatewayId: null, createdAt: Date.now() };
      await this.db.insert(addresses).values(row);
      return { ...row, id: row.allocationId };
    });
  }

  /** The address named by allocation id or public IP (exactly one). */
  async get(accountId: string, ref: AddressRef): Promise<Address> {
    if (ref.allocationId && ref.publicIp) throw new CloudError('InvalidParameterCombination', 'You may specify either a public IP or an allocation id, not both');
    if (!ref.allocationId && !ref.publicIp) throw new CloudError('MissingParameter', 'The request must contain the parameter AllocationId or PublicIp');
    const a = (await this.list(accountId)).find((x) => (ref.allocationId ? x.allocationId === ref.allocationId : x.publicIp === ref.publicIp));
    if (!a) {
      throw ref.allocationId ? new CloudError('InvalidAllocationID.NotFound', `The allocation ID '${ref.allocationId}' does not exist`)
        : new CloudError('InvalidAddress.NotFound', `The address '${ref.publicIp}' does not belong to you.`);
    }
    return a;
  }

  /**
   * AssociateAddress to an instance (or its network interface, at its primary private address). Its VPC must have an
   * internet gateway. An address associated elsewhere moves only with AllowReassociation; an instance that had another
   * Elastic IP loses it. Returns the association id and the VPCs whose edge changes.
   */
  async associate(accountId: string, ref: AddressRef, to: { instanceId?: string; networkInterfaceId?: string; privateIp?: string; allowReassociation?: boolean }): Promise<{ associationId: string; vpcIds: string[] }> {
    const a = await this.get(accountId, ref);
    if (!to.instanceId && !to.networkInterfaceId) throw new CloudError('MissingParameter', 'The request must contain the parameter InstanceId or NetworkInterfaceId');
    const inst = (await this.db.select().from(instances)
      .where(and(eq(instances.accountId, accountId), to.instanceId ? eq(instances.id, to.instanceId) : eq(instances.networkInterfaceId, to.networkInterfaceId!), ne(instances.state, 'terminated'))).limit(1))[0];
    if (!inst) {
      throw to.instanceId ? new CloudError('InvalidInstanceID.NotFound', `The instance ID '${to.instanceId}' does not exist`)
        : new CloudError('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${to.networkInterfaceId}' does not exist`);
    }
    if (to.instanceId && to.networkInterfaceId && inst.networkInterfaceId !== to.networkInterfaceId) {
      throw new CloudError('InvalidParameterCombination', `The network interface '${to.networkInterfaceId}' is not attached to instance '${to.instanceId}'`);
    }
    if (to.privateIp && to.privateIp !== inst.privateIp) {
      throw new CloudError('InvalidParameterValue', `The private IP address ${to.privateIp} is not assigned to network interface ${inst.networkInterfaceId}`);
    }
    if (!(await this.db.select({ id: internetGateways.id }).from(internetGateways).where(eq(internetGateways.vpcId, inst.vpcId)).limit(1))[0]) {
      throw new CloudError('Gateway.NotAttached', `Network ${inst.vpcId} is not attached to any internet gateway`);
    }
    if (a.natGatewayId) throw new CloudError('Resource.AlreadyAssociated', `resource ${a.allocationId} is already associated with ${a.natGatewayId}`);
    if (a.instanceId === inst.id) return { associationId: a.associationId!, vpcIds: [inst.vpcId] };
    if (a.instanceId && !to.allowReassociation) throw new CloudError('Resource.AlreadyAssociated', `resource ${a.allocationId} is already associated with associate-id ${a.associationId}`);
    const before = a.instanceId ? (await this.db.select({ vpcId: instances.vpcId }).from(instances).where(eq(instances.id, a.instanceId)).limit(1))[0]?.vpcId : undefined;
    const associationId = newId('eipassoc');
    await write(this.db, async (tx) => {
      await tx.update(addresses).set({ instanceId: null, networkInterfaceId: null, privateIp: null, associationId: null })
        .where(and(eq(addresses.instanceId, inst.id), ne(addresses.allocationId, a.allocationId)));
      await tx.update(addresses).set({ instanceId: inst.id, networkInterfaceId: inst.networkInterfaceId, privateIp: inst.privateIp, associationId })
        .where(eq(addresses.allocationId, a.allocationId));
    });
    return { associationId, vpcIds: [...new Set([inst.vpcId, ...(before ? [before] : [])])] };
  }

  /** DisassociateAddress, by association id or public IP. Returns the VPC whose edge changes. */
  async disassociate(accountId: string, by: { associationId?: string; publicIp?: string }): Promise<string | undefined> {
    const a = by.associationId ? (await this.list(accountId)).find((x) => x.associationId === by.associationId) : (await this.get(accountId, { publicIp: by.publicIp }));
    if (!a || !a.associationId) {
      if (by.associationId) throw new CloudError('InvalidAssociationID.NotFound', `The association ID '${by.associationId}' does not exist`);
      throw new CloudError('InvalidAssociationID.NotFound', `The address '${by.publicIp}' is not associated`);
    }
    const vpcId = (await this.db.select({ vpcId: instances.vpcId }).from(instances).where(eq(instances.id, a.instanceId!)).limit(1))[0]?.vpcId;
    await this.db.update(addresses).set({ instanceId: null, networkInterfaceId: null, privateIp: null, associationId: null })
      .where(eq(addresses.allocationId, a.allocationId));
    return vpcId;
  }

  /** ReleaseAddress: back to the pool; refused while associated or held by a NAT gateway. Its allocation id, released. */
  async release(accountId: string, ref: AddressRef): Promise<string> {
    const a = await this.get(accountId, ref);
    if (a.associationId || a.natGatewayId) throw new CloudError('InvalidIPAddress.InUse', `Address ${a.publicIp} is in use.`);
    await this.db.delete(addresses).where(eq(addresses.allocationId, a.allocationId));
    return a.allocationId;
  }

  /** The Elastic IP associated with an instance, if any (its public IP while so). */
  async ofInstance(instanceId: string): Promise<string | undefined> {
    return (await this.db.select({ ip: addresses.publicIp }).from(addresses).where(eq(addresses.instanceId, instanceId)).limit(1))[0]?.ip;
  }

  /** The Elastic IPs associated with these instances, by instance id (a query per 500 instances). */
  async ofInstances(instanceIds: readonly string[]): Promise<Map<string, string>> {
    const rows = await byChunks(instanceIds, (chunk) => this.db.select({ instanceId: addresses.instanceId, ip: addresses.publicIp })
      .from(addresses).where(inArray(addresses.instanceId, chunk)));
    return new Map(rows.map((r) => [r.instanceId!, r.ip]));
  }

  /** A NAT gateway takes (or gives back) the address it was made with. */
  async holdFor(accountId: string, allocationId: string, natGatewayId: string | null): Promise<Address> {
    const a = await this.get(accountId, { allocationId });
    if (natGatewayId && (a.associationId || a.natGatewayId)) {
      throw new CloudError('Resource.AlreadyAssociated', `Elastic IP address [${allocationId}] is already associated`);
    }
    await this.db.update(addresses).set({ natGatewayId }).where(eq(addresses.allocationId, allocationId));
    return { ...a, natGatewayId };
  }
}
