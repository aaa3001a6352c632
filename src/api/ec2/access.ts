/**
 * What an EC2 request asks of IAM: `ec2:Action` on the resources its parameters name (by parameter name: InstanceId.N,
 * VolumeId, ImageId, KeyName, …, each as its ARN with its tags for ec2:ResourceTag/…), on `TYPE/*` for what it creates,
 * on `*` where it names none (Describe* act on no resource, as on AWS); with ec2:Region, ec2:InstanceType and the
 * tags it asks for (aws:RequestTag/…, aws:TagKeys).
 */
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import { deniedMessage, type AccessRequest, type ResourceRef } from '../../cloud/iam/authorize.js';
import { roleArn } from '../../cloud/iam/roles.js';
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

/** Parameters naming any resource by its id (CreateTags, DeleteTags; CreateRoute's GatewayId): the type is the id's. */
const ANY_ID = new Set(['ResourceId', 'GatewayId']);

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

/** Actions naming an instance's profile association (AssociationId): AWS authorizes them on the instance. */
const ON_ASSOCIATION = new Set(['DisassociateIamInstanceProfile', 'ReplaceIamInstanceProfileAssociation']);

/** A resource of the request: its ARN's type and id, and the id its tags are under (a key pair's ARN has its name). */
type Named = { type: string; arnId: string; tagId: string };

/**
 * The resources a parameter names other than by their ARN's id (a launch template or security group by its name, a key
 * pair by its id or name, an address by its IP, an instance by its profile association's id), when the account has
 * them: a Deny on a resource or its tags must match however the request names it. Not found: the action refuses it.
 */
async function indirect(cloud: Cloud, accountId: string, action: string, parameter: string, value: string): Promise<Named[] | undefined> {
  try {
    switch (parameter) {
      case 'LaunchTemplateName': {
        const id = (await cloud.instances.templates.get(accountId, { name: value })).id;
        return [{ type: 'launch-template', arnId: id, tagId: id }];
      }
      case 'AssociationId': {
        if (!ON_ASSOCIATION.has(action)) return undefined;
        const id = (await cloud.iamAssociations.get(accountId, value)).instanceId;
        return [{ type: 'instance', arnId: id, tagId: id }];
      }
      case 'KeyName':
      case 'KeyPairId':
        return (await cloud.keyPairs.list(accountId, parameter === 'KeyName' ? [value] : [], parameter === 'KeyPairId' ? [value] : []))
          .map((k) => ({ type: 'key-pair', arnId: k.name, tagId: k.id }));
      case 'GroupName':
        // Every group of that name (one per VPC): a Deny on any of them refuses. A new group's name names none.
        if (action === 'CreateSecurityGroup') return undefined;
        return (await cloud.network.securityGroups(accountId)).filter((g) => g.name === value).map((g) => ({ type: 'security-group', arnId: g.id, tagId: g.id }));
      case 'PublicIp': {
        const a = await cloud.network.addresses.get(accountId, { publicIp: value });
        return [{ type: 'elastic-ip', arnId: a.allocationId, tagId: a.allocationId }];
      }
      default:
        return undefined;
    }
  } catch (err) {
    if (!(err instanceof CloudError)) throw err;
  }
  return undefined;
}

/** Adds the resources the request names: ARN → the id its tags are under (none for key pairs, named by name). */
async function named(cloud: Cloud, action: string, q: Query, region: string, accountId: string, arns: Map<string, string | undefined>): Promise<Map<string, string | undefined>> {
  for (const [name, value] of q.entries()) {
    if (!value || value.length > MAX_NAME) continue;
    const parts = name.split('.');
    if (NOT_RESOURCES.has(parts[0]!)) continue;
    let last = parts[parts.length - 1]!;
    if (/^\d+$/.test(last) && parts.length > 1) last = parts[parts.length - 2]!;
    const via = await indirect(cloud, accountId, action, last, value);
    if (via?.length) {
      for (const r of via) arns.set(arnOf(region, accountId, r.type, r.arnId), r.tagId);
      continue;
    }
    const type = ANY_ID.has(last) ? resourceType(value) : PARAMETER_TYPES.get(last);
    if (!type) continue;
    // A key pair not found is named by its name (no tags: the action refuses it or makes it).
    arns.set(arnOf(region, accountId, type, value), type === 'key-pair' ? undefined : value);
  }
  return arns;
}

