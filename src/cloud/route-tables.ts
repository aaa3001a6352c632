/**
 * Route tables: each VPC's main table (made on first use, with the ids pcloud always showed for it) and those the user
 * makes, their routes (besides the implicit local one) and which subnets use which table. A subnet without an
 * association of its own uses its VPC's main table. The VPC plane turns them into the router's policy routing.
 */
import { and, eq, inArray, isNull, ne } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { instances, internetGateways, natGateways, routeTableAssociations, routeTables, routes, subnets, vpcs } from '../db/schema.js';
import { CloudError } from './errors.js';
import { newId } from './ids.js';
import { intToIp, parseCidr } from './ip.js';

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
  ensureMain(accountId: string, vpcId: string): void {
    const has = this.db.select({ id: routeTableAssociations.id }).from(routeTableAssociations)
      .where(and(eq(routeTableAssociations.vpcId, vpcId), isNull(routeTableAssociations.subnetId))).get();
    if (has) return;
    const id = derivedId('rtb', vpcId);
    const now = Date.now();
    this.db.transaction((tx) => {
      if (!tx.select({ id: routeTables.id }).from(routeTables).where(eq(routeTables.id, id)).get()) {
        tx.insert(routeTables).values({ id, accountId, vpcId, createdAt: now }).run();
        const igw = tx.select({ id: internetGateways.id }).from(internetGateways).where(eq(internetGateways.vpcId, vpcId)).get();
        if (igw) tx.insert(routes).values({ routeTableId: id, destination: '0.0.0.0/0', gatewayId: igw.id, createdAt: now }).run();
      }
      tx.insert(routeTableAssociations).values({ id: derivedId('rtbassoc', vpcId), accountId, vpcId, routeTableId: id, subnetId: null, createdAt: now }).run();
    });
  }

  /** Every table of the account, each with its routes (local first) and associations. */
  list(accountId: string): RouteTable[] {
    const vpcRows = this.db.select().from(vpcs).where(eq(vpcs.accountId, accountId)).all();
    for (const v of vpcRows) this.ensureMain(accountId, v.id);
    const tables = this.db.select().from(routeTables).where(eq(routeTables.accountId, accountId)).orderBy(routeTables.createdAt, routeTables.id).all();
    const ids = tables.map((t) => t.id);
    const routeRows = ids.length ? this.db.select().from(routes).where(inArray(routes.routeTableId, ids)).orderBy(routes.createdAt).all() : [];
    const assocs = this.db.select().from(routeTableAssociations).where(eq(routeTableAssociations.accountId, accountId)).orderBy(routeTableAssociations.createdAt).all();
    const states = this.targetStates(accountId);
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
  private targetStates(accountId: string): { igws: Map<string, string | null>; nats: Map<string, string>; running: Set<string> } {
    const igws = new Map(this.db.select().from(internetGateways).where(eq(internetGateways.accountId, accountId)).all().map((g) => [g.id, g.vpcId]));
    const nats = new Map(this.db.select().from(natGateways).where(eq(natGateways.accountId, accountId)).all().map((n) => [n.id, n.state]));
    const running = new Set(this.db.select({ id: instances.id }).from(instances)
      .where(and(eq(instances.accountId, accountId), inArray(instances.state, ['pending', 'running']))).all().map((r) => r.id));
    return { igws, nats, running };
  }

  table(accountId: string, id: string): RouteTable {
    const t = this.list(accountId).find((x) => x.id === id);
    if (!t) throw new CloudError('InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`);
    return t;
  }

  create(accountId: string, vpcId: string): RouteTable {
    const vpc = this.db.select().from(vpcs).where(and(eq(vpcs.id, vpcId), eq(vpcs.accountId, accountId))).get();
    if (!vpc) throw new CloudError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
    this.ensureMain(accountId, vpcId);
    const id = newId('rtb');
    this.db.insert(routeTables).values({ id, accountId, vpcId, createdAt: Date.now() }).run();
    return this.table(accountId, id);
  }

  /** DeleteRouteTable: not the main table, nor one a subnet uses. */
  delete(accountId: string, id: string): void {
    const t = this.table(accountId, id);
    if (t.associations.length) throw new CloudError('DependencyViolation', `The routeTable '${id}' has dependencies and cannot be deleted.`);
    this.db.transaction((tx) => {
      tx.delete(routes).where(eq(routes.routeTableId, id)).run();
      tx.delete(routeTables).where(eq(routeTables.id, id)).run();
    });
  }

  /** A VPC's tables and associations go with it (DeleteVpc: only its main table may be left, as on AWS). */
  dropVpc(vpcId: string): void {
    const tables = this.db.select({ id: routeTables.id }).from(routeTables).where(eq(routeTables.vpcId, vpcId)).all().map((t) => t.id);
    this.db.transaction((tx) => {
      if (tables.length) tx.delete(routes).where(inArray(routes.routeTableId, tables)).run();
      tx.delete(routeTableAssociations).where(eq(routeTableAssociations.vpcId, vpcId)).run();
      tx.delete(routeTables).where(eq(routeTables.vpcId, vpcId)).run();
    });
  }

  /** Tables of the VPC the user made (DeleteVpc refuses while one is left). */
  userTables(vpcId: string): string[] {
    const main = derivedId('rtb', vpcId);
    const mainNow = this.db.select({ t: routeTableAssociations.routeTableId }).from(routeTableAssociations)
      .where(and(eq(routeTableAssociations.vpcId, vpcId), isNull(routeTableAssociations.subnetId))).get()?.t ?? main;
    return this.db.select({ id: routeTables.id }).from(routeTables).where(and(eq(routeTables.vpcId, vpcId), ne(routeTables.id, mainNow))).all().map((t) => t.id);
  }

  /** CreateRoute (replace false) and ReplaceRoute (true). */
  putRoute(accountId: string, tableId: string, destination: string, target: RouteTarget, replace: boolean): void {
    const t = this.table(accountId, tableId);
    const dest = routeCidr(destination);
    const vpcCidr = t.routes[0]?.destination;
    if (vpcCidr && within(dest, vpcCidr)) {
      throw new CloudError('InvalidParameterValue', `The destination CIDR block ${dest} is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or an instance.`);
    }
    const resolved = this.resolveTarget(accountId, t.vpcId, target);
    const existing = t.routes.find((r) => r.destination === dest && r.origin === 'CreateRoute');
    if (!replace && existing) throw new CloudError('RouteAlreadyExists', `The route identified by ${dest} already exists.`);
    if (replace && !existing) throw new CloudError('InvalidRoute.NotFound', `no route with destination-cidr-block ${dest} in route table ${tableId}`);
    const row = { routeTableId: tableId, destination: dest, gatewayId: null, natGatewayId: null, instanceId: null, networkInterfaceId: null, ...resolved, createdAt: Date.now() };
    this.db.transaction((tx) => {
      tx.delete(routes).where(and(eq(routes.routeTableId, tableId), eq(routes.destination, dest))).run();
      tx.insert(routes).values(row).run();
    });
  }

  deleteRoute(accountId: string, tableId: string, destination: string): void {
    const t = this.table(accountId, tableId);
    const dest = routeCidr(destination);
    if (!t.routes.some((r) => r.destination === dest && r.origin === 'CreateRoute')) {
      throw new CloudError('InvalidRoute.NotFound', `no route with destination-cidr-block ${dest} in route table ${tableId}`);
    }
    this.db.delete(routes).where(and(eq(routes.routeTableId, tableId), eq(routes.destination, dest))).run();
  }

  /** The one target, checked: it exists in the account and belongs to the table's VPC. */
  private resolveTarget(accountId: string, vpcId: string, target: RouteTarget): RouteTarget {
    const given = (['gatewayId', 'natGatewayId', 'instanceId', 'networkInterfaceId'] as const).filter((k) => target[k]);
    if (!given.length) throw new CloudError('MissingParameter', 'The request must contain exactly one of gatewayId, natGatewayId, instanceId or networkInterfaceId');
    if (given.length > 1) throw new CloudError('InvalidParameterCombination', `Only one of gatewayId, natGatewayId, instanceId or networkInterfaceId may be given (got ${given.join(', ')})`);
    const other = (id: string) => new CloudError('InvalidParameterValue', `route table and ${id} belong to different networks`);
    if (target.gatewayId) {
      const g = this.db.select().from(internetGateways).where(and(eq(internetGateways.id, target.gatewayId), eq(internetGateways.accountId, accountId))).get();
      if (!g) throw new CloudError('InvalidGatewayID.NotFound', `The gateway ID '${target.gatewayId}' does not exist`);
      if (g.vpcId !== vpcId) throw other(g.id);
      return { gatewayId: g.id };
    }
    if (target.natGatewayId) {
      const n = this.db.select().from(natGateways).where(and(eq(natGateways.id, target.natGatewayId), eq(natGateways.accountId, accountId))).get();
      if (!n || n.state === 'deleted') throw new CloudError('NatGatewayNotFound', `The Nat Gateway ${target.natGatewayId} was not found`);
      if (n.vpcId !== vpcId) throw other(n.id);
      return { natGatewayId: n.id };
    }
    const byInstance = Boolean(target.instanceId);
    const inst = this.db.select({ id: instances.id, vpcId: instances.vpcId, eni: instances.networkInterfaceId }).from(instances)
      .where(and(eq(instances.accountId, accountId), byInstance ? eq(instances.id, target.instanceId!) : eq(instances.networkInterfaceId, target.networkInterfaceId!), ne(instances.state, 'terminated'))).get();
    if (!inst) {
      throw byInstance ? new CloudError('InvalidInstanceID.NotFound', `The instance ID '${target.instanceId}' does not exist`)
        : new CloudError('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${target.networkInterfaceId}' does not exist`);
    }
    if (inst.vpcId !== vpcId) throw other(inst.id);
    return { instanceId: inst.id, networkInterfaceId: inst.eni };
  }

  /** AssociateRouteTable: a subnet of the table's VPC, without an association of its own yet. */
  associate(accountId: string, tableId: string, subnetId: string): string {
    const t = this.table(accountId, tableId);
    const s = this.db.select().from(subnets).where(and(eq(subnets.id, subnetId), eq(subnets.accountId, accountId))).get();
    if (!s) throw new CloudError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    if (s.vpcId !== t.vpcId) throw new CloudError('InvalidParameterValue', `the route table ${tableId} and the subnet ${subnetId} belong to different networks`);
    const held = this.db.select().from(routeTableAssociations).where(eq(routeTableAssociations.subnetId, subnetId)).get();
    if (held) throw new CloudError('Resource.AlreadyAssociated', `the specified association for route table ${tableId} conflicts with an existing association`);
    const id = newId('rtbassoc');
    this.db.insert(routeTableAssociations).values({ id, accountId, vpcId: t.vpcId, routeTableId: tableId, subnetId, createdAt: Date.now() }).run();
    return id;
  }

  private association(accountId: string, id: string): AssociationRow {
    const a = this.db.select().from(routeTableAssociations).where(and(eq(routeTableAssociations.id, id), eq(routeTableAssociations.accountId, accountId))).get();
    if (!a) throw new CloudError('InvalidAssociationID.NotFound', `The association ID '${id}' does not exist`);
    return a;
  }

  /** DisassociateRouteTable: the subnet goes back to the main table; the main association itself stays. */
  disassociate(accountId: string, associationId: string): string {
    const a = this.association(accountId, associationId);
    if (a.subnetId === null) throw new CloudError('InvalidParameterValue', `cannot disassociate the main route table association ${associationId}`);
    this.db.delete(routeTableAssociations).where(eq(routeTableAssociations.id, associationId)).run();
    return a.vpcId;
  }

  /** ReplaceRouteTableAssociation: the subnet (or, for the main association, the VPC) takes another table of its VPC. */
  replaceAssociation(accountId: string, associationId: string, tableId: string): string {
    const a = this.association(accountId, associationId);
    const t = this.table(accountId, tableId);
    if (t.vpcId !== a.vpcId) throw new CloudError('InvalidParameterValue', `the route table ${tableId} belongs to another network`);
    const id = newId('rtbassoc');
    this.db.transaction((tx) => {
      tx.delete(routeTableAssociations).where(eq(routeTableAssociations.id, associationId)).run();
      tx.insert(routeTableAssociations).values({ ...a, id, routeTableId: tableId, createdAt: Date.now() }).run();
    });
    return id;
  }

  /** AttachInternetGateway: the main table routes 0.0.0.0/0 to it unless it routes 0.0.0.0/0 somewhere already. */
  defaultRouteOnAttach(accountId: string, vpcId: string, igwId: string): void {
    this.ensureMain(accountId, vpcId);
    const main = this.list(accountId).find((t) => t.vpcId === vpcId && t.main);
    if (!main || main.routes.some((r) => r.destination === '0.0.0.0/0' && r.state === 'active')) return;
    this.db.transaction((tx) => {
      tx.delete(routes).where(and(eq(routes.routeTableId, main.id), eq(routes.destination, '0.0.0.0/0'))).run();
      tx.insert(routes).values({ routeTableId: main.id, destination: '0.0.0.0/0', gatewayId: igwId, createdAt: Date.now() }).run();
    });
  }

  /** DetachInternetGateway: the main table's default route to it goes with it (as attach added it); other routes to it are blackholes. */
  defaultRouteOnDetach(vpcId: string, igwId: string): void {
    const main = this.db.select({ t: routeTableAssociations.routeTableId }).from(routeTableAssociations)
      .where(and(eq(routeTableAssociations.vpcId, vpcId), isNull(routeTableAssociations.subnetId))).get()?.t;
    if (main) this.db.delete(routes).where(and(eq(routes.routeTableId, main), eq(routes.destination, '0.0.0.0/0'), eq(routes.gatewayId, igwId))).run();
  }

  /** The table each subnet of a VPC uses: its own association's, or the main one. */
  tableOfSubnets(accountId: string, vpcId: string): { tables: RouteTable[]; bySubnet: Map<string, string> } {
    const tables = this.list(accountId).filter((t) => t.vpcId === vpcId);
    const main = tables.find((t) => t.main);
    const bySubnet = new Map<string, string>();
    for (const s of this.db.select({ id: subnets.id }).from(subnets).where(eq(subnets.vpcId, vpcId)).all()) {
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
