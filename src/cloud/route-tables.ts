/**
 * Route tables: each VPC's main table (made on first use, with the ids pcloud always showed for it) and those the user
 * makes, their routes (besides the implicit local one) and which subnets use which table. A subnet without an
 * association of its own uses its VPC's main table. The VPC plane turns them into the router's policy routing.
 */
import { and, eq, inArray, isNull, ne } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { instances, internetGateways, natGateways, routeTableAssociations, routeTables, routes, subnets, vpcs } from '../db/tables.js';
import { CloudError } from './errors.js';
import { newId } from './ids.js';
import { intToIp, parseCidr } from './ip.js';
import { write } from '../db/store.js';

export type RouteRow = typeof routes.$inferSelect;
export type AssociationRow = typeof routeTableAssociations.$inferSelect;

/** Where a route sends its traffic: exactly one of these. */
export interface RouteTarget {
  gatewayId?: string;
  natGatewayId?: string;
  instanceId?: string;
  networkInterfaceId?: string;
}

export interface Route extends RouteTarget {
  destination: string;
  /** 'local' for the VPC's own range. */
  origin: 'CreateRouteTable' | 'CreateRoute';
  /** blackhole: the target is gone or not there now (a detached gateway, a stopped instance, a deleted NAT gateway). */
  state: 'active' | 'blackhole';
}

export interface RouteTable {
  id: string;
  vpcId: string;
  accountId: string;
  main: boolean;
  routes: Route[];
  /** The main association (subnetId undefined) and the subnets' own. */
  associations: { id: string; subnetId?: string; main: boolean }[];
}

/** The id of a resource that exists once per another (a VPC's main route table): its prefix and the other's hex. */
export function derivedId(prefix: string, of: string): string {
  return `${prefix}-${of.slice(of.indexOf('-') + 1)}`;
}

/** a.b.c.d/n, each octet at most 255, n at most 32, normalized to its network address. */
export function routeCidr(cidr: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr ?? '');
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    throw new CloudError('InvalidParameterValue', `Value (${cidr}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.`);
  }
  const { base, bits } = parseCidr(cidr);
  return `${intToIp(base)}/${bits}`;
}

function within(inner: string, outer: string): boolean {
  const i = parseCidr(inner);
  const o = parseCidr(outer);
  return i.bits >= o.bits && i.base >= o.base && i.base + i.size <= o.base + o.size;
}

export class RouteTables {
  constructor(private readonly db: Db) {}

  /**
   * The VPC's main table, made on first use: `rtb-` and `rtbassoc-` with the VPC's hex, and 0.0.0.0/0 to its internet
   * gateway if one is attached then (the default VPC's, or one attached before route tables were kept).
   */
  async ensureMain(accountId: string, vpcId: string): Promise<void> {
    const mainOf = async (db: Db) => (await db.select({ id: routeTableAssociations.id }).from(routeTableAssociations)
      .where(and(eq(routeTableAssociations.vpcId, vpcId), isNull(routeTableAssociations.subnetId))).limit(1))[0];
    if (await mainOf(this.db)) return;
    const id = derivedId('rtb', vpcId);
    const now = Date.now();
    await write(this.db, async (tx) => {
      // Looked at again under the write lock: another request may have made it meanwhile.
      if (await mainOf(tx)) return;
      if (!(await tx.select({ id: routeTables.id }).from(routeTables).where(eq(routeTables.id, id)).limit(1))[0]) {
        await tx.insert(routeTables).values({ id, accountId, vpcId, createdAt: now });
        const igw = (await tx.select({ id: internetGateways.id }).from(internetGateways).where(eq(internetGateways.vpcId, vpcId)).limit(1))[0];
        if (igw) await tx.insert(routes).values({ routeTableId: id, destination: '0.0.0.0/0', gatewayId: igw.id, createdAt: now });
      }
      await tx.insert(routeTableAssociations).values({ id: derivedId('rtbassoc', vpcId), accountId, vpcId, routeTableId: id, subnetId: null, createdAt: now });
    });
  }

