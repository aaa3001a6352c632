/**
 * Elastic IPs, route tables and NAT gateways through the EC2 API over a fake host: what the API answers, and what the
 * VPC plane hands the host (the router's edge: 1:1 NAT pairs, the route tables as policy routing, NAT gateways' SNAT).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AllocateAddressCommand, AssociateAddressCommand, AssociateRouteTableCommand, AttachInternetGatewayCommand, CreateInternetGatewayCommand,
  CreateNatGatewayCommand, CreateRouteCommand, CreateRouteTableCommand, CreateSubnetCommand, CreateVpcCommand, DeleteNatGatewayCommand,
  DeleteRouteCommand, DeleteRouteTableCommand, DeleteVpcCommand, DescribeAddressesCommand, DescribeInstancesCommand, DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand, DisassociateAddressCommand, DisassociateRouteTableCommand, ReleaseAddressCommand, ReplaceRouteCommand,
  ReplaceRouteTableAssociationCommand, RunInstancesCommand, TerminateInstancesCommand, DeleteSubnetCommand, DetachInternetGatewayCommand,
  DeleteInternetGatewayCommand,
} from '@aws-sdk/client-ec2';
import { startApi, until, type TestApi } from '../support/api.js';
import type { RoutedEdge } from '../../src/host/routing.js';

// An external network for public addresses (the fake host makes nothing of it).
process.env.PCLOUD_EXTERNAL_PARENT = 'ptfake';
process.env.PCLOUD_EXTERNAL_CIDR = '198.51.100.0/24';
process.env.PCLOUD_EXTERNAL_POOL = '198.51.100.10-198.51.100.30';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return (e as { Code?: string }).Code ?? (e as Error).name; }
  return 'no error';
}

const edge = (vpcId: string): RoutedEdge | undefined => api.network.edges.get(vpcId);

async function launch(subnetId?: string) {
  const inst = (await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SubnetId: subnetId }))).Instances![0]!;
  await until(() => api.network.attached.get(inst.InstanceId!));
  return inst;
}

async function describeInstance(id: string) {
  return (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
}

describe('Elastic IPs', () => {
  it('allocates from the pool, associates with 1:1 NAT on the router, and shows as the instance\'s public IP', async () => {
    const eip = await api.ec2.send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: 'Name', Value: 'web' }] }] }));
    expect(eip.PublicIp).toMatch(/^198\.51\.100\.(1\d|2\d|30)$/);
    expect(eip.AllocationId).toMatch(/^eipalloc-[0-9a-f]{17}$/);
    expect(eip.Domain).toBe('vpc');
    const inst = await launch();
    const assoc = await api.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: inst.InstanceId }));
    expect(assoc.AssociationId).toMatch(/^eipassoc-/);
    const [a] = (await api.ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }))).Addresses!;
    expect(a).toMatchObject({
      PublicIp: eip.PublicIp, AllocationId: eip.AllocationId, AssociationId: assoc.AssociationId, Domain: 'vpc', InstanceId: inst.InstanceId,
      NetworkInterfaceId: inst.NetworkInterfaces![0]!.NetworkInterfaceId, PrivateIpAddress: inst.PrivateIpAddress, Tags: [{ Key: 'Name', Value: 'web' }],
    });
    const seen = await describeInstance(inst.InstanceId!);
    expect(seen.PublicIpAddress).toBe(eip.PublicIp);
    expect(seen.NetworkInterfaces![0]!.Association?.PublicIp).toBe(eip.PublicIp);
    // The router NATs it 1:1 to the instance, and routes the instance's subnet by its (main) table.
    const e = edge(inst.VpcId!)!;
    expect(e.internet).toBe(true);
    expect(e.external?.maps).toContainEqual({ publicIp: eip.PublicIp, privateIp: inst.PrivateIpAddress });
    const table = e.routing!.tables.find((t) => t.publicSources.includes(inst.PrivateIpAddress!));
    expect(table?.routes).toEqual([{ destination: '0.0.0.0/0', via: 'internet' }]);

    // Filters.
    const byFilter = async (Name: string, Values: string[]) => (await api.ec2.send(new DescribeAddressesCommand({ Filters: [{ Name, Values }] }))).Addresses!.map((x) => x.AllocationId);
    expect(await byFilter('instance-id', [inst.InstanceId!])).toEqual([eip.AllocationId]);
    expect(await byFilter('association-id', [assoc.AssociationId!])).toEqual([eip.AllocationId]);
    expect(await byFilter('public-ip', [eip.PublicIp!])).toEqual([eip.AllocationId]);
    expect(await byFilter('domain', ['vpc'])).toContain(eip.AllocationId);
    expect(await byFilter('tag:Name', ['web'])).toEqual([eip.AllocationId]);
    expect(await byFilter('instance-id', ['i-0123456789abcdef0'])).toEqual([]);

    // Another instance: only with AllowReassociation; releasing while associated is refused.
    const other = await launch();
    expect(await code(api.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: other.InstanceId })))).toBe('Resource.AlreadyAssociated');
    expect(await code(api.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId })))).toBe('InvalidIPAddress.InUse');
    const moved = await api.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, NetworkInterfaceId: other.NetworkInterfaces![0]!.NetworkInterfaceId, AllowReassociation: true }));
    expect((await describeInstance(inst.InstanceId!)).PublicIpAddress).toBeUndefined();
    expect((await describeInstance(other.InstanceId!)).PublicIpAddress).toBe(eip.PublicIp);
    // Both in one page (their addresses read once for the page): each shows its own.
    const page = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.InstanceId!, other.InstanceId!] }))).Reservations!.flatMap((r) => r.Instances!);
    expect(page.map((i) => [i.InstanceId, i.PublicIpAddress, i.NetworkInterfaces![0]!.Association?.PublicIp])).toEqual([
      [inst.InstanceId, undefined, undefined], [other.InstanceId, eip.PublicIp, eip.PublicIp],
    ]);
    expect(edge(inst.VpcId!)!.external?.maps).toEqual([{ publicIp: eip.PublicIp, privateIp: other.PrivateIpAddress }]);
    expect(await code(api.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: other.InstanceId, PrivateIpAddress: '172.31.99.99' })))).toBe('InvalidParameterValue');
    expect(await code(api.ec2.send(new AssociateAddressCommand({ AllocationId: 'eipalloc-0123456789abcdef0', InstanceId: other.InstanceId })))).toBe('InvalidAllocationID.NotFound');
    expect(await code(api.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: 'i-0123456789abcdef0' })))).toBe('InvalidInstanceID.NotFound');
    // Another account sees none of it.
    expect(await code(api.ec2Other.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId })))).toBe('InvalidAllocationID.NotFound');

    await api.ec2.send(new DisassociateAddressCommand({ AssociationId: moved.AssociationId }));
    expect(edge(inst.VpcId!)!.external?.maps).toEqual([]);
    expect(await code(api.ec2.send(new DisassociateAddressCommand({ AssociationId: moved.AssociationId })))).toBe('InvalidAssociationID.NotFound');

    // Terminating the instance ends the association.
    await api.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: other.InstanceId }));
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!, other.InstanceId!] }));
    await until(async () => (await describeInstance(other.InstanceId!)).State?.Name === 'terminated');
    const after = (await api.ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }))).Addresses![0]!;
    expect(after.AssociationId).toBeUndefined();
    expect(after.InstanceId).toBeUndefined();
    await api.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
    expect(await code(api.ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] })))).toBe('InvalidAllocationID.NotFound');
  });

  it('holds at most five per account (AddressLimitExceeded), and needs the instance\'s VPC to have an internet gateway', async () => {
    const held = (await api.ec2.send(new DescribeAddressesCommand({}))).Addresses!.length;
    const ids: string[] = [];
    for (let i = held; i < 5; i++) ids.push((await api.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))).AllocationId!);
    expect(await code(api.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' })))).toBe('AddressLimitExceeded');
    // Another account has its own quota, from the same pool: no address twice.
    const theirs = await api.ec2Other.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const mine = (await api.ec2.send(new DescribeAddressesCommand({}))).Addresses!.map((a) => a.PublicIp);
    expect(mine).not.toContain(theirs.PublicIp);
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.41.0.0/16' }))).Vpc!;
    const sub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.41.1.0/24' }))).Subnet!;
    const inst = await launch(sub.SubnetId);
    expect(await code(api.ec2.send(new AssociateAddressCommand({ AllocationId: ids[0] ?? theirs.AllocationId, InstanceId: inst.InstanceId })))).toBe('Gateway.NotAttached');
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    for (const id of ids) await api.ec2.send(new ReleaseAddressCommand({ AllocationId: id }));
    await api.ec2Other.send(new ReleaseAddressCommand({ AllocationId: theirs.AllocationId }));
    expect(await code(api.ec2.send(new AllocateAddressCommand({ Domain: 'bogus' as 'vpc' })))).toBe('InvalidParameterValue');
  });

  it('makes nothing when a tag given at creation is refused (an address, a route table, a NAT gateway)', async () => {
    const bad = (ResourceType: 'elastic-ip' | 'route-table' | 'natgateway') => [{ ResourceType, Tags: [{ Key: 'aws:reserved', Value: 'x' }] }];
    const before = (await api.ec2.send(new DescribeAddressesCommand({}))).Addresses!.length;
    expect(await code(api.ec2.send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: bad('elastic-ip') })))).toBe('InvalidParameterValue');
    expect((await api.ec2.send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(before);
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }))).Vpc!;
    expect(await code(api.ec2.send(new CreateRouteTableCommand({ VpcId: vpc.VpcId, TagSpecifications: bad('route-table') })))).toBe('InvalidParameterValue');
    const tables = await api.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }));
    expect(tables.RouteTables).toHaveLength(1);
    const sub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.42.1.0/24' }))).Subnet!;
    expect(await code(api.ec2.send(new CreateNatGatewayCommand({ SubnetId: sub.SubnetId, ConnectivityType: 'private', TagSpecifications: bad('natgateway') })))).toBe('InvalidParameterValue');
    expect((await api.ec2.send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).NatGateways).toEqual([]);
    await api.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  });
});

describe('route tables', () => {
  it('keeps a main table per VPC, user tables with routes, subnet associations, and hands the router one table per route table', async () => {
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }))).Vpc!;
    const pub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.42.1.0/24' }))).Subnet!;
    const priv = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.42.2.0/24' }))).Subnet!;
    const tables = async (Filters: { Name: string; Values: string[] }[]) => (await api.ec2.send(new DescribeRouteTablesCommand({ Filters }))).RouteTables!;
    const [main] = await tables([{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'association.main', Values: ['true'] }]);
    expect(main).toMatchObject({
      RouteTableId: `rtb-${vpc.VpcId!.slice(4)}`, VpcId: vpc.VpcId,
      Routes: [{ DestinationCidrBlock: '10.42.0.0/16', GatewayId: 'local', State: 'active', Origin: 'CreateRouteTable' }],
      Associations: [{ Main: true, RouteTableId: `rtb-${vpc.VpcId!.slice(4)}`, AssociationState: { State: 'associated' } }],
    });
    const igw = (await api.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!;
    const rt = (await api.ec2.send(new CreateRouteTableCommand({ VpcId: vpc.VpcId, TagSpecifications: [{ ResourceType: 'route-table', Tags: [{ Key: 'Name', Value: 'public' }] }] }))).RouteTable!;
    expect(rt).toMatchObject({ VpcId: vpc.VpcId, Associations: [], Routes: [{ DestinationCidrBlock: '10.42.0.0/16', GatewayId: 'local' }], Tags: [{ Key: 'Name', Value: 'public' }] });
    // A gateway not attached to this VPC cannot be a target; nor can a destination inside the VPC.
    expect(await code(api.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw.InternetGatewayId })))).toBe('InvalidParameterValue');
    await api.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    expect(await code(api.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '10.42.3.0/24', GatewayId: igw.InternetGatewayId })))).toBe('InvalidParameterValue');
    expect(await code(api.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0' })))).toBe('MissingParameter');
    expect(await code(api.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/99', GatewayId: igw.InternetGatewayId })))).toBe('InvalidParameterValue');
    await api.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw.InternetGatewayId }));
    expect(await code(api.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw.InternetGatewayId })))).toBe('RouteAlreadyExists');
    // Attaching the gateway gave the main table its default route (pcloud's step); deleting it makes the main table private.
    const [mainNow] = await tables([{ Name: 'route-table-id', Values: [main!.RouteTableId!] }]);
    expect(mainNow!.Routes).toContainEqual(expect.objectContaining({ DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw.InternetGatewayId, State: 'active', Origin: 'CreateRoute' }));
    await api.ec2.send(new DeleteRouteCommand({ RouteTableId: main!.RouteTableId, DestinationCidrBlock: '0.0.0.0/0' }));
    expect(await code(api.ec2.send(new DeleteRouteCommand({ RouteTableId: main!.RouteTableId, DestinationCidrBlock: '0.0.0.0/0' })))).toBe('InvalidRoute.NotFound');

    const assoc = await api.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt.RouteTableId, SubnetId: pub.SubnetId }));
    expect(assoc.AssociationId).toMatch(/^rtbassoc-/);
    expect(assoc.AssociationState?.State).toBe('associated');
    expect(await code(api.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt.RouteTableId, SubnetId: pub.SubnetId })))).toBe('Resource.AlreadyAssociated');
    expect((await tables([{ Name: 'association.subnet-id', Values: [pub.SubnetId!] }])).map((t) => t.RouteTableId)).toEqual([rt.RouteTableId]);
    expect((await tables([{ Name: 'route.gateway-id', Values: [igw.InternetGatewayId!] }])).map((t) => t.RouteTableId)).toEqual([rt.RouteTableId]);
    expect(await code(api.ec2.send(new DeleteRouteTableCommand({ RouteTableId: rt.RouteTableId })))).toBe('DependencyViolation');
    expect(await code(api.ec2.send(new DeleteRouteTableCommand({ RouteTableId: main!.RouteTableId })))).toBe('DependencyViolation');

    // On the host: the public subnet's table routes out, the private subnet (main table) has no route out at all.
    const a = await launch(pub.SubnetId);
    const b = await launch(priv.SubnetId);
    await until(() => edge(vpc.VpcId!)?.routing?.tables.length === 2);
    const routing = edge(vpc.VpcId!)!.routing!;
    expect(routing.vpcCidr).toBe('10.42.0.0/16');
    expect(routing.tables).toContainEqual({ sources: ['10.42.1.0/24'], publicSources: [], routes: [{ destination: '0.0.0.0/0', via: 'internet' }] });
    expect(routing.tables).toContainEqual({ sources: ['10.42.2.0/24'], publicSources: [], routes: [] });

    // A route through an instance (a NAT instance): the router sends it to that instance's port.
    const privTable = (await api.ec2.send(new CreateRouteTableCommand({ VpcId: vpc.VpcId }))).RouteTable!;
    const privAssoc = await api.ec2.send(new AssociateRouteTableCommand({ RouteTableId: privTable.RouteTableId, SubnetId: priv.SubnetId }));
    await api.ec2.send(new CreateRouteCommand({ RouteTableId: privTable.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', InstanceId: a.InstanceId }));
    const [viaInstance] = await tables([{ Name: 'route-table-id', Values: [privTable.RouteTableId!] }]);
    expect(viaInstance!.Routes![1]).toMatchObject({ DestinationCidrBlock: '0.0.0.0/0', InstanceId: a.InstanceId, NetworkInterfaceId: a.NetworkInterfaces![0]!.NetworkInterfaceId, State: 'active' });
    const hop = edge(vpc.VpcId!)!.routing!.tables.find((t) => t.sources.includes('10.42.2.0/24'))!;
    expect(hop.routes).toEqual([{ destination: '0.0.0.0/0', via: 'instance', ip: a.PrivateIpAddress, port: `v${a.InstanceId!.slice(2, 16)}` }]);
    await api.ec2.send(new ReplaceRouteCommand({ RouteTableId: privTable.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', NetworkInterfaceId: b.NetworkInterfaces![0]!.NetworkInterfaceId }));
    const [replaced] = await tables([{ Name: 'route-table-id', Values: [privTable.RouteTableId!] }]);
    expect(replaced!.Routes![1]).toMatchObject({ InstanceId: b.InstanceId, NetworkInterfaceId: b.NetworkInterfaces![0]!.NetworkInterfaceId });
    expect(await code(api.ec2.send(new ReplaceRouteCommand({ RouteTableId: privTable.RouteTableId, DestinationCidrBlock: '10.99.0.0/16', GatewayId: igw.InternetGatewayId })))).toBe('InvalidRoute.NotFound');

    // Moving the subnet back and forth between tables; the main association cannot be removed.
    const swapped = await api.ec2.send(new ReplaceRouteTableAssociationCommand({ AssociationId: privAssoc.AssociationId, RouteTableId: rt.RouteTableId }));
    expect(swapped.NewAssociationId).toMatch(/^rtbassoc-/);
    expect((await tables([{ Name: 'association.subnet-id', Values: [priv.SubnetId!] }])).map((t) => t.RouteTableId)).toEqual([rt.RouteTableId]);
    await api.ec2.send(new DisassociateRouteTableCommand({ AssociationId: swapped.NewAssociationId }));
    expect(await code(api.ec2.send(new DisassociateRouteTableCommand({ AssociationId: main!.Associations![0]!.RouteTableAssociationId })))).toBe('InvalidParameterValue');
    expect(await code(api.ec2.send(new DisassociateRouteTableCommand({ AssociationId: 'rtbassoc-0123456789abcdef0' })))).toBe('InvalidAssociationID.NotFound');

    // A stopped or gone target is a blackhole.
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a.InstanceId!, b.InstanceId!] }));
    await until(async () => (await describeInstance(b.InstanceId!)).State?.Name === 'terminated');
    const [dead] = await tables([{ Name: 'route-table-id', Values: [privTable.RouteTableId!] }]);
    expect(dead!.Routes![1]!.State).toBe('blackhole');

    // DeleteVpc waits for the user's tables to go.
    await api.ec2.send(new DisassociateRouteTableCommand({ AssociationId: assoc.AssociationId }));
    await api.ec2.send(new DeleteSubnetCommand({ SubnetId: pub.SubnetId }));
    await api.ec2.send(new DeleteSubnetCommand({ SubnetId: priv.SubnetId }));
    await api.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    await api.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId }));
    expect(await code(api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })))).toBe('DependencyViolation');
    await api.ec2.send(new DeleteRouteTableCommand({ RouteTableId: rt.RouteTableId }));
    await api.ec2.send(new DeleteRouteTableCommand({ RouteTableId: privTable.RouteTableId }));
    await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    expect(await code(api.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [main!.RouteTableId!] })))).toBe('InvalidRouteTableID.NotFound');
  });
});

describe('NAT gateways', () => {
  it('takes an Elastic IP, becomes available, carries the private subnets routed to it, and goes', async () => {
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.43.0.0/16' }))).Vpc!;
    const pub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.43.1.0/24' }))).Subnet!;
    const priv = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.43.2.0/24' }))).Subnet!;
    const igw = (await api.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!;
    await api.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    const eip = await api.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    expect(await code(api.ec2.send(new CreateNatGatewayCommand({ SubnetId: pub.SubnetId })))).toBe('MissingParameter');
    expect(await code(api.ec2.send(new CreateNatGatewayCommand({ SubnetId: 'subnet-0123456789abcdef0', AllocationId: eip.AllocationId })))).toBe('InvalidSubnetID.NotFound');
    const created = (await api.ec2.send(new CreateNatGatewayCommand({ SubnetId: pub.SubnetId, AllocationId: eip.AllocationId, TagSpecifications: [{ ResourceType: 'natgateway', Tags: [{ Key: 'Name', Value: 'nat' }] }] }))).NatGateway!;
    expect(created).toMatchObject({ State: 'pending', SubnetId: pub.SubnetId, VpcId: vpc.VpcId, ConnectivityType: 'public', Tags: [{ Key: 'Name', Value: 'nat' }] });
    expect(created.NatGatewayId).toMatch(/^nat-[0-9a-f]{17}$/);
    const [nat] = (await api.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [created.NatGatewayId!] }))).NatGateways!;
    expect(nat).toMatchObject({ State: 'available', NatGatewayAddresses: [{ AllocationId: eip.AllocationId, PublicIp: eip.PublicIp, PrivateIp: '10.43.1.4', IsPrimary: true }] });
    // The address is the gateway's now: not the user's to associate or release.
    const [held] = (await api.ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }))).Addresses!;
    expect(held).toMatchObject({ NetworkInterfaceId: nat!.NatGatewayAddresses![0]!.NetworkInterfaceId, PrivateIpAddress: '10.43.1.4' });
    expect(await code(api.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId })))).toBe('InvalidIPAddress.InUse');
    expect(await code(api.ec2.send(new CreateNatGatewayCommand({ SubnetId: pub.SubnetId, AllocationId: eip.AllocationId })))).toBe('Resource.AlreadyAssociated');
    // Its private address is taken in its subnet.
    const inst = await launch(pub.SubnetId);
    expect(inst.PrivateIpAddress).toBe('10.43.1.5');

    const rt = (await api.ec2.send(new CreateRouteTableCommand({ VpcId: vpc.VpcId }))).RouteTable!;
    await api.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt.RouteTableId, SubnetId: priv.SubnetId }));
    await api.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat!.NatGatewayId }));
    const filtered = (await api.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'route.nat-gateway-id', Values: [nat!.NatGatewayId!] }] }))).RouteTables!;
    expect(filtered.map((t) => t.RouteTableId)).toEqual([rt.RouteTableId]);
    expect(filtered[0]!.Routes![1]).toMatchObject({ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat!.NatGatewayId, State: 'active' });
    await until(() => edge(vpc.VpcId!)?.routing?.tables.some((t) => t.sources.includes('10.43.2.0/24')));
    expect(edge(vpc.VpcId!)!.routing!.tables.find((t) => t.sources.includes('10.43.2.0/24'))!.routes)
      .toEqual([{ destination: '0.0.0.0/0', via: 'nat', publicIp: eip.PublicIp }]);
    expect(await code(api.ec2.send(new DeleteSubnetCommand({ SubnetId: pub.SubnetId })))).toBe('DependencyViolation');
    const byFilter = (await api.ec2.send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'subnet-id', Values: [pub.SubnetId!] }, { Name: 'state', Values: ['available'] }] }))).NatGateways!;
    expect(byFilter.map((n) => n.NatGatewayId)).toEqual([nat!.NatGatewayId]);

    expect((await api.ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: nat!.NatGatewayId }))).NatGatewayId).toBe(nat!.NatGatewayId);
    const [gone] = (await api.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [nat!.NatGatewayId!] }))).NatGateways!;
    expect(gone!.State).toBe('deleted');
    expect(gone!.DeleteTime).toBeInstanceOf(Date);
    const [blackhole] = (await api.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [rt.RouteTableId!] }))).RouteTables!;
    expect(blackhole!.Routes![1]!.State).toBe('blackhole');
    expect(edge(vpc.VpcId!)!.routing!.tables.find((t) => t.sources.includes('10.43.2.0/24'))!.routes).toEqual([{ destination: '0.0.0.0/0', via: 'blackhole' }]);
    expect(await code(api.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: ['nat-0123456789abcdef0'] })))).toBe('NatGatewayNotFound');
    await api.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
    // A private one takes no address.
    const privNat = (await api.ec2.send(new CreateNatGatewayCommand({ SubnetId: priv.SubnetId, ConnectivityType: 'private' }))).NatGateway!;
    expect(privNat).toMatchObject({ ConnectivityType: 'private', State: 'pending' });
    expect(privNat.NatGatewayAddresses![0]!.PublicIp).toBeUndefined();
    // Routed to, it leads nowhere out (a private NAT reaches only what is privately routed beyond it: nothing here).
    await until(async () => (await api.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [privNat.NatGatewayId!] }))).NatGateways![0]!.State === 'available', 10_000, 20);
    await api.ec2.send(new ReplaceRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: privNat.NatGatewayId }));
    expect(edge(vpc.VpcId!)!.routing!.tables.find((t) => t.sources.includes('10.43.2.0/24'))!.routes).toEqual([{ destination: '0.0.0.0/0', via: 'blackhole' }]);
    await api.ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: privNat.NatGatewayId }));
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
  });
});
