/**
 * NAT gateways: an address in a subnet that the subnets routed to it (0.0.0.0/0 → nat-…) leave the VPC through. A
 * public one holds an Elastic IP and the VPC router SNATs their traffic to it on the physical network; a private one
 * takes the router's uplink, as any VPC traffic does. pending → available once the router has it; deleting → deleted,
 * and a deleted one stays visible a while, as on AWS.
 */
import { and, eq, lt, ne } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { natGateways, subnets } from '../db/tables.js';
import type { Addresses } from './addresses.js';
import { CloudError } from './errors.js';
import { newId } from './ids.js';
import { write } from '../db/store.js';

export type NatGateway = typeof natGateways.$inferSelect;
type SubnetRow = typeof subnets.$inferSelect;

/** How long a deleted NAT gateway stays in DescribeNatGateways. */
const DELETED_TTL_MS = 60 * 60 * 1000;

export class NatGateways {
  constructor(
    private readonly db: Db,
    private readonly addresses: Addresses,
    /** A free private address of the subnet (the network's allocator: the same as instances'). */
    private readonly allocateIp: (subnet: SubnetRow) => Promise<string>,
  ) {}

  async list(accountId: string): Promise<NatGateway[]> {
    await this.db.delete(natGateways).where(and(eq(natGateways.state, 'deleted'), lt(natGateways.deletedAt, Date.now() - DELETED_TTL_MS)));
    return await this.db.select().from(natGateways).where(eq(natGateways.accountId, accountId)).orderBy(natGateways.createdAt, natGateways.id);
  }

  async get(accountId: string, id: string): Promise<NatGateway> {
    const n = (await this.list(accountId)).find((x) => x.id === id);
    if (!n) throw new CloudError('NatGatewayNotFound', `The Nat Gateway ${id} was not found`);
    return n;
  }

  /** CreateNatGateway: public (with an Elastic IP of the account) or private (without one). */
  async create(accountId: string, subnetId: string, opts: { allocationId?: string; connectivityType?: string }): Promise<NatGateway> {
    const type = opts.connectivityType ?? 'public';
    if (type !== 'public' && type !== 'private') {
      throw new CloudError('InvalidParameterValue', `Value (${type}) for parameter connectivityType is invalid. Valid values: public, private`);
    }
    const subnet = (await this.db.select().from(subnets).where(and(eq(subnets.id, subnetId), eq(subnets.accountId, accountId))).limit(1))[0];
    if (!subnet) throw new CloudError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    if (type === 'public' && !opts.allocationId) throw new CloudError('MissingParameter', 'The request must contain the parameter AllocationId (a public NAT gateway needs an Elastic IP)');
    if (type === 'private' && opts.allocationId) throw new CloudError('InvalidParameterCombination', 'A private NAT gateway takes no Elastic IP');
    const id = newId('nat');
    return await write(this.db, async () => {
      if (opts.allocationId) await this.addresses.holdFor(accountId, opts.allocationId, id);
      const row: NatGateway = {
        id, accountId, vpcId: subnet.vpcId, subnetId, connectivityType: type, allocationId: opts.allocationId ?? null,
        privateIp: await this.allocateIp(subnet), networkInterfaceId: newId('eni'), state: 'pending', createdAt: Date.now(), deletedAt: null,
      };
      await this.db.insert(natGateways).values(row);
      return row;
    });
  }

  /** The VPC's gateways on their way in or out (pending, deleting): what the next edge sync settles. */
  async settling(vpcId: string): Promise<string[]> {
    return (await this.db.select({ id: natGateways.id, state: natGateways.state }).from(natGateways).where(eq(natGateways.vpcId, vpcId)))
      .filter((n) => n.state === 'pending' || n.state === 'deleting').map((n) => n.id);
  }

  /** The router has it now (or no longer): available after create, deleted after delete. */
  async settle(id: string): Promise<void> {
    const n = (await this.db.select().from(natGateways).where(eq(natGateways.id, id)).limit(1))[0];
    if (n?.state === 'pending') await this.db.update(natGateways).set({ state: 'available' }).where(eq(natGateways.id, id));
    if (n?.state === 'deleting') await this.db.update(natGateways).set({ state: 'deleted', deletedAt: Date.now() }).where(eq(natGateways.id, id));
  }

  /** DeleteNatGateway: deleting, its Elastic IP given back (the router drops it on the next edge sync). */
  async delete(accountId: string, id: string): Promise<NatGateway> {
    const n = await this.get(accountId, id);
    if (n.state === 'deleted' || n.state === 'deleting') return n;
    await write(this.db, async () => {
      if (n.allocationId) await this.addresses.holdFor(accountId, n.allocationId, null);
      await this.db.update(natGateways).set({ state: 'deleting' }).where(eq(natGateways.id, id));
    });
    return { ...n, state: 'deleting' };
  }

  /** The gateways of a subnet that still hold an address (DeleteSubnet refuses while one does). */
  async inSubnet(subnetId: string): Promise<NatGateway[]> {
    return await this.db.select().from(natGateways).where(and(eq(natGateways.subnetId, subnetId), ne(natGateways.state, 'deleted')));
  }

  /** The VPC's gateways the router serves: pending or available. */
  async live(vpcId: string): Promise<NatGateway[]> {
    return (await this.db.select().from(natGateways).where(eq(natGateways.vpcId, vpcId))).filter((n) => n.state === 'pending' || n.state === 'available');
  }
}