  /** Every table of the account, each with its routes (local first) and associations. */
  async list(accountId: string): Promise<RouteTable[]> {
    const vpcRows = await this.db.select().from(vpcs).where(eq(vpcs.accountId, accountId));
    for (const v of vpcRows) await this.ensureMain(accountId, v.id);
    const tables = await this.db.select().from(routeTables).where(eq(routeTables.accountId, accountId)).orderBy(routeTables.createdAt, routeTables.id);
    const ids = tables.map((t) => t.id);
    const routeRows = ids.length ? (await this.db.select().from(routes).where(inArray(routes.routeTableId, ids)).orderBy(routes.createdAt)) : [];
    const assocs = await this.db.select().from(routeTableAssociations).where(eq(routeTableAssociations.accountId, accountId)).orderBy(routeTableAssociations.createdAt);
    const states = await this.targetStates(accountId);
    return tables.map((t) => {
      const vpc = vpcRows.find((v) => v.id === t.vpcId);
      const mine = assocs.filter((a) => a.routeTableId === t.id);
      return {
        id: t.id, vpcId: t.vpcId, accountId,
        main: mine.some((a) => a.subnetId === null),
        routes: [
          ...(vpc ? [{ destination: vpc.cidr, gatewayId: 'local', origin: 'CreateRouteTable' as const, state: 'active' as const }] : []),
          ...routeRows.filter((r) => r.routeTableId === t.id).map((r) => routeOf(r, t.vpcId, states)),
        ],
        associations: mine.map((a) => ({ id: a.id, subnetId: a.subnetId ?? undefined, main: a.subnetId === null })),
      };
    });
  }

  /** Which targets carry traffic now: attached gateways (by VPC), available NAT gateways, running instances. */
  private async targetStates(accountId: string): Promise<{ igws: Map<string, string | null>; nats: Map<string, string>; running: Set<string> }> {
    const igws = new Map((await this.db.select().from(internetGateways).where(eq(internetGateways.accountId, accountId))).map((g) => [g.id, g.vpcId]));
    const nats = new Map((await this.db.select().from(natGateways).where(eq(natGateways.accountId, accountId))).map((n) => [n.id, n.state]));
    const running = new Set((await this.db.select({ id: instances.id }).from(instances)
      .where(and(eq(instances.accountId, accountId), inArray(instances.state, ['pending', 'running'])))).map((r) => r.id));
    return { igws, nats, running };
  }

