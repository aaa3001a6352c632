/** Domain objects in the shapes EC2's XML uses (element names as keys); the serializer does the rest. */
import type { Cloud } from '../../cloud/index.js';
import { stateCodes, type Instance, type InstanceState } from '../../cloud/instances/index.js';
import { holdsResources, type PageFacts } from '../../cloud/instances/types.js';
import { privateDnsName } from '../../cloud/ip.js';
import type { Tag } from '../../cloud/tags.js';
import type { Association } from '../../cloud/iam-associations.js';
import type { Volume } from '../../cloud/volumes.js';

export const tagSet = (tags: Tag[] | undefined) => (tags ?? []).map((t) => ({ key: t.key, value: t.value }));

export const stateShape = (s: string) => ({ code: stateCodes[s as InstanceState] ?? 0, name: s });

/** Security group names by id, read once per response. */
export type GroupNames = Map<string, string>;

/** The names of the groups these instances (or interfaces) are in. */
export async function groupNames(cloud: Cloud, accountId: string, rows: readonly { securityGroupIds: string[] }[]): Promise<GroupNames> {
  return await cloud.network.groupNames.of(accountId, rows.flatMap((r) => r.securityGroupIds));
}

export function groupSet(names: GroupNames, ids: string[]) {
  return ids.map((id) => ({ groupId: id, groupName: names.get(id) ?? '' }));
}

/**
 * What the shapes of a page of instances show beside their rows, each read once for the whole page (a query or two per
 * table per 500 instances, run together), never once per instance. Read outside any write(): the reads run at once,
 * side by side, which inside a transaction they could not (they would share its one connection).
 */
export interface InstanceFacts {
  names: GroupNames;
  tags: Map<string, Tag[]>;
  /** Elastic IPs by instance id. */
  eips: Map<string, string>;
  /** Attached volumes by instance id (VMs'), in attachment order. */
  volumes: Map<string, Volume[]>;
  /** IAM instance profile associations by instance id. */
  profiles: Map<string, Association>;
}

/** The facts of these rows; those `known` already (read with the rows: PageFacts) are not read again. */
export async function instanceFacts(cloud: Cloud, accountId: string, rows: readonly Instance[], known?: PageFacts): Promise<InstanceFacts> {
  const ids = rows.map((r) => r.id);
  const vms = rows.filter((r) => r.runtime !== 'container' && holdsResources(r)).map((r) => r.id);
  const profiled = known ? ids.filter((id) => known.profiled.has(id)) : ids;
  const [names, tags, eips, volumes, profiles] = await Promise.all([
    groupNames(cloud, accountId, rows), known?.tags ?? cloud.tags.of(ids), known?.eips ?? cloud.network.addresses.ofInstances(ids),
    cloud.volumes.forInstances(vms), profiled.length ? cloud.iamAssociations.ofInstances(profiled) : new Map<string, Association>(),
  ]);
  return { names, tags, eips, volumes, profiles };
}

/** An instance's network interface, as DescribeNetworkInterfaces and the instance's networkInterfaceSet show it. */
export function networkInterfaceShape(cloud: Cloud, inst: Instance, names: GroupNames, eip: string | undefined, tags?: Tag[]) {
  const dns = privateDnsName(inst.privateIp, cloud.config.region);
  const association = eip || inst.publicIp ? { publicIp: eip ?? inst.publicIp!, publicDnsName: '', ipOwnerId: eip ? inst.accountId : 'amazon' } : undefined;
  return {
    networkInterfaceId: inst.networkInterfaceId,
    subnetId: inst.subnetId,
    vpcId: inst.vpcId,
    availabilityZone: inst.availabilityZone,
    description: '',
    ownerId: inst.accountId,
    requesterManaged: false,
    status: 'in-use',
    macAddress: inst.macAddress,
    privateIpAddress: inst.privateIp,
    privateDnsName: dns,
    sourceDestCheck: inst.attributes.sourceDestCheck,
    groupSet: groupSet(names, inst.securityGroupIds),
    attachment: {
      attachmentId: `eni-attach-${inst.networkInterfaceId.slice(4)}`, instanceId: inst.id, instanceOwnerId: inst.accountId, deviceIndex: 0,
      status: 'attached', attachTime: new Date(inst.launchTime), deleteOnTermination: true, networkCardIndex: 0,
    },
    association,
    tagSet: tags ? tagSet(tags) : undefined,
    privateIpAddressesSet: [{ privateIpAddress: inst.privateIp, privateDnsName: dns, primary: true, association }],
    ipv6AddressesSet: [],
    interfaceType: 'interface',
  };
}

