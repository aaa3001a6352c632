import { invalidParam } from '../../../cloud/errors.js';
import { instanceTypes, type InstanceType } from '../../../cloud/catalog.js';
import { matches } from '../../../cloud/tags.js';
import type { Actions } from '../context.js';
import { fieldOf } from '../filters.js';

export const regionActions: Actions = {
  DescribeRegions: {
    handler: (ctx) => ({
      regionInfo: [{ regionName: ctx.cloud.config.region, regionEndpoint: 'ec2.pcloud.local', optInStatus: 'opt-in-not-required' }],
    }),
  },

  DescribeAvailabilityZones: {
    handler: (ctx) => {
      const region = ctx.cloud.config.region;
      let zones = ctx.cloud.config.availabilityZones.map((name, i) => ({ name, id: `use1-az${i + 1}` }));
      const names = ctx.q.list('ZoneName');
      if (names.length) zones = zones.filter((z) => names.includes(z.name));
      for (const f of ctx.q.filters()) {
        const get: Record<string, (z: { name: string; id: string }) => string> = {
          'zone-name': (z) => z.name, 'zone-id': (z) => z.id, 'region-name': () => region, state: () => 'available',
          'zone-type': () => 'availability-zone', 'opt-in-status': () => 'opt-in-not-required', 'group-name': () => region,
        };
        const field = fieldOf(get, f.name);
        if (!field) throw invalidParam(`The filter '${f.name}' is invalid`);
        zones = zones.filter((z) => matches(field(z), f.values));
      }
      return {
        availabilityZoneInfo: zones.map((z) => ({
          zoneName: z.name, zoneState: 'available', regionName: region, zoneId: z.id, zoneType: 'availability-zone',
          optInStatus: 'opt-in-not-required', groupName: region, networkBorderGroup: region, messageSet: [],
        })),
      };
    },
  },

  DescribeAccountAttributes: {
    handler: (ctx) => {
      const vpc = ctx.cloud.network.vpcs(ctx.accountId).find((v) => v.isDefault);
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
      let types = [...instanceTypes.values()];
      const names = ctx.q.list('InstanceType');
      if (names.length) {
        const missing = names.filter((n) => !instanceTypes.has(n));
        if (missing.length) throw invalidParam(`The following supplied instance types do not exist: [${missing.join(', ')}]`);
        types = types.filter((t) => names.includes(t.name));
      }
      for (const f of ctx.q.filters()) {
        const get: Record<string, (t: InstanceType) => string> = {
          'instance-type': (t) => t.name, 'vcpu-info.default-vcpus': (t) => String(t.vcpus),
          'memory-info.size-in-mib': (t) => String(t.memoryMiB), 'burstable-performance-supported': (t) => String(t.burstable),
          'processor-info.supported-architecture': (t) => t.architecture, 'current-generation': () => 'true',
          'hypervisor': (t) => (t.runtime === 'container' ? 'nspawn' : 'qemu'),
        };
        const field = fieldOf(get, f.name);
        if (!field) throw invalidParam(`The filter '${f.name}' is invalid`);
        types = types.filter((t) => matches(field(t), f.values));
      }
      return {
        instanceTypeSet: types.map((t) => ({
          instanceType: t.name,
          currentGeneration: true,
          freeTierEligible: t.name === 't2.micro' || t.name === 't3.micro',
          supportedUsageClasses: ['on-demand'],
          supportedRootDeviceTypes: ['ebs'],
          supportedVirtualizationTypes: ['hvm'],
          bareMetal: false,
          hypervisor: t.runtime === 'container' ? 'nspawn' : 'qemu',
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
          // pcloud's own: which runtime launches this type.
          pcloudRuntime: t.runtime,
        })),
      };
    },
  },
};
