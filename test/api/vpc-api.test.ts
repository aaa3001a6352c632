/** The VPC API over a fake host: VPCs, subnets and security groups, their errors and dependencies. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, DeleteSecurityGroupCommand, DeleteSubnetCommand,
  DeleteVpcCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, RunInstancesCommand,
  TerminateInstancesCommand, DescribeInstancesCommand,
} from '@aws-sdk/client-ec2';
import { startApi, until, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return (e as { Code?: string }).Code ?? (e as Error).name; }
  return 'no error';
}

describe('VPC API', () => {
  it('creates a VPC with its own default group, subnets inside it, and refuses bad or overlapping ranges', async () => {
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.1.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'v1' }] }] }))).Vpc!;
    expect(vpc).toMatchObject({ CidrBlock: '10.1.0.0/16', IsDefault: false, State: 'available', Tags: [{ Key: 'Name', Value: 'v1' }] });
    const groups = await api.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }));
    expect(groups.SecurityGroups?.map((g) => g.GroupName)).toEqual(['default']);
    const sub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.1.1.0/24' }))).Subnet!;
    expect(sub).toMatchObject({ VpcId: vpc.VpcId, CidrBlock: '10.1.1.0/24', AvailabilityZone: 'us-east-1a', DefaultForAz: false, AvailableIpAddressCount: 251 });
    expect(await code(api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.1.1.128/25' })))).toBe('InvalidSubnet.Conflict');
    expect(await code(api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.2.0.0/24' })))).toBe('InvalidSubnet.Range');
    expect(await code(api.ec2.send(new CreateSubnetCommand({ VpcId: 'vpc-0123456789abcdef0', CidrBlock: '10.1.2.0/24' })))).toBe('InvalidVpcID.NotFound');
    expect(await code(api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/8' })))).toBe('InvalidVpc.Range');
    expect(await code(api.ec2.send(new CreateVpcCommand({ CidrBlock: 'banana' })))).toBe('InvalidParameterValue');
    // Overlapping CIDRs in different VPCs (and the default VPC's range) are fine.
    const again = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '172.31.0.0/16' }))).Vpc!;
    await api.ec2.send(new CreateSubnetCommand({ VpcId: again.VpcId, CidrBlock: '172.31.0.0/20' }));
    const vpcs = await api.ec2.send(new DescribeVpcsCommand({}));
    expect(vpcs.Vpcs?.length).toBe(3);
  });

  it('launches into a subnet of its own, and refuses to delete what is in use', async () => {
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' }))).Vpc!;
    const sub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.9.0.0/24' }))).Subnet!;
    const sg = await api.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web', VpcId: vpc.VpcId }));
    expect(await code(api.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web', VpcId: vpc.VpcId })))).toBe('InvalidGroup.Duplicate');
    const run = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SubnetId: sub.SubnetId, SecurityGroupIds: [sg.GroupId!] }));
    const inst = run.Instances![0]!;
    expect(inst).toMatchObject({ SubnetId: sub.SubnetId, VpcId: vpc.VpcId, PrivateIpAddress: '10.9.0.4' });
    expect(inst.SecurityGroups).toEqual([{ GroupId: sg.GroupId, GroupName: 'web' }]);
    const { DescribeNetworkInterfacesCommand } = await import('@aws-sdk/client-ec2');
    const enis = await api.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst.InstanceId!] }] }));
    expect(enis.NetworkInterfaces).toHaveLength(1);
    expect(enis.NetworkInterfaces![0]).toMatchObject({
      NetworkInterfaceId: inst.NetworkInterfaces![0]!.NetworkInterfaceId, SubnetId: sub.SubnetId, VpcId: vpc.VpcId, PrivateIpAddress: '10.9.0.4',
      MacAddress: inst.NetworkInterfaces![0]!.MacAddress, Status: 'in-use', Groups: [{ GroupId: sg.GroupId, GroupName: 'web' }],
      Attachment: { InstanceId: inst.InstanceId, DeviceIndex: 0, Status: 'attached' },
    });
    expect(await code(api.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0123456789abcdef0'] })))).toBe('InvalidNetworkInterfaceID.NotFound');
    await until(() => api.network.attached.get(inst.InstanceId!));
    expect(api.network.attached.get(inst.InstanceId!)).toMatchObject({ vpcId: vpc.VpcId, ip: '10.9.0.4', prefixLength: 24, gateway: '10.9.0.1' });
    await until(() => api.dns.records.get(vpc.VpcId!)?.length);
    expect(api.dns.records.get(vpc.VpcId!)).toEqual([{ ip: '10.9.0.4', mac: inst.NetworkInterfaces![0]!.MacAddress, names: ['ip-10-9-0-4'] }]);
    expect(await code(api.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId })))).toBe('DependencyViolation');
    expect(await code(api.ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg.GroupId })))).toBe('DependencyViolation');
    expect(await code(api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })))).toBe('DependencyViolation');
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await until(async () => (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.InstanceId!] }))).Reservations![0]!.Instances![0]!.State?.Name === 'terminated');
    expect(api.network.attached.has(inst.InstanceId!)).toBe(false);
    await until(() => api.dns.records.get(vpc.VpcId!)?.length === 0);
    await api.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    expect(await code(api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })))).toBe('DependencyViolation');
    await api.ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg.GroupId }));
    await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    expect(await code(api.ec2.send(new DescribeVpcsCommand({ VpcIds: [vpc.VpcId!] })))).toBe('InvalidVpcID.NotFound');
    expect(await code(api.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [sub.SubnetId!] })))).toBe('InvalidSubnetID.NotFound');
    expect(api.network.vpcs.has(vpc.VpcId!)).toBe(false);
    expect(api.dns.records.has(vpc.VpcId!)).toBe(false);
  });

  it('keeps accounts apart: a VPC of one account is not found by another', async () => {
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.5.0.0/16' }))).Vpc!;
    expect(await code(api.ec2Other.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.5.0.0/24' })))).toBe('InvalidVpcID.NotFound');
    expect(await code(api.ec2Other.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })))).toBe('InvalidVpcID.NotFound');
    expect(await code(api.ec2.send(new DeleteSecurityGroupCommand({ GroupName: 'default' })))).toBe('CannotDelete');
    // Groups' names, kept once read, are given to their own account only: asked first by another, and after.
    const sg = await api.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'mine', Description: 'mine', VpcId: vpc.VpcId }));
    expect([...await api.cloud.network.groupNames.of('222222222222', [sg.GroupId!])]).toEqual([]);
    expect([...await api.cloud.network.groupNames.of('111111111111', [sg.GroupId!, sg.GroupId!])]).toEqual([[sg.GroupId, 'mine']]);
    expect([...await api.cloud.network.groupNames.of('222222222222', [sg.GroupId!])]).toEqual([]);
  });
});

describe('security group rules', () => {
  it('authorizes, describes, refuses duplicates, revokes, and hands the host each instance its flows', async () => {
    const { AuthorizeSecurityGroupIngressCommand, RevokeSecurityGroupIngressCommand, DescribeSecurityGroupRulesCommand } = await import('@aws-sdk/client-ec2');
    const sg = await api.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'ssh', Description: 'ssh' }));
    const groups = await api.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [sg.GroupId!] }));
    expect(groups.SecurityGroups![0]!.IpPermissions).toEqual([]);
    expect(groups.SecurityGroups![0]!.IpPermissionsEgress).toMatchObject([{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }]);
    const perm = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'office' }] };
    const auth = await api.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg.GroupId, IpPermissions: [perm] }));
    expect(auth.SecurityGroupRules?.[0]).toMatchObject({ GroupId: sg.GroupId, IsEgress: false, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '10.0.0.0/8', Description: 'office' });
    expect(await code(api.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg.GroupId, IpPermissions: [perm] })))).toBe('InvalidPermission.Duplicate');
    expect(await code(api.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg.GroupId, IpPermissions: [{ ...perm, FromPort: 30, ToPort: 20 }] })))).toBe('InvalidParameterValue');
    const described = await api.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [sg.GroupId!] }));
    expect(described.SecurityGroups![0]!.IpPermissions).toMatchObject([{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }]);
    const rules = await api.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [sg.GroupId!] }] }));
    expect(rules.SecurityGroupRules?.length).toBe(2);

    const run = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SecurityGroupIds: [sg.GroupId!] }));
    const id = run.Instances![0]!.InstanceId!;
    const vpcId = run.Instances![0]!.VpcId!;
    const ports = () => api.network.firewalls.get(vpcId)?.find((p) => p.instanceId === id);
    await until(() => ports());
    expect(ports()!.ingress).toEqual([{ protocol: 'tcp', fromPort: 22, toPort: 22, cidrs: ['10.0.0.0/8'] }]);
    expect(ports()!.egress).toEqual([{ protocol: '-1', cidrs: ['0.0.0.0/0'] }]);
    await api.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: sg.GroupId, IpPermissions: [perm] }));
    expect(ports()!.ingress).toEqual([]);
    expect(await code(api.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: sg.GroupId, IpPermissions: [perm] })))).toBe('InvalidPermission.NotFound');
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });
});

describe('internet gateways', () => {
  it('the default VPC has one; others get one attached, which switches NAT on the host, and refuse to go while attached', async () => {
    const { CreateInternetGatewayCommand, AttachInternetGatewayCommand, DetachInternetGatewayCommand, DeleteInternetGatewayCommand, DescribeInternetGatewaysCommand } = await import('@aws-sdk/client-ec2');
    const def = (await api.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
    const onDefault = await api.ec2.send(new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'attachment.vpc-id', Values: [def.VpcId!] }] }));
    expect(onDefault.InternetGateways).toHaveLength(1);
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!;
    const igw = (await api.ec2.send(new CreateInternetGatewayCommand({ TagSpecifications: [{ ResourceType: 'internet-gateway', Tags: [{ Key: 'Name', Value: 'gw' }] }] }))).InternetGateway!;
    expect(igw).toMatchObject({ Attachments: [], Tags: [{ Key: 'Name', Value: 'gw' }] });
    await api.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    expect(api.network.internet.get(vpc.VpcId!)).toBe(true);
    expect(await code(api.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId })))).toBe('Resource.AlreadyAssociated');
    expect(await code(api.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId })))).toBe('DependencyViolation');
    expect(await code(api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })))).toBe('DependencyViolation');
    const described = await api.ec2.send(new DescribeInternetGatewaysCommand({ InternetGatewayIds: [igw.InternetGatewayId!] }));
    expect(described.InternetGateways![0]!.Attachments).toEqual([{ VpcId: vpc.VpcId, State: 'available' }]);
    await api.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    expect(api.network.internet.get(vpc.VpcId!)).toBe(false);
    expect(await code(api.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId })))).toBe('Gateway.NotAttached');
    await api.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId }));
    await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  });
});

describe('VPC attributes, route tables and network ACLs (what Terraform reads back)', () => {
  it('keeps DNS attributes per VPC, one attribute per call, as AWS does', async () => {
    const { ModifyVpcAttributeCommand, DescribeVpcAttributeCommand } = await import('@aws-sdk/client-ec2');
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }))).Vpc!;
    const attr = async (Attribute: 'enableDnsHostnames' | 'enableDnsSupport' | 'enableNetworkAddressUsageMetrics') =>
      api.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpc.VpcId, Attribute }));
    expect((await attr('enableDnsSupport')).EnableDnsSupport?.Value).toBe(true);
    expect((await attr('enableDnsHostnames')).EnableDnsHostnames?.Value).toBe(false);
    expect((await attr('enableNetworkAddressUsageMetrics')).EnableNetworkAddressUsageMetrics?.Value).toBe(false);
    await api.ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpc.VpcId, EnableDnsHostnames: { Value: true } }));
    expect((await attr('enableDnsHostnames')).EnableDnsHostnames?.Value).toBe(true);
    expect(await code(api.ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpc.VpcId, EnableDnsHostnames: { Value: false }, EnableDnsSupport: { Value: false } })))).toBe('InvalidParameterCombination');
    expect(await code(api.ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpc.VpcId, EnableDnsSupport: { Value: false } })))).toBe('no error');
    // Hostnames need DNS support.
    expect(await code(api.ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpc.VpcId, EnableDnsHostnames: { Value: true } })))).toBe('InvalidParameterCombination');
    expect(await code(api.ec2.send(new DescribeVpcAttributeCommand({ VpcId: 'vpc-0123456789abcdef0', Attribute: 'enableDnsSupport' })))).toBe('InvalidVpcID.NotFound');
    const def = (await api.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
    expect((await api.ec2.send(new DescribeVpcAttributeCommand({ VpcId: def.VpcId, Attribute: 'enableDnsHostnames' }))).EnableDnsHostnames?.Value).toBe(true);
    await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  });

  it('shows each VPC main route table as pcloud routes it: local, plus the internet gateway while one is attached', async () => {
    const { CreateInternetGatewayCommand, AttachInternetGatewayCommand, DetachInternetGatewayCommand, DeleteInternetGatewayCommand, DescribeRouteTablesCommand, DescribeNetworkAclsCommand } = await import('@aws-sdk/client-ec2');
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.31.0.0/16' }))).Vpc!;
    const sub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.31.1.0/24' }))).Subnet!;
    const main = async () => (await api.ec2.send(new DescribeRouteTablesCommand({
      Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'association.main', Values: ['true'] }],
    }))).RouteTables!;
    const [table] = await main();
    expect(table).toMatchObject({ VpcId: vpc.VpcId, Routes: [{ DestinationCidrBlock: '10.31.0.0/16', GatewayId: 'local', State: 'active' }], Associations: [{ Main: true }] });
    const igw = (await api.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!;
    await api.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    expect((await main())[0]!.Routes).toEqual([
      expect.objectContaining({ DestinationCidrBlock: '10.31.0.0/16', GatewayId: 'local' }),
      expect.objectContaining({ DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw.InternetGatewayId }),
    ]);
    expect(await code(api.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: ['rtb-0123456789abcdef0'] })))).toBe('InvalidRouteTableID.NotFound');
    const acls = (await api.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'default', Values: ['true'] }] }))).NetworkAcls!;
    expect(acls).toHaveLength(1);
    expect(acls[0]).toMatchObject({ IsDefault: true, VpcId: vpc.VpcId, Associations: [{ SubnetId: sub.SubnetId }] });
    expect(acls[0]!.Entries).toContainEqual(expect.objectContaining({ RuleNumber: 100, RuleAction: 'allow', Egress: false, CidrBlock: '0.0.0.0/0', Protocol: '-1' }));
    await api.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    expect((await main())[0]!.Routes).toHaveLength(1);
    await api.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId }));
    await api.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  });

  it('takes subnet attributes it can honour and refuses the ones it cannot', async () => {
    const { ModifySubnetAttributeCommand } = await import('@aws-sdk/client-ec2');
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.32.0.0/16' }))).Vpc!;
    const sub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.32.1.0/24' }))).Subnet!;
    expect(sub.MapPublicIpOnLaunch).toBe(false);
    await api.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: sub.SubnetId, MapPublicIpOnLaunch: { Value: true } }));
    const again = (await api.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [sub.SubnetId!] }))).Subnets![0]!;
    expect(again.MapPublicIpOnLaunch).toBe(true);
    expect(await code(api.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: sub.SubnetId, AssignIpv6AddressOnCreation: { Value: true } })))).toBe('Unsupported');
    expect(await code(api.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: 'subnet-0123456789abcdef0', MapPublicIpOnLaunch: { Value: true } })))).toBe('InvalidSubnetID.NotFound');
    await api.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  });
});

describe('a VPC deleted right after its last instance terminated', () => {
  it('stays gone: the instance left its DNS before it showed terminated, and no sync brings the router back', async () => {
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.44.0.0/16' }))).Vpc!;
    const sub = (await api.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.44.1.0/24' }))).Subnet!;
    const id = (await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SubnetId: sub.SubnetId }))).Instances![0]!.InstanceId!;
    const state = async () => (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.State!.Name;
    await until(async () => (await state()) === 'running');
    expect(api.dns.records.get(vpc.VpcId!)?.map((r) => r.ip)).toHaveLength(1);
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state()) === 'terminated');
    // What a client sees as terminated has left the VPC's names already.
    expect(api.dns.records.get(vpc.VpcId!)).toEqual([]);
    // As Terraform's destroy does: the subnet and the VPC at once.
    await api.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    await api.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    await api.cloud.instances.idle();
    expect(api.dns.records.has(vpc.VpcId!)).toBe(false);
    expect(api.network.vpcs.has(vpc.VpcId!)).toBe(false);
  });
});
