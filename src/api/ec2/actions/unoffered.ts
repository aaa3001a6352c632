/**
 * Features this cloud does not offer, answered as AWS answers them where they are not offered (EC2-Classic's
 * ClassicLink in a region without EC2-Classic) or for an account that has none of them (VPC endpoints, VPN and
 * transit gateways, peering, spot requests…): real tooling (Terraform's provider, Ansible's amazon.aws modules) asks
 * these while reading a VPC or an instance, and takes "none" for an answer where InvalidAction would stop it.
 * Ids asked for are refused with the NotFound code AWS uses for them (none exists here); filters are read (a malformed
 * one is refused as anywhere else) and match nothing.
 */
import { CloudError } from '../../../cloud/errors.js';
import type { Ec2Code } from '../../../cloud/errors/ec2.js';
import { byIds, filterRows } from '../../../cloud/filters.js';
import { vpcFields } from '../../../cloud/network-filters.js';
import type { Action, Actions, Ctx } from '../context.js';
import { tagSet } from '../shapes.js';

/** Refuse the ids asked for under `param` (`Param.N`) with AWS's NotFound code: none exists here. */
function noneOf(ctx: Ctx, param: string, code: Ec2Code, what: string): void {
  const ids = ctx.q.list(param);
  if (ids.length) throw new CloudError(code, `The ${what} '${ids.join(', ')}' does not exist`);
}

/**
 * An empty list under the output's element `set`: what AWS answers an account that has none. `ids` is the request's
 * parameter naming some (refused with `code`), when the operation takes one.
 */
function none(set: string, ids?: { param: string; code: Ec2Code; what: string }): Action {
  return {
    handler: (ctx) => {
      ctx.q.filters();
      if (ids) noneOf(ctx, ids.param, ids.code, ids.what);
      return { [set]: [] };
    },
  };
}

/** The account's VPCs the request names (all when it names none), filtered by the VPC's fields, its tags and `extra`. */
async function vpcsAsked(ctx: Ctx, idParam: string, extra: Record<string, () => string> = {}) {
  const all = byIds(await ctx.cloud.network.vpcs(ctx.accountId), ctx.q.list(idParam), 'InvalidVpcID.NotFound', 'vpc ID');
  const tags = await ctx.cloud.tags.of(all.map((v) => v.id));
  const rows = filterRows(all, ctx.q.filters(), { ...vpcFields, ...extra }, tags);
  return { rows, tags };
}

