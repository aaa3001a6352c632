/**
 * What an EC2 request asks of IAM: `ec2:Action` on the resources its parameters name (by parameter name: InstanceId.N,
 * VolumeId, ImageId, KeyName, …, each as its ARN with its tags for ec2:ResourceTag/…), on `TYPE/*` for what it creates,
 * on `*` where it names none (Describe* act on no resource, as on AWS); with ec2:Region, ec2:InstanceType and the
 * tags it asks for (aws:RequestTag/…, aws:TagKeys).
 */
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import { deniedMessage, type AccessRequest, type ResourceRef } from '../../cloud/iam/authorize.js';
import { resourceType } from '../../cloud/tags.js';
import type { Principal } from '../auth/sigv4.js';
import { originContext, type Origin } from '../auth/origin.js';
import type { Query } from './query.js';

/** Parameters (their last dotted part, indices dropped) that name a resource, and its ARN type. */
const PARAMETER_TYPES = new Map<string, string>([
  ['InstanceId', 'instance'], ['VolumeId', 'volume'], ['VpcId', 'vpc'], ['SubnetId', 'subnet'], ['GroupId', 'security-group'],
  ['SecurityGroupId', 'security-group'], ['ImageId', 'image'], ['SourceImageId', 'image'], ['KeyName', 'key-pair'],
  ['AllocationId', 'elastic-ip'], ['NatGatewayId', 'natgateway'], ['RouteTableId', 'route-table'],
  ['InternetGatewayId', 'internet-gateway'], ['NetworkInterfaceId', 'network-interface'], ['LaunchTemplateId', 'launch-template'],
  ['SnapshotId', 'snapshot'], ['SourceSnapshotId', 'snapshot'],
]);

/** Parameters naming any resource by its id (CreateTags, DeleteTags): the type is the id's. */
const ANY_ID = new Set(['ResourceId']);

/** Parameter trees whose values are not resources of the request (filters, tags given, block device mappings). */
const NOT_RESOURCES = new Set(['Filter', 'TagSpecification', 'Tag']);

/** ARN types AWS writes without an account (images and snapshots may be anyone's). */
const NO_ACCOUNT = new Set(['image', 'snapshot']);

/** What creating actions make: AWS authorizes them on `TYPE/*` besides what they name. */
const CREATES = new Map<string, readonly string[]>([
  ['RunInstances', ['instance', 'volume', 'network-interface']], ['CreateVpc', ['vpc']], ['CreateSubnet', ['subnet']],
  ['CreateSecurityGroup', ['security-group']], ['CreateVolume', ['volume']], ['CreateKeyPair', ['key-pair']], ['ImportKeyPair', ['key-pair']],
  ['AllocateAddress', ['elastic-ip']], ['CreateNatGateway', ['natgateway']], ['CreateRouteTable', ['route-table']],
  ['CreateInternetGateway', ['internet-gateway']], ['CreateLaunchTemplate', ['launch-template']], ['CreateSnapshot', ['snapshot']],
  ['CreateImage', ['image']], ['RegisterImage', ['image']], ['CopyImage', ['image']], ['CreateNetworkInterface', ['network-interface']],
]);

/** The longest id or name read as a resource (longer ones are no resource pcloud has: the action refuses them). */
const MAX_NAME = 256;

const arnOf = (region: string, accountId: string, type: string, id: string) =>
  `arn:aws:ec2:${region}:${NO_ACCOUNT.has(type) ? '' : accountId}:${type}/${id}`;

/** Adds the resources the request names: ARN → the id its tags are under (none for key pairs, named by name). */
function named(q: Query, region: string, accountId: string, arns: Map<string, string | undefined>): Map<string, string | undefined> {
  for (const [name, value] of q.entries()) {
    if (!value || value.length > MAX_NAME) continue;
    const parts = name.split('.');
    if (NOT_RESOURCES.has(parts[0]!)) continue;
    let last = parts[parts.length - 1]!;
    if (/^\d+$/.test(last) && parts.length > 1) last = parts[parts.length - 2]!;
    const type = ANY_ID.has(last) ? resourceType(value) : PARAMETER_TYPES.get(last);
    if (!type) continue;
    // Key pairs are named by their name: their tags are their id's, not looked up here.
    arns.set(arnOf(region, accountId, type, value), type === 'key-pair' ? undefined : value);
  }
  return arns;
}

/** The IAM request an EC2 request makes. */
export function ec2AccessRequest(cloud: Cloud, principal: Principal, origin: Origin, action: string, q: Query): AccessRequest {
  const { region, accountId } = principal;
  const context = originContext(principal, origin);
  context.set('ec2:Region', region);
  const type = q.str('InstanceType');
  if (type) context.set('ec2:InstanceType', type);
  const requested = [...q.tagSpecifications().flatMap((s) => s.tags), ...(action === 'CreateTags' ? q.structs('Tag').map((t) => ({ key: t.str('Key') ?? '', value: t.str('Value') ?? '' })) : [])];
  if (requested.length) {
    for (const t of requested) context.set(`aws:RequestTag/${t.key}`, t.value);
    context.set('aws:TagKeys', [...new Set(requested.map((t) => t.key))]);
  }
  if (action.startsWith('Describe')) return { action: `ec2:${action}`, resources: [{ arn: '*' }], context };
  // What it creates first (AWS's message names the new instance), then what it names.
  const arns = new Map<string, string | undefined>((CREATES.get(action) ?? []).map((t) => [arnOf(region, accountId, t, '*'), undefined]));
  named(q, region, accountId, arns);
  if (arns.size === 0) return { action: `ec2:${action}`, resources: [{ arn: '*' }], context };
  const ids = [...arns.values()].filter((id): id is string => id !== undefined);
  const tags = cloud.tags.of(ids);
  const resources: ResourceRef[] = [];
  for (const [arn, id] of arns) {
    const list = id === undefined ? undefined : tags.get(id);
    resources.push(list ? { arn, tags: new Map(list.map((t) => [t.key, t.value])) } : { arn });
  }
  return { action: `ec2:${action}`, resources, context };
}

/** Refuse the request (UnauthorizedOperation, in AWS's words) unless the signer's policies allow it; root always may. */
export function authorizeEc2(cloud: Cloud, principal: Principal, origin: Origin, action: string, q: Query): void {
  if (principal.identity.kind === 'root') return;
  const d = cloud.iam.authorize(principal.identity, ec2AccessRequest(cloud, principal, origin, action, q));
  if (!d.allowed) throw new CloudError('UnauthorizedOperation', `You are not authorized to perform this operation. ${deniedMessage(d)}`);
}

/** The console of an instance (pcloud's VNC page and websocket): ec2:GetConsoleScreenshot on the instance, as for its screen. */
export function authorizeConsole(cloud: Cloud, principal: Principal, origin: Origin, instanceId: string): void {
  if (principal.identity.kind === 'root') return;
  const tags = cloud.tags.of([instanceId]).get(instanceId);
  const arn = arnOf(principal.region, principal.accountId, 'instance', instanceId);
  const context = originContext(principal, origin);
  context.set('ec2:Region', principal.region);
  const d = cloud.iam.authorize(principal.identity, {
    action: 'ec2:GetConsoleScreenshot', resources: [tags ? { arn, tags: new Map(tags.map((t) => [t.key, t.value])) } : { arn }], context,
  });
  if (!d.allowed) throw new CloudError('UnauthorizedOperation', `You are not authorized to perform this operation. ${deniedMessage(d)}`);
}
