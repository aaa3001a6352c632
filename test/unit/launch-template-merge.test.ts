/** RunInstances from a launch template: the template's data under the request's own parameters (mergeTemplate). */
import { describe, expect, it } from 'vitest';
import { mergeTemplate } from '../../src/cloud/launch-templates.js';
import type { RunParams } from '../../src/cloud/instances/types.js';

const bare: RunParams = { securityGroupIds: [], securityGroups: [], tagSpecifications: [], metadataOptions: {}, minCount: 1, maxCount: 1 };

const data = {
  ImageId: 'ami-11111111111111111', InstanceType: 't3.small', KeyName: 'k', UserData: 'ZWNobw==',
  SecurityGroupIds: ['sg-aaaaaaaaaaaaaaaaa'],
  NetworkInterfaces: [
    { DeviceIndex: 1, SubnetId: 'subnet-second' },
    { DeviceIndex: 0, SubnetId: 'subnet-first', Groups: ['sg-bbbbbbbbbbbbbbbbb'], AssociatePublicIpAddress: true },
  ],
  MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
  Monitoring: { Enabled: true }, CreditSpecification: { CpuCredits: 'standard' }, DisableApiStop: true,
  TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'a', Value: '1' }] }, { ResourceType: 'spot-instances-request', Tags: [{ Key: 's', Value: '1' }] }],
};

describe('mergeTemplate', () => {
  it("takes the template's data where the request gives none", () => {
    const p = mergeTemplate(bare, data);
    expect(p).toMatchObject({
      imageId: 'ami-11111111111111111', instanceType: 't3.small', keyName: 'k', userData: 'ZWNobw==', subnetId: 'subnet-first',
      associatePublicIp: true, securityGroupIds: ['sg-aaaaaaaaaaaaaaaaa', 'sg-bbbbbbbbbbbbbbbbb'], securityGroups: [],
      metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 }, monitoring: true, cpuCredits: 'standard', disableApiStop: true,
    });
    // Tags for what RunInstances makes; a spot request's are not an instance's.
    expect(p.tagSpecifications).toEqual([{ resourceType: 'instance', tags: [{ key: 'a', value: '1' }] }]);
  });

  it("keeps the request's own parameters over the template's, field by field", () => {
    const p = mergeTemplate({
      ...bare, imageId: 'ami-22222222222222222', instanceType: 't3.nano', securityGroupIds: ['sg-ccccccccccccccccc'], subnetId: 'subnet-own',
      associatePublicIp: false, metadataOptions: { httpPutResponseHopLimit: 5 }, disableApiStop: false,
      tagSpecifications: [{ resourceType: 'instance', tags: [{ key: 'a', value: 'mine' }] }],
    }, data);
    expect(p).toMatchObject({
      imageId: 'ami-22222222222222222', instanceType: 't3.nano', securityGroupIds: ['sg-ccccccccccccccccc'], subnetId: 'subnet-own',
      associatePublicIp: false, metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 5 }, disableApiStop: false, keyName: 'k',
    });
    // The request's tags come last: put after the template's, its values win for the same key.
    expect(p.tagSpecifications.at(-1)).toEqual({ resourceType: 'instance', tags: [{ key: 'a', value: 'mine' }] });
  });

  it('ignores members of the wrong type (data read from an older record) instead of launching with them', () => {
    const p = mergeTemplate(bare, { ImageId: 5, SecurityGroupIds: 'sg-x', NetworkInterfaces: [null, 'x'], Monitoring: [true] });
    expect(p).toMatchObject({ imageId: undefined, securityGroupIds: [], subnetId: undefined, monitoring: undefined });
  });
});
