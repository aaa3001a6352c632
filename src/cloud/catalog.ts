/**
 * The instance-type catalog: what each type gives the guest and which runtime runs it. Families map to runtimes
 * (containers on systemd-nspawn; microvm and q35 QEMU VMs are catalogued, launched once their runtime lands).
 */
export type Runtime = 'container' | 'microvm' | 'q35';

export interface InstanceType {
  name: string;
  vcpus: number;
  memoryMiB: number;
  runtime: Runtime;
  burstable: boolean;
  architecture: 'x86_64' | 'arm64';
}

export const defaultFamilyRuntime: Record<string, Runtime> = {
  t2: 'container', t3: 'container', t3a: 'container', t4g: 'container',
  m5: 'microvm', m6i: 'microvm', c5: 'microvm', c6i: 'microvm', r5: 'microvm', r6i: 'microvm',
};

/**
 * The table in use: the defaults, with PCLOUD_RUNTIMES (`family=runtime,...`, e.g. `t3=microvm,m5=container`)
 * applied over them. A family not in the defaults is not a type pcloud knows; a runtime must be one of the three.
 */
export function familyRuntimes(env: string | undefined = process.env.PCLOUD_RUNTIMES): Record<string, Runtime> {
  const out = { ...defaultFamilyRuntime };
  for (const pair of (env ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [family, runtime] = pair.split('=').map((x) => x.trim());
    if (!family || !Object.hasOwn(defaultFamilyRuntime, family)) throw new Error(`PCLOUD_RUNTIMES: unknown instance family '${family}'`);
    if (runtime !== 'container' && runtime !== 'microvm' && runtime !== 'q35') throw new Error(`PCLOUD_RUNTIMES: '${runtime}' is not a runtime (container, microvm, q35)`);
    out[family] = runtime;
  }
  return out;
}

export const familyRuntime = familyRuntimes();

const sizes: Record<string, [number, number]> = {
  nano: [2, 512], micro: [2, 1024], small: [2, 2048], medium: [2, 4096], large: [2, 8192], xlarge: [4, 16384],
  '2xlarge': [8, 32768],
};
const memFactor: Record<string, number> = { m5: 2, m6i: 2, c5: 1, c6i: 1, r5: 4, r6i: 4 };

function build(): Map<string, InstanceType> {
  const out = new Map<string, InstanceType>();
  for (const [family, runtime] of Object.entries(familyRuntime)) {
    const burstable = family.startsWith('t');
    for (const [size, [vcpus, mem]] of Object.entries(sizes)) {
      if (!burstable && ['nano', 'micro', 'small', 'medium'].includes(size)) continue;
      const memoryMiB = burstable ? mem : (vcpus * 2048 * (memFactor[family] ?? 2));
      out.set(`${family}.${size}`, {
        name: `${family}.${size}`,
        vcpus,
        memoryMiB,
        runtime,
        burstable,
        architecture: family.endsWith('g') ? 'arm64' : 'x86_64',
      });
    }
  }
  return out;
}

export const instanceTypes = build();

export function family(type: string): string {
  return type.split('.')[0] ?? type;
}
