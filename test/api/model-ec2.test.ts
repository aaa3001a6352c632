/**
 * The EC2 model drives the wire (issue 15): requests checked against the operation's input shape before any handler
 * reads them; features this cloud does not offer answered as AWS answers there (ClassicLink, VPC endpoints, …);
 * operations the model has and pcloud does not implement answered InvalidAction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTagsCommand, CreateVpcCommand, DescribeTransitGatewaysCommand, DescribeVpcClassicLinkCommand, DescribeVpcClassicLinkDnsSupportCommand,
  DescribeVpcEndpointsCommand, DescribeVpcsCommand,
} from '@aws-sdk/client-ec2';
import { startApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

const V = 'Version=2016-11-15';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const message = (text: string) => /<Message>([^<]*)<\/Message>/.exec(text)?.[1];

describe('EC2 requests checked against the input shape', () => {
  it('a parameter the operation does not have is UnknownParameter, naming it; nothing is done', async () => {
    const before = (await api.cloud.network.vpcs('111111111111')).length;
    const res = await api.post(`Action=CreateVpc&${V}&CidrBlock=10.9.0.0%2F16&Bogus=1`);
    expect(res.status).toBe(400);
    expect(code(res.text)).toBe('UnknownParameter');
    expect(message(res.text)).toBe('The parameter Bogus is not recognized');
    expect(await api.cloud.network.vpcs('111111111111')).toHaveLength(before);
    // Nested names: a structure's member, a list without its index, an index where a structure was due.
    for (const p of ['Filter.1.Nme=vpc-id', 'VpcId=vpc-1', 'Filter.1=x', 'Filter.0.Name=vpc-id', 'VpcId.1.Sub=x']) {
      const r = await api.post(`Action=DescribeVpcs&${V}&${p}`);
      expect([r.status, code(r.text)], p).toEqual([400, 'UnknownParameter']);
    }
  });

  it('the query names are the model\'s: queryName, else locationName capitalized, else the member name', async () => {
    // DescribeVpcs' VpcIds travels as VpcId.N (locationName), DescribeTransitGateways' as TransitGatewayIds.N (its name).
    expect((await api.post(`Action=DescribeVpcs&${V}&VpcId.1=vpc-00000000000000001`)).text).toContain('InvalidVpcID.NotFound');
    expect(code((await api.post(`Action=DescribeVpcs&${V}&VpcIds.1=vpc-00000000000000001`)).text)).toBe('UnknownParameter');
    expect(code((await api.post(`Action=DescribeTransitGateways&${V}&TransitGatewayIds.1=tgw-1`)).text)).toBe('InvalidTransitGatewayID.NotFound');
    // The protocol's own parameters are in no shape, and pass.
    expect((await api.post(`Action=DescribeVpcs&${V}&DryRun=false`)).status).toBe(200);
  });

  it('a required member missing is MissingParameter; an integer or boolean that does not parse is InvalidParameterValue', async () => {
    const missing = await api.post(`Action=CreateKeyPair&${V}`);
    expect([missing.status, code(missing.text), message(missing.text)]).toEqual([400, 'MissingParameter', 'The request must contain the parameter KeyName']);
    const int = await api.post(`Action=DescribeInstances&${V}&MaxResults=ten`);
    expect([code(int.text), message(int.text)]).toEqual(['InvalidParameterValue', 'Value (ten) for parameter MaxResults is invalid. Expected an integer.']);
    const bool = await api.post(`Action=DescribeVpcs&${V}&DryRun=maybe`);
    expect([code(bool.text), message(bool.text)]).toEqual(['InvalidParameterValue', 'Value (maybe) for parameter DryRun is invalid. Expected a boolean.']);
    // Required members inside a structure given: each Tag.N of CreateTags needs nothing, each Filter.N nothing either;
    // CreateTags itself requires Resources (ResourceId.N) and Tags (Tag.N).
    const tags = await api.post(`Action=CreateTags&${V}&Tag.1.Key=a`);
    expect([code(tags.text), message(tags.text)]).toEqual(['MissingParameter', 'The request must contain the parameter ResourceId']);
  });

  it('an operation the model has and pcloud does not implement is InvalidAction; one the model lacks too', async () => {
    for (const action of ['CreateTransitGateway', 'NoSuchThing']) {
      const r = await api.post(`Action=${action}&${V}`);
      expect([r.status, code(r.text), message(r.text)]).toEqual([400, 'InvalidAction', `The action ${action} is not valid for this web service.`]);
    }
  });
});

describe('features this cloud does not offer, answered as AWS answers there', () => {
  it('DescribeVpcClassicLink: every VPC (or those asked for), ClassicLink disabled, with its tags; an unknown VPC is InvalidVpcID.NotFound', async () => {
    const vpc = (await api.ec2.send(new CreateVpcCommand({ CidrBlock: '10.7.0.0/16' }))).Vpc!.VpcId!;
    await api.ec2.send(new CreateTagsCommand({ Resources: [vpc], Tags: [{ Key: 'Name', Value: 'linked?' }] }));
    const all = (await api.ec2.send(new DescribeVpcsCommand({}))).Vpcs!.map((v) => v.VpcId).sort();
    const links = (await api.ec2.send(new DescribeVpcClassicLinkCommand({}))).Vpcs!;
    expect(links.map((v) => v.VpcId).sort()).toEqual(all);
    expect(links.every((v) => v.ClassicLinkEnabled === false)).toBe(true);
    const one = (await api.ec2.send(new DescribeVpcClassicLinkCommand({ VpcIds: [vpc] }))).Vpcs!;
    expect(one).toEqual([{ VpcId: vpc, ClassicLinkEnabled: false, Tags: [{ Key: 'Name', Value: 'linked?' }] }]);
    const byTag = (await api.ec2.send(new DescribeVpcClassicLinkCommand({ Filters: [{ Name: 'tag:Name', Values: ['linked?'] }] }))).Vpcs!;
    expect(byTag.map((v) => v.VpcId)).toEqual([vpc]);
    expect((await api.ec2.send(new DescribeVpcClassicLinkCommand({ Filters: [{ Name: 'is-classic-link-enabled', Values: ['true'] }] }))).Vpcs).toEqual([]);
    await expect(api.ec2.send(new DescribeVpcClassicLinkCommand({ VpcIds: ['vpc-00000000000000009'] }))).rejects.toMatchObject({ name: 'InvalidVpcID.NotFound' });
    const dns = (await api.ec2.send(new DescribeVpcClassicLinkDnsSupportCommand({ VpcIds: [vpc] }))).Vpcs;
    expect(dns).toEqual([{ VpcId: vpc, ClassicLinkDnsSupported: false }]);
  });

  it('VPC endpoints, transit gateways and the like: none, and an id asked for is AWS\'s NotFound for it', async () => {
    expect((await api.ec2.send(new DescribeVpcEndpointsCommand({}))).VpcEndpoints).toEqual([]);
    expect((await api.ec2.send(new DescribeTransitGatewaysCommand({ Filters: [{ Name: 'state', Values: ['available'] }] }))).TransitGateways).toEqual([]);
    await expect(api.ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ['vpce-0123456789abcdef0'] })))
      .rejects.toMatchObject({ name: 'InvalidVpcEndpointId.NotFound', message: "The VpcEndpoint Id 'vpce-0123456789abcdef0' does not exist" });
    for (const [action, element] of [['DescribePrefixLists', 'prefixListSet'], ['DescribeVpnGateways', 'vpnGatewaySet'], ['DescribeEgressOnlyInternetGateways', 'egressOnlyInternetGatewaySet'],
      ['DescribeVpcPeeringConnections', 'vpcPeeringConnectionSet'], ['DescribeCarrierGateways', 'carrierGatewaySet'], ['DescribeSpotInstanceRequests', 'spotInstanceRequestSet'],
      ['DescribeClassicLinkInstances', 'instancesSet'], ['DescribePlacementGroups', 'placementGroupSet']] as const) {
      const r = await api.post(`Action=${action}&${V}`);
      expect([r.status, r.text.includes(`<${element}/>`)], action).toEqual([200, true]);
    }
  });
});
