import { filterRows } from '../../../cloud/filters.js';
import {
  availabilityZoneFields, availabilityZones, hypervisor, instanceTypeFields, instanceTypesNamed, zonesNamed,
} from '../../../cloud/region-filters.js';
import type { Actions } from '../context.js';

export const regionActions: Actions = {
  DescribeRegions: {
    handler: (ctx) => ({
      regionInfo: [{ regionName: ctx.cloud.config.region, regionEndpoint: 'ec2.pcloud.local', optInStatus: 'opt-in-not-required' }],
    }),
  },

  DescribeAvailabilityZones: {
    handler: (ctx) => {
      const region = ctx.cloud.config.region;
      const named = zonesNamed(availabilityZones(ctx.cloud.config.availabilityZones), ctx.q.list('ZoneName'));
      const zones = filterRows(named, ctx.q.filters(), availabilityZoneFields(region));
      return {
        availabilityZoneInfo: zones.map((z) => ({
          zoneName: z.name, zoneState: 'available', regionName: region, zoneId: z.id, zoneType: 'availability-zone',
          optInStatus: 'opt-in-not-required', groupName: region, networkBorderGroup: region, messageSet: [],
        })),
      };
    },
  },

  DescribeAccountAttributes: {
    handler: async (ctx) => {
      const vpc = (await ctx.cloud.network.vpcs(ctx.accountId)).find((v) => v.isDefault);
      const attrs: Record<string, string[]> = {
        'supported-platforms': ['VPC'], 'default-vpc': [vpc?.id ?? 'none'], 'max-instances': [String(ctx.cloud.config.limits.instances)],
        'vpc-max-security-groups-per-interface': ['5'], 'max-elastic-ips': ['5'], 'vpc-max-elastic-ips': ['5'],
      };
      const wanted = ctx.q.list('AttributeName');
      return {
        accountAttributeSet: Object.entries(attrs).filter(([k]) => !wanted.length || wanted.includes(k))
          .map(([k, v]) => ({ attributeName: k, attributeValueSet: v.map((x) => ({ attributeValue: x })) })),
      };
    },
  },

  DescribeInstanceTypes: {
    handler: (ctx) => {
      const types = filterRows(instanceTypesNamed(ctx.q.list('InstanceType')), ctx.q.filters(), instanceTypeFields);
      return {
        instanceTypeSet: types.map((t) => ({
          instanceType: t.name,
          currentGeneration: true,
          freeTierEligible: t.name === 't2.micro' || t.name === 't3.micro',
          supportedUsageClasses: ['on-demand'],
          supportedRootDeviceTypes: ['ebs'],
          supportedVirtualizationTypes: ['hvm'],
          bareMetal: false,
          hypervisor: hypervisor(t),
          processorInfo: { supportedArchitectures: [t.architecture], sustainedClockSpeedInGhz: 2.5 },
          vCpuInfo: { defaultVCpus: t.vcpus, defaultCores: t.vcpus, defaultThreadsPerCore: 1, validCores: [t.vcpus], validThreadsPerCore: [1] },
          memoryInfo: { sizeInMiB: t.memoryMiB },
          instanceStorageSupported: false,
          ebsInfo: { ebsOptimizedSupport: 'default', encryptionSupport: 'supported', nvmeSupport: 'required' },
          networkInfo: {
            networkPerformance: 'Up to 5 Gigabit', maximumNetworkInterfaces: 2, maximumNetworkCards: 1, defaultNetworkCardIndex: 0,
            ipv4AddressesPerInterface: 4, ipv6AddressesPerInterface: 4, ipv6Supported: false, enaSupport: 'required', efaSupported: false,
            encryptionInTransitSupported: false,
          },
          placementGroupInfo: { supportedStrategies: ['partition', 'spread'] },
          hibernationSupported: false,
          burstablePerformanceSupported: t.burstable,
          dedicatedHostsSupported: false,
          autoRecoverySupported: true,
          supportedBootModes: ['legacy-bios', 'uefi'],
        })),
      };
    },
  },
};
