/**
 * What Describe* filters see of each network resource: the field tables filters.ts applies (tag filters beside them,
 * from the resources' tags). A table maps a filter name to the resource's value(s), as EC2 names them.
 */
import type { Fields } from './filters.js';
import { holdsResources, type Instance } from './instances/types.js';
import type { Address } from './addresses.js';
import type { NatGateway } from './nat-gateways.js';
import type { InternetGateway, NetworkAcl, RouteTable, SecurityGroup, SecurityGroupRule, Subnet, Vpc } from './network.js';
import { availabilityZoneId } from './region-filters.js';

export const vpcFields: Fields<Vpc> = {
  'vpc-id': (v) => v.id, 'cidr': (v) => v.cidr, 'cidr-block': (v) => v.cidr, 'cidr-block-association.cidr-block': (v) => v.cidr,
  'is-default': (v) => String(v.isDefault), state: () => 'available', 'owner-id': (v) => v.accountId,
  'dhcp-options-id': () => 'default',
};

/** Subnets' fields; their zone ids are their zone's place in the region's list of zones. */
export function subnetFields(zones: readonly string[]): Fields<Subnet> {
  return {
    'subnet-id': (s) => s.id, 'vpc-id': (s) => s.vpcId, 'cidr-block': (s) => s.cidr, cidr: (s) => s.cidr,
    'availability-zone': (s) => s.availabilityZone, 'default-for-az': (s) => String(s.isDefault),
    defaultForAz: (s) => String(s.isDefault), state: () => 'available', 'owner-id': (s) => s.accountId,
    'availability-zone-id': (s) => availabilityZoneId(zones, s.availabilityZone),
  };
}

export const securityGroupFields: Fields<SecurityGroup> = {
  'group-id': (g) => g.id, 'group-name': (g) => g.name, 'vpc-id': (g) => g.vpcId, description: (g) => g.description,
  'owner-id': (g) => g.accountId,
};

/** Security group rules have no tags: their tag filters are unknown names. */
export const securityGroupRuleFields: Fields<SecurityGroupRule> = {
  'group-id': (r) => r.groupId, 'security-group-rule-id': (r) => r.id,
};

export const internetGatewayFields: Fields<InternetGateway> = {
  'internet-gateway-id': (g) => g.id, 'attachment.vpc-id': (g) => g.vpcId, 'owner-id': (g) => g.accountId,
  'attachment.state': (g) => (g.vpcId ? 'available' : undefined),
};

export const routeTableFields: Fields<RouteTable> = {
  'route-table-id': (t) => t.id, 'vpc-id': (t) => t.vpcId, 'owner-id': (t) => t.accountId,
  'association.main': (t) => t.associations.map((a) => String(a.main)),
  'association.route-table-association-id': (t) => t.associations.map((a) => a.id),
  'association.route-table-id': (t) => (t.associations.length ? t.id : []),
  // Subnets that use the main table implicitly are not its associations: AWS matches explicit ones only.
  'association.subnet-id': (t) => t.associations.flatMap((a) => (a.subnetId ? [a.subnetId] : [])),
  'route.destination-cidr-block': (t) => t.routes.map((r) => r.destination),
  'route.gateway-id': (t) => t.routes.flatMap((r) => (r.gatewayId ? [r.gatewayId] : [])),
  'route.nat-gateway-id': (t) => t.routes.flatMap((r) => (r.natGatewayId ? [r.natGatewayId] : [])),
  'route.instance-id': (t) => t.routes.flatMap((r) => (r.instanceId ? [r.instanceId] : [])),
  'route.origin': (t) => t.routes.map((r) => r.origin),
  'route.state': (t) => t.routes.map((r) => r.state),
};

/** Elastic IPs as DescribeAddresses filters see them. */
export const addressFields: Fields<Address> = {
  'allocation-id': (a) => a.allocationId, 'association-id': (a) => a.associationId, 'public-ip': (a) => a.publicIp,
  'instance-id': (a) => a.instanceId, 'network-interface-id': (a) => a.networkInterfaceId,
  'private-ip-address': (a) => a.privateIp, domain: () => 'vpc', 'network-interface-owner-id': (a) => (a.networkInterfaceId ? a.accountId : undefined),
  'network-border-group': () => undefined, 'public-ipv4-pool': () => 'amazon',
};

export const natGatewayFields: Fields<NatGateway> = {
  'nat-gateway-id': (n) => n.id, state: (n) => n.state, 'subnet-id': (n) => n.subnetId, 'vpc-id': (n) => n.vpcId,
};

export const networkAclFields: Fields<NetworkAcl> = {
  'network-acl-id': (a) => a.id, 'vpc-id': (a) => a.vpcId, default: () => 'true', 'owner-id': (a) => a.accountId,
  'association.subnet-id': (a) => a.subnets.map((s) => s.subnetId), 'association.network-acl-id': (a) => a.id,
  'association.association-id': (a) => a.subnets.map((s) => s.associationId),
};

/** An instance's network interface: the instance under its interface's id (`id`), its own id as `instanceId`. */
export type NetworkInterface = Instance & { instanceId: string };

export function networkInterfaceOf(i: Instance): NetworkInterface {
  return { ...i, id: i.networkInterfaceId, instanceId: i.id };
}

/** The network interfaces of a list of instances: one per instance that still holds its own. */
export function networkInterfacesOf(list: Instance[]): NetworkInterface[] {
  return list.filter(holdsResources).map(networkInterfaceOf);
}

export const networkInterfaceFields: Fields<NetworkInterface> = {
  'network-interface-id': (e) => e.id, 'subnet-id': (e) => e.subnetId, 'vpc-id': (e) => e.vpcId,
  'attachment.instance-id': (e) => e.instanceId, 'private-ip-address': (e) => e.privateIp, 'addresses.private-ip-address': (e) => e.privateIp,
  'association.public-ip': (e) => e.publicIp,
  'mac-address': (e) => e.macAddress, 'group-id': (e) => e.securityGroupIds, 'availability-zone': (e) => e.availabilityZone,
  status: () => 'in-use', 'owner-id': (e) => e.accountId, 'interface-type': () => 'interface',
};
