/** What Describe* filters see of the region's availability zones and of the catalog's instance types. */
import { instanceTypes, type InstanceType } from './catalog.js';
import { invalidParam } from './errors.js';
import type { Fields } from './filters.js';

/** A zone's id: its place in the region's list of zones (use1-az1, use1-az2, ...). */
export function availabilityZoneId(zones: readonly string[], name: string): string {
  return `use1-az${zones.indexOf(name) + 1}`;
}

export interface AvailabilityZone { id: string; name: string }

/** The region's zones, in order, with their ids. */
export function availabilityZones(zones: readonly string[]): AvailabilityZone[] {
  return zones.map((name) => ({ name, id: availabilityZoneId(zones, name) }));
}

/** The zones DescribeAvailabilityZones' ZoneName list names (no list: all of them); a name not in the region finds none. */
export function zonesNamed(zones: AvailabilityZone[], names: readonly string[]): AvailabilityZone[] {
  return names.length ? zones.filter((z) => names.includes(z.name)) : zones;
}

/** The catalog's types DescribeInstanceTypes' InstanceType list names (no list: all of them); an unknown name is refused. */
export function instanceTypesNamed(names: readonly string[]): InstanceType[] {
  const types = [...instanceTypes.values()];
  if (!names.length) return types;
  const missing = names.filter((n) => !instanceTypes.has(n));
  if (missing.length) throw invalidParam(`The following supplied instance types do not exist: [${missing.join(', ')}]`);
  return types.filter((t) => names.includes(t.name));
}

/** Zones' fields (they have no tags). */
export function availabilityZoneFields(region: string): Fields<AvailabilityZone> {
  return {
    'zone-name': (z) => z.name, 'zone-id': (z) => z.id, 'region-name': () => region, state: () => 'available',
    'zone-type': () => 'availability-zone', 'opt-in-status': () => 'opt-in-not-required', 'group-name': () => region,
  };
}

/** The hypervisor an instance type's instances run on, as DescribeInstanceTypes names it. */
export const hypervisor = (t: InstanceType) => (t.runtime === 'container' ? 'nspawn' : 'qemu');

/** Instance types' fields (they have no tags). */
export const instanceTypeFields: Fields<InstanceType> = {
  'instance-type': (t) => t.name, 'vcpu-info.default-vcpus': (t) => String(t.vcpus),
  'memory-info.size-in-mib': (t) => String(t.memoryMiB), 'burstable-performance-supported': (t) => String(t.burstable),
  'processor-info.supported-architecture': (t) => t.architecture, 'current-generation': () => 'true',
  'hypervisor': hypervisor,
};