  async table(accountId: string, id: string): Promise<RouteTable> {
    const t = (await this.list(accountId)).find((x) => x.id === id);
    if (!t) throw new CloudError('InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`);
    return t;
  }

  async create(accountId: string, vpcId: string): Promise<RouteTable> {
    const vpc = (await this.db.select().from(vpcs).where(and(eq(vpcs.id, vpcId), eq(vpcs.accountId, accountId))).limit(1))[0];
    if (!vpc) throw new CloudError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
    await this.ensureMain(accountId, vpcId);
    const id = newId('rtb');
    await this.db.insert(routeTables).values({ id, accountId, vpcId, createdAt: Date.now() });
    return await this.table(accountId, id);
  }

  /** DeleteRouteTable: not the main table, nor one a subnet uses. */
  async delete(accountId: string, id: string): Promise<void> {
    const t = await this.table(accountId, id);
    if (t.associations.length) throw new CloudError('DependencyViolation', `The routeTable '${id}' has dependencies and cannot be deleted.`);
    await write(this.db, async (tx) => {
      await tx.delete(routes).where(eq(routes.routeTableId, id));
      await tx.delete(routeTables).where(eq(routeTables.id, id));
    });
  }

  /** A VPC's tables and associations go with it (DeleteVpc: only its main table may be left, as on AWS). */
  async dropVpc(vpcId: string): Promise<void> {
    const tables = (await this.db.select({ id: routeTables.id }).from(routeTables).where(eq(routeTables.vpcId, vpcId))).map((t) => t.id);
    await write(this.db, async (tx) => {
      if (tables.length) await tx.delete(routes).where(inArray(routes.routeTableId, tables));
      await tx.delete(routeTableAssociations).where(eq(routeTableAssociations.vpcId, vpcId));
      await tx.delete(routeTables).where(eq(routeTables.vpcId, vpcId));
    });
  }

  /** Tables of the VPC the user made (DeleteVpc refuses while one is left). */
  async userTables(vpcId: string): Promise<string[]> {
    const main = derivedId('rtb', vpcId);
    const mainNow = (await this.db.select({ t: routeTableAssociations.routeTableId }).from(routeTableAssociations)
      .where(and(eq(routeTableAssociations.vpcId, vpcId), isNull(routeTableAssociations.subnetId))).limit(1))[0]?.t ?? main;
    return (await this.db.select({ id: routeTables.id }).from(routeTables).where(and(eq(routeTables.vpcId, vpcId), ne(routeTables.id, mainNow)))).map((t) => t.id);
  }

  /** CreateRoute (replace false) and ReplaceRoute (true). */
  async putRoute(accountId: string, tableId: string, destination: string, target: RouteTarget, replace: boolean): Promise<void> {
    const t = await this.table(accountId, tableId);
    const dest = routeCidr(destination);
    const vpcCidr = t.routes[0]?.destination;
    if (vpcCidr && within(dest, vpcCidr)) {
      throw new CloudError('InvalidParameterValue', `The destination CIDR block ${dest} is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or an instance.`);
    }
    const resolved = await this.resolveTarget(accountId, t.vpcId, target);
    const existing = t.routes.find((r) => r.destination === dest && r.origin === 'CreateRoute');
    if (!replace && existing) throw new CloudError('RouteAlreadyExists', `The route identified by ${dest} already exists.`);
    if (replace && !existing) throw new CloudError('InvalidRoute.NotFound', `no route with destination-cidr-block ${dest} in route table ${tableId}`);
    const row = { routeTableId: tableId, destination: dest, gatewayId: null, natGatewayId: null, instanceId: null, networkInterfaceId: null, ...resolved, createdAt: Date.now() };
    await write(this.db, async (tx) => {
      await tx.delete(routes).where(and(eq(routes.routeTableId, tableId), eq(routes.destination, dest)));
      await tx.insert(routes).values(row);
    });
  }

  async deleteRoute(accountId: string, tableId: string, destination: string): Promise<void> {
    const t = await this.table(accountId, tableId);
    const dest = routeCidr(destination);
    if (!t.routes.some((r) => r.destination === dest && r.origin === 'CreateRoute')) {
      throw new CloudError('InvalidRoute.NotFound', `no route with destination-cidr-block ${dest} in route table ${tableId}`);
    }
    await this.db.delete(routes).where(and(eq(routes.routeTableId, tableId), eq(routes.destination, dest)));
  }

  /** The one target, checked: it exists in the account and belongs to the table's VPC. */
  private async resolveTarget(accountId: string, vpcId: string, target: RouteTarget): Promise<RouteTarget> {
    const given = (['gatewayId', 'natGatewayId', 'instanceId', 'networkInterfaceId'] as const).filter((k) => target[k]);
    if (!given.length) throw new CloudError('MissingParameter', 'The request must contain exactly one of gatewayId, natGatewayId, instanceId or networkInterfaceId');
    if (given.length > 1) throw new CloudError('InvalidParameterCombination', `Only one of gatewayId, natGatewayId, instanceId or networkInterfaceId may be given (got ${given.join(', ')})`);
    const other = (id: string) => new CloudError('InvalidParameterValue', `route table and ${id} belong to different networks`);
    if (target.gatewayId) {
      const g = (await this.db.select().from(internetGateways).where(and(eq(internetGateways.id, target.gatewayId), eq(internetGateways.accountId, accountId))).limit(1))[0];
      if (!g) throw new CloudError('InvalidGatewayID.NotFound', `The gateway ID '${target.gatewayId}' does not exist`);
      if (g.vpcId !== vpcId) throw other(g.id);
      return { gatewayId: g.id };
    }
    if (target.natGatewayId) {
      const n = (await this.db.select().from(natGateways).where(and(eq(natGateways.id, target.natGatewayId), eq(natGateways.accountId, accountId))).limit(1))[0];
      if (!n || n.state === 'deleted') throw new CloudError('NatGatewayNotFound', `The Nat Gateway ${target.natGatewayId} was not found`);
      if (n.vpcId !== vpcId) throw other(n.id);
      return { natGatewayId: n.id };
    }
    const byInstance = Boolean(target.instanceId);
    const inst = (await this.db.select({ id: instances.id, vpcId: instances.vpcId, eni: instances.networkInterfaceId }).from(instances)
      .where(and(eq(instances.accountId, accountId), byInstance ? eq(instances.id, target.instanceId!) : eq(instances.networkInterfaceId, target.networkInterfaceId!), ne(instances.state, 'terminated'))).limit(1))[0];
    if (!inst) {
      throw byInstance ? new CloudError('InvalidInstanceID.NotFound', `The instance ID '${target.instanceId}' does not exist`)
        : new CloudError('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${target.networkInterfaceId}' does not exist`);
    }
    if (inst.vpcId !== vpcId) throw other(inst.id);
    return { instanceId: inst.id, networkInterfaceId: inst.eni };
  }

  /** AssociateRouteTable: a subnet of the table's VPC, without an association of its own yet. */
  async associate(accountId: string, tableId: string, subnetId: string): Promise<string> {
    return await write(this.db, async () => {
      const t = await this.table(accountId, tableId);
      const s = (await this.db.select().from(subnets).where(and(eq(subnets.id, subnetId), eq(subnets.accountId, accountId))).limit(1))[0];
      if (!s) throw new CloudError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
      if (s.vpcId !== t.vpcId) throw new CloudError('InvalidParameterValue', `the route table ${tableId} and the subnet ${subnetId} belong to different networks`);
      const held = (await this.db.select().from(routeTableAssociations).where(eq(routeTableAssociations.subnetId, subnetId)).limit(1))[0];
      if (held) throw new CloudError('Resource.AlreadyAssociated', `the specified association for route table ${tableId} conflicts with an existing association`);
      const id = newId('rtbassoc');
      await this.db.insert(routeTableAssociations).values({ id, accountId, vpcId: t.vpcId, routeTableId: tableId, subnetId, createdAt: Date.now() });
      return id;
    });
  }

  private async association(accountId: string, id: string): Promise<AssociationRow> {
    const a = (await this.db.select().from(routeTableAssociations).where(and(eq(routeTableAssociations.id, id), eq(routeTableAssociations.accountId, accountId))).limit(1))[0];
    if (!a) throw new CloudError('InvalidAssociationID.NotFound', `The association ID '${id}' does not exist`);
    return a;
  }

  /** DisassociateRouteTable: the subnet goes back to the main table; the main association itself stays. */
  async disassociate(accountId: string, associationId: string): Promise<string> {
    const a = await this.association(accountId, associationId);
    if (a.subnetId === null) throw new CloudError('InvalidParameterValue', `cannot disassociate the main route table association ${associationId}`);
    await this.db.delete(routeTableAssociations).where(eq(routeTableAssociations.id, associationId));
    return a.vpcId;
  }

  /** ReplaceRouteTableAssociation: the subnet (or, for the main association, the VPC) takes another table of its VPC. */
  async replaceAssociation(accountId: string, associationId: string, tableId: string): Promise<string> {
    const a = await this.association(accountId, associationId);
    const t = await this.table(accountId, tableId);
    if (t.vpcId !== a.vpcId) throw new CloudError('InvalidParameterValue', `the route table ${tableId} belongs to another network`);
    const id = newId('rtbassoc');
    await write(this.db, async (tx) => {
      await tx.delete(routeTableAssociations).where(eq(routeTableAssociations.id, associationId));
      await tx.insert(routeTableAssociations).values({ ...a, id, routeTableId: tableId, createdAt: Date.now() });
    });
    return id;
  }

  /** AttachInternetGateway: the main table routes 0.0.0.0/0 to it unless it routes 0.0.0.0/0 somewhere already. */
  async defaultRouteOnAttach(accountId: string, vpcId: string, igwId: string): Promise<void> {
    await this.ensureMain(accountId, vpcId);
    const main = (await this.list(accountId)).find((t) => t.vpcId === vpcId && t.main);
    if (!main || main.routes.some((r) => r.destination === '0.0.0.0/0' && r.state === 'active')) return;
    await write(this.db, async (tx) => {
      await tx.delete(routes).where(and(eq(routes.routeTableId, main.id), eq(routes.destination, '0.0.0.0/0')));
      await tx.insert(routes).values({ routeTableId: main.id, destination: '0.0.0.0/0', gatewayId: igwId, createdAt: Date.now() });
    });
  }

  /** DetachInternetGateway: the main table's default route to it goes with it (as attach added it); other routes to it are blackholes. */
  async defaultRouteOnDetach(vpcId: string, igwId: string): Promise<void> {
    const main = (await this.db.select({ t: routeTableAssociations.routeTableId }).from(routeTableAssociations)
      .where(and(eq(routeTableAssociations.vpcId, vpcId), isNull(routeTableAssociations.subnetId))).limit(1))[0]?.t;
    if (main) await this.db.delete(routes).where(and(eq(routes.routeTableId, main), eq(routes.destination, '0.0.0.0/0'), eq(routes.gatewayId, igwId)));
  }

  /** The table each subnet of a VPC uses: its own association's, or the main one. */
  async tableOfSubnets(accountId: string, vpcId: string): Promise<{ tables: RouteTable[]; bySubnet: Map<string, string> }> {
    const tables = (await this.list(accountId)).filter((t) => t.vpcId === vpcId);
    const main = tables.find((t) => t.main);
    const bySubnet = new Map<string, string>();
    for (const s of (await this.db.select({ id: subnets.id }).from(subnets).where(eq(subnets.vpcId, vpcId)))) {
      const own = tables.find((t) => t.associations.some((a) => a.subnetId === s.id));
      const t = own ?? main;
      if (t) bySubnet.set(s.id, t.id);
    }
    return { tables, bySubnet };
  }
}

function routeOf(r: RouteRow, vpcId: string, states: { igws: Map<string, string | null>; nats: Map<string, string>; running: Set<string> }): Route {
  const up = r.gatewayId ? states.igws.get(r.gatewayId) === vpcId
    : r.natGatewayId ? states.nats.get(r.natGatewayId) === 'available' || states.nats.get(r.natGatewayId) === 'pending'
      : r.instanceId ? states.running.has(r.instanceId) : false;
  return {
    destination: r.destination, origin: 'CreateRoute', state: up ? 'active' : 'blackhole',
    gatewayId: r.gatewayId ?? undefined, natGatewayId: r.natGatewayId ?? undefined,
    instanceId: r.instanceId ?? undefined, networkInterfaceId: r.networkInterfaceId ?? undefined,
  };
}
