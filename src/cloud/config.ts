/** What the domain needs to know about where it runs. */
export interface CloudConfig {
  region: string;
  availabilityZones: string[];
  /** How long terminated instances stay visible (AWS: about an hour). */
  terminatedTtlMs: number;
  /** How long a container may take to report READY before it is terminated. */
  readyTimeoutSec: number;
  defaultVpcCidr: string;
  /** 'vpc' (default): instances on their VPC's bridge; 'none': loopback only (hosts without network namespaces). */
  networking: 'vpc' | 'none';
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): CloudConfig {
  const region = env.PCLOUD_REGION ?? 'us-east-1';
  return {
    region,
    availabilityZones: (env.PCLOUD_AZS ?? `${region}a`).split(',').map((s) => s.trim()).filter(Boolean),
    terminatedTtlMs: Number(env.PCLOUD_TERMINATED_TTL_SEC ?? 3600) * 1000,
    readyTimeoutSec: Number(env.PCLOUD_READY_TIMEOUT_SEC ?? 120),
    defaultVpcCidr: '172.31.0.0/16',
    networking: env.PCLOUD_NETWORKING === 'none' ? 'none' : 'vpc',
  };
}