/** The IAM request an EC2 request makes. */
export async function ec2AccessRequest(cloud: Cloud, principal: Principal, origin: Origin, action: string, q: Query): Promise<AccessRequest> {
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
  await named(cloud, action, q, region, accountId, arns);
  if (arns.size === 0) return { action: `ec2:${action}`, resources: [{ arn: '*' }], context };
  const ids = [...arns.values()].filter((id): id is string => id !== undefined);
  const tags = await cloud.tags.of(ids);
  const resources: ResourceRef[] = [];
  for (const [arn, id] of arns) {
    const list = id === undefined ? undefined : tags.get(id);
    resources.push(list ? { arn, tags: new Map(list.map((t) => [t.key, t.value])) } : { arn });
  }
  return { action: `ec2:${action}`, resources, context };
}

/** Actions that give an instance a profile: its role is passed to EC2 (iam:PassRole), as AWS checks. */
const PASSES_ROLE = new Set(['RunInstances', 'AssociateIamInstanceProfile', 'ReplaceIamInstanceProfileAssociation']);

/** The role of the instance profile the request names (IamInstanceProfile.Name or .Arn), if it has one. */
async function passedRole(cloud: Cloud, accountId: string, q: Query): Promise<string | undefined> {
  const ref = q.str('IamInstanceProfile.Arn') || q.str('IamInstanceProfile.Name');
  if (!ref || ref.length > 2048) return undefined;
  const role = (await cloud.iam.profiles.get(accountId, ref))?.role;
  return role ? roleArn(role) : undefined;
}

const unauthorized = (d: Parameters<typeof deniedMessage>[0]) =>
  new CloudError('UnauthorizedOperation', `You are not authorized to perform this operation. ${deniedMessage(d)}`);

/**
 * Refuse the request (UnauthorizedOperation, in AWS's words) unless the signer's policies allow it, and allow passing
 * the role of an instance profile it gives an instance (iam:PassRole, iam:PassedToService ec2.amazonaws.com); root
 * always may.
 */
export async function authorizeEc2(cloud: Cloud, principal: Principal, origin: Origin, action: string, q: Query): Promise<void> {
  if (principal.identity.kind === 'root') return;
  const req = await ec2AccessRequest(cloud, principal, origin, action, q);
  const d = await cloud.iam.authorize(principal.identity, req);
  if (!d.allowed) throw unauthorized(d);
  const role = PASSES_ROLE.has(action) ? (await passedRole(cloud, principal.accountId, q)) : undefined;
  if (role === undefined) return;
  const context = originContext(principal, origin);
  context.set('iam:PassedToService', 'ec2.amazonaws.com');
  const pass = await cloud.iam.authorize(principal.identity, { action: 'iam:PassRole', resources: [{ arn: role }], context });
  if (!pass.allowed) throw unauthorized(pass);
}

/** The console of an instance (pcloud's VNC page and websocket): ec2:GetConsoleScreenshot on the instance, as for its screen. */
export async function authorizeConsole(cloud: Cloud, principal: Principal, origin: Origin, instanceId: string): Promise<void> {
  if (principal.identity.kind === 'root') return;
  const tags = (await cloud.tags.of([instanceId])).get(instanceId);
  const arn = arnOf(principal.region, principal.accountId, 'instance', instanceId);
  const context = originContext(principal, origin);
  context.set('ec2:Region', principal.region);
  const d = await cloud.iam.authorize(principal.identity, {
    action: 'ec2:GetConsoleScreenshot', resources: [tags ? { arn, tags: new Map(tags.map((t) => [t.key, t.value])) } : { arn }], context,
  });
  if (!d.allowed) throw new CloudError('UnauthorizedOperation', `You are not authorized to perform this operation. ${deniedMessage(d)}`);
}