export const unofferedActions: Actions = {
  // AWS, in a region without EC2-Classic: every VPC asked for (or all), ClassicLink disabled, with its tags.
  DescribeVpcClassicLink: {
    handler: async (ctx) => {
      const { rows, tags } = await vpcsAsked(ctx, 'VpcId', { 'is-classic-link-enabled': () => 'false' });
      return { vpcSet: rows.map((v) => ({ vpcId: v.id, classicLinkEnabled: false, tagSet: tagSet(tags.get(v.id)) })) };
    },
  },
  // AWS, in a region without EC2-Classic: every VPC asked for (or all), ClassicLink DNS support off.
  DescribeVpcClassicLinkDnsSupport: {
    handler: async (ctx) => {
      const all = byIds(await ctx.cloud.network.vpcs(ctx.accountId), ctx.q.list('VpcIds'), 'InvalidVpcID.NotFound', 'vpc ID');
      return { vpcs: all.map((v) => ({ vpcId: v.id, classicLinkDnsSupported: false })) };
    },
  },
  // No EC2-Classic instance can be linked to a VPC: none is.
  DescribeClassicLinkInstances: none('instancesSet'),
  // No VPC endpoints (gateway or interface): none, an id asked for is InvalidVpcEndpointId.NotFound.
  DescribeVpcEndpoints: none('vpcEndpointSet', { param: 'VpcEndpointId', code: 'InvalidVpcEndpointId.NotFound', what: 'VpcEndpoint Id' }),
  // No endpoint services of its own.
  DescribeVpcEndpointServiceConfigurations: none('serviceConfigurationSet', { param: 'ServiceId', code: 'InvalidVpcEndpointServiceId.NotFound', what: 'VpcEndpointService Id' }),
  DescribeVpcEndpointConnections: none('vpcEndpointConnectionSet'),
  // No AWS-managed prefix lists (no S3 or DynamoDB here) and no customer-managed ones.
  DescribePrefixLists: none('prefixListSet', { param: 'PrefixListId', code: 'InvalidPrefixListID.NotFound', what: 'prefix list ID' }),
  DescribeManagedPrefixLists: none('prefixListSet', { param: 'PrefixListId', code: 'InvalidPrefixListID.NotFound', what: 'prefix list ID' }),
  // No site-to-site VPN: no virtual private gateways, customer gateways or connections.
  DescribeVpnGateways: none('vpnGatewaySet', { param: 'VpnGatewayId', code: 'InvalidVpnGatewayID.NotFound', what: 'vpn gateway ID' }),
  DescribeCustomerGateways: none('customerGatewaySet', { param: 'CustomerGatewayId', code: 'InvalidCustomerGatewayID.NotFound', what: 'customer gateway ID' }),
  DescribeVpnConnections: none('vpnConnectionSet', { param: 'VpnConnectionId', code: 'InvalidVpnConnectionID.NotFound', what: 'vpn connection ID' }),
  // No Client VPN.
  DescribeClientVpnEndpoints: none('clientVpnEndpoint', { param: 'ClientVpnEndpointId', code: 'InvalidClientVpnEndpointId.NotFound', what: 'client VPN endpoint ID' }),
  // No transit gateways, hence no attachments.
  DescribeTransitGateways: none('transitGatewaySet', { param: 'TransitGatewayIds', code: 'InvalidTransitGatewayID.NotFound', what: 'transit gateway ID' }),
  DescribeTransitGatewayAttachments: none('transitGatewayAttachments', { param: 'TransitGatewayAttachmentIds', code: 'InvalidTransitGatewayAttachmentID.NotFound', what: 'transit gateway attachment ID' }),
  DescribeTransitGatewayVpcAttachments: none('transitGatewayVpcAttachments', { param: 'TransitGatewayAttachmentIds', code: 'InvalidTransitGatewayAttachmentID.NotFound', what: 'transit gateway attachment ID' }),
  // No IPv6 here, so no egress-only internet gateways (AWS's code for an unknown one is InvalidGatewayID.NotFound).
  DescribeEgressOnlyInternetGateways: none('egressOnlyInternetGatewaySet', { param: 'EgressOnlyInternetGatewayId', code: 'InvalidGatewayID.NotFound', what: 'gateway ID' }),
  // No VPC peering.
  DescribeVpcPeeringConnections: none('vpcPeeringConnectionSet', { param: 'VpcPeeringConnectionId', code: 'InvalidVpcPeeringConnectionID.NotFound', what: 'vpcPeeringConnection ID' }),
  // No Wavelength zones, so no carrier gateways.
  DescribeCarrierGateways: none('carrierGatewaySet', { param: 'CarrierGatewayId', code: 'InvalidCarrierGatewayID.NotFound', what: 'carrier gateway ID' }),
  // No spot market: no spot instance or fleet requests.
  DescribeSpotInstanceRequests: none('spotInstanceRequestSet', { param: 'SpotInstanceRequestId', code: 'InvalidSpotInstanceRequestID.NotFound', what: 'spot instance request ID' }),
  DescribeSpotFleetRequests: none('spotFleetRequestConfigSet', { param: 'SpotFleetRequestId', code: 'InvalidSpotFleetRequestId.NotFound', what: 'spot fleet request ID' }),
  // No placement groups (a name or an id asked for is InvalidPlacementGroup.Unknown).
  DescribePlacementGroups: {
    handler: (ctx) => {
      ctx.q.filters();
      noneOf(ctx, 'GroupName', 'InvalidPlacementGroup.Unknown', 'Placement Group');
      noneOf(ctx, 'GroupId', 'InvalidPlacementGroup.Unknown', 'Placement Group');
      return { placementGroupSet: [] };
    },
  },
  // No flow logs; AWS answers ids it does not know with an empty set.
  DescribeFlowLogs: none('flowLogSet'),
  // No capacity reservations or dedicated hosts.
  DescribeCapacityReservations: none('capacityReservationSet', { param: 'CapacityReservationId', code: 'InvalidCapacityReservationId.NotFound', what: 'capacity reservation ID' }),
  DescribeHosts: none('hostSet', { param: 'HostId', code: 'InvalidHostID.NotFound', what: 'host ID' }),
};
