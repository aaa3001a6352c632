/** Domain objects in the shapes EC2's XML uses (element names as keys); the serializer does the rest. */
import type { Cloud } from '../../cloud/index.js';
import { stateCodes, type Instance, type InstanceState } from '../../cloud/instances/index.js';
import { holdsResources } from '../../cloud/instances/types.js';
import { privateDnsName } from '../../cloud/ip.js';
import type { Tag } from '../../cloud/tags.js';

export const tagSet = (tags: Tag[] | undefined) => (tags ?? []).map((t) => ({ key: t.key, value: t.value }));

export const stateShape = (s: string) => ({ code: stateCodes[s as InstanceState] ?? 0, name: s });

/** Security group names by id, read once per response. */
export type GroupNames = Map<string, string>;

export async function groupNames(cloud: Cloud, accountId: string): Promise<GroupNames> {
  return new Map((await cloud.network.securityGroups(accountId)).map((g) => [g.id, g.name]));
}

export function groupSet(names: GroupNames, ids: string[]) {
  return ids.map((id) => ({ groupId: id, groupName: names.get(id) ?? '' }));
}

/** An instance's network interface, as DescribeNetworkInterfaces and the instance's networkInterfaceSet show it. */
export async function networkInterfaceShape(cloud: Cloud, inst: Instance, names: GroupNames, tags?: Tag[]) {
  const dns = privateDnsName(inst.privateIp, cloud.config.region);
  const eip = await cloud.network.addresses.ofInstance(inst.id);
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
async function instanceNetworkInterfaceShape(cloud: Cloud, inst: Instance, names: GroupNames) {
  const { availabilityZone: _az, requesterManaged: _rm, tagSet: _tags, attachment, ...rest } = await networkInterfaceShape(cloud, inst, names);
  const { instanceId: _id, instanceOwnerId: _owner, ...own } = attachment;
  return { ...rest, attachment: own };
}

export async function instanceShape(cloud: Cloud, inst: Instance, tags: Tag[] | undefined, names: GroupNames) {
  const dns = privateDnsName(inst.privateIp, cloud.config.region);
  const groups = groupSet(names, inst.securityGroupIds);
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
    ipAddress: inst.state === 'running' || inst.state === 'pending' ? (await cloud.network.addresses.ofInstance(inst.id)) ?? inst.publicIp ?? undefined : undefined,
    sourceDestCheck: inst.attributes.sourceDestCheck,
    groupSet: groups,
    stateReason: inst.stateReasonCode ? { code: inst.stateReasonCode, message: inst.stateReasonMessage ?? '' } : undefined,
    architecture: 'x86_64',
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: terminated ? [] : [{
      deviceName: '/dev/xvda',
      ebs: { volumeId: inst.rootVolumeId, status: 'attached', attachTime: launchTime, deleteOnTermination: true },
    }, ...(inst.runtime === 'container' ? [] : (await cloud.volumes.forInstance(inst.id))).map((v) => ({
      deviceName: v.device!,
      ebs: { volumeId: v.id, status: v.attachState!, attachTime: new Date(v.attachTime!), deleteOnTermination: v.deleteOnTermination },
    }))],
    bootMode: inst.runtime === 'q35' ? 'uefi' : 'legacy-bios',
    currentInstanceBootMode: inst.runtime === 'q35' ? 'uefi' : 'legacy-bios',
    virtualizationType: 'hvm',
    clientToken: inst.clientToken ?? '',
    tagSet: tagSet(tags),
    hypervisor: inst.runtime === 'container' ? 'nspawn' : 'xen',
    networkInterfaceSet: terminated ? [] : [await instanceNetworkInterfaceShape(cloud, inst, names)],
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
  };
}