/** The same interface as an instance's networkInterfaceSet shows it (InstanceNetworkInterface has fewer members). */
function instanceNetworkInterfaceShape(cloud: Cloud, inst: Instance, facts: InstanceFacts) {
  const { availabilityZone: _az, requesterManaged: _rm, tagSet: _tags, attachment, ...rest } = networkInterfaceShape(cloud, inst, facts.names, facts.eips.get(inst.id));
  const { instanceId: _id, instanceOwnerId: _owner, ...own } = attachment;
  return { ...rest, attachment: own };
}

/** An instance as DescribeInstances and RunInstances show it, from its row and its page's facts. */
export function instanceShape(cloud: Cloud, inst: Instance, facts: InstanceFacts) {
  const dns = privateDnsName(inst.privateIp, cloud.config.region);
  const groups = groupSet(facts.names, inst.securityGroupIds);
  const profile = facts.profiles.get(inst.id)?.profile;
  const launchTime = new Date(inst.launchTime);
  const md = inst.attributes.metadataOptions;
  const terminated = !holdsResources(inst);
  return {
    instanceId: inst.id,
    imageId: inst.imageId,
    instanceState: stateShape(inst.state),
    privateDnsName: terminated ? '' : dns,
    dnsName: '',
    reason: inst.stateTransitionReason,
    keyName: inst.keyName ?? undefined,
    amiLaunchIndex: inst.launchIndex,
    productCodes: [],
    instanceType: inst.instanceType,
    launchTime,
    placement: { availabilityZone: inst.availabilityZone, groupName: '', tenancy: 'default' },
    monitoring: { state: inst.attributes.monitoring ? 'enabled' : 'disabled' },
    subnetId: terminated ? undefined : inst.subnetId,
    vpcId: terminated ? undefined : inst.vpcId,
    privateIpAddress: terminated ? undefined : inst.privateIp,
    // Shown while the instance runs, as on AWS; pcloud keeps the address through a stop (AWS hands out a new one).
    ipAddress: inst.state === 'running' || inst.state === 'pending' ? facts.eips.get(inst.id) ?? inst.publicIp ?? undefined : undefined,
    sourceDestCheck: inst.attributes.sourceDestCheck,
    groupSet: groups,
    stateReason: inst.stateReasonCode ? { code: inst.stateReasonCode, message: inst.stateReasonMessage ?? '' } : undefined,
    architecture: 'x86_64',
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: terminated ? [] : [{
      deviceName: '/dev/xvda',
      ebs: { volumeId: inst.rootVolumeId, status: 'attached', attachTime: launchTime, deleteOnTermination: true },
    }, ...(facts.volumes.get(inst.id) ?? []).map((v) => ({
      deviceName: v.device!,
      ebs: { volumeId: v.id, status: v.attachState!, attachTime: new Date(v.attachTime!), deleteOnTermination: v.deleteOnTermination },
    }))],
    bootMode: inst.runtime === 'q35' ? 'uefi' : 'legacy-bios',
    currentInstanceBootMode: inst.runtime === 'q35' ? 'uefi' : 'legacy-bios',
    virtualizationType: 'hvm',
    clientToken: inst.clientToken ?? '',
    tagSet: tagSet(facts.tags.get(inst.id)),
    hypervisor: inst.runtime === 'container' ? 'nspawn' : 'xen',
    networkInterfaceSet: terminated ? [] : [instanceNetworkInterfaceShape(cloud, inst, facts)],
    ebsOptimized: inst.attributes.ebsOptimized,
    enaSupport: true,
    cpuOptions: { coreCount: cloud.instances.instanceType(inst).vcpus, threadsPerCore: 1 },
    capacityReservationSpecification: { capacityReservationPreference: 'open' },
    hibernationOptions: { configured: inst.attributes.hibernation },
    metadataOptions: {
      state: inst.state === 'pending' ? 'pending' : 'applied',
      httpTokens: md.httpTokens,
      httpPutResponseHopLimit: md.httpPutResponseHopLimit,
      httpEndpoint: md.httpEndpoint,
      httpProtocolIpv6: md.httpProtocolIpv6,
      instanceMetadataTags: md.instanceMetadataTags,
    },
    enclaveOptions: { enabled: false },
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    usageOperationUpdateTime: launchTime,
    privateDnsNameOptions: { hostnameType: 'ip-name', enableResourceNameDnsARecord: false, enableResourceNameDnsAAAARecord: false },
    maintenanceOptions: { autoRecovery: 'default' },
    iamInstanceProfile: profile && { arn: profile.arn, id: profile.id },
  };
}
