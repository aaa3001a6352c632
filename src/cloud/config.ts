import { envValue, envWhole } from '../env.js';

/** What the domain needs to know about where it runs. */
export interface CloudConfig {
  region: string;
  availabilityZones: string[];
  /** How long terminated instances stay visible (AWS: about an hour). */
  terminatedTtlMs: number;
  /** How long a container may take to report READY before it is terminated. */
  readyTimeoutSec: number;
  defaultVpcCidr: string;
  /** 'vpc' (default): instances as routed /32s on their VPC's router; 'none': loopback only (hosts without network namespaces). */
  networking: 'vpc' | 'none';
  /**
   * The host's physical network, where public IPs live: instances that get one (a subnet's MapPublicIpOnLaunch, or
   * AssociatePublicIpAddress at launch) are reachable there through a macvlan of their VPC router on `parent`, 1:1
   * NATed to their private address as AWS's internet gateway does. Unset: no public IPs.
   */
  external?: ExternalNetwork;
  /** How VMs run: `kvm` where /dev/kvm works (PCLOUD_VM_ACCEL=kvm), `tcg` (software) otherwise; the default is tcg. */
  vmAccel?: 'kvm' | 'tcg';
  /** How long a stopping VM's operating system may take to power off after the ACPI button before QEMU is stopped. */
  vmShutdownTimeoutSec: number;
  /** Where runtime state (sockets) lives: DATA/run. */
  runDir?: string;
  /** What one account may hold, and how much launching the host does at once. */
  limits: Limits;
  /** How long a warm function worker stays after its last invoke. */
  lambdaIdleSec: number;
  /**
   * PCLOUD_STRICT_SHAPES=1: an answer member the AWS service model lacks fails the request (an internal error naming
   * it) instead of being left out. The tests run the server so; off in service.
   */
  strictShapes?: boolean;
  /** Placement and the hosts' heartbeats (hosts/placement.ts, hosts/registry.ts). */
  hosts: HostsConfig;
}

/**
 * How instances are placed on hosts, and when a host counts as lost: PCLOUD_CPU_OVERCOMMIT, PCLOUD_MEMORY_OVERCOMMIT,
 * PCLOUD_HOST_HEARTBEAT_SEC, PCLOUD_HOST_TIMEOUT_SEC.
 */
export interface HostsConfig {
  /**
   * The vCPUs a host may promise its instances (pending, running, stopping), as a multiple of its processors: a vCPU is
   * a ceiling (a container's CPU quota, a VM's thread), not a reservation, and small instances idle most of the time.
   */
  cpuOvercommit: number;
  /** The memory a host may promise its instances, as a multiple of its own (also a ceiling: touched, not reserved). */
  memoryOvercommit: number;
  /** How often a serving host writes its heartbeat. */
  heartbeatSec: number;
  /** A host whose heartbeat is older than this is lost: nothing is placed on it, its instances show impaired. */
  heartbeatTimeoutSec: number;
  /** The zone this host serves (PCLOUD_HOST_ZONE; one of PCLOUD_AZS): unset, the first of them. */
  zone?: string;
  /**
   * The state database's URL as hosts that join reach it (PCLOUD_JOIN_DATABASE_URL): unset, the URL this server was
   * given (--database); a server on SQLite takes no hosts.
   */
  joinDatabaseUrl?: string;
}

/**
 * The defaults. CPU: 32 vCPUs a processor, so a 2-core host holds one account's default vCPU quota (64: 32 t3.micro;
 * the container suite launches 20 t3.nano at once there): vCPUs of small instances are ceilings, mostly idle, and memory
 * binds first. Memory: 1.5 times the host's (instances rarely touch all of theirs; more and the host swaps or kills).
 */
export const defaultHostsConfig: HostsConfig = { cpuOvercommit: 32, memoryOvercommit: 1.5, heartbeatSec: 10, heartbeatTimeoutSec: 30 };

/** A ratio above 0 (at most 1000, three decimals at most), `fallback` when unset. */
function envRatio(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = envValue(env, name);
  if (raw === undefined) return fallback;
  const n = /^\d{1,4}(\.\d{1,3})?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(n > 0 && n <= 1000)) throw new Error(`${name} must be a number above 0 and at most 1000 (e.g. 1.5), not ${JSON.stringify(raw.slice(0, 40))}`);
  return n;
}

function hostsFromEnv(env: NodeJS.ProcessEnv): HostsConfig {
  const d = defaultHostsConfig;
  const heartbeatSec = envWhole(env, 'PCLOUD_HOST_HEARTBEAT_SEC', d.heartbeatSec, 1, 3600);
  const heartbeatTimeoutSec = envWhole(env, 'PCLOUD_HOST_TIMEOUT_SEC', Math.max(d.heartbeatTimeoutSec, 3 * heartbeatSec), 1, 86_400);
  // A timeout within two heartbeats calls a host lost when one write is late.
  if (heartbeatTimeoutSec < 2 * heartbeatSec) {
    throw new Error(`PCLOUD_HOST_TIMEOUT_SEC (${heartbeatTimeoutSec}) must be at least twice PCLOUD_HOST_HEARTBEAT_SEC (${heartbeatSec})`);
  }
  return {
    cpuOvercommit: envRatio(env, 'PCLOUD_CPU_OVERCOMMIT', d.cpuOvercommit),
    memoryOvercommit: envRatio(env, 'PCLOUD_MEMORY_OVERCOMMIT', d.memoryOvercommit),
    heartbeatSec, heartbeatTimeoutSec,
    zone: envValue(env, 'PCLOUD_HOST_ZONE'),
    joinDatabaseUrl: envValue(env, 'PCLOUD_JOIN_DATABASE_URL'),
  };
}

/**
 * Limits per account (as AWS's service quotas), set by the operator: PCLOUD_LIMIT_INSTANCES, PCLOUD_LIMIT_VCPUS,
 * PCLOUD_LIMIT_FUNCTIONS, PCLOUD_LIMIT_CODE_STORAGE_BYTES, PCLOUD_LIMIT_VPCS, PCLOUD_LIMIT_CONCURRENT_EXECUTIONS,
 * PCLOUD_LIMIT_VOLUME_MOVES; and
 * PCLOUD_LAUNCH_CONCURRENCY for the host.
 */
export interface Limits {
  /** Instances an account may have pending, running or stopping (EC2's InstanceLimitExceeded). */
  instances: number;
  /** vCPUs those instances may add up to (EC2's VcpuLimitExceeded). */
  vcpus: number;
  /** Lambda functions an account may have (AWS has no such quota; a host has: each function is a unit and a route). */
  functions: number;
  /** Deployment packages (zipped) an account may store, every function and version together (AWS: 75 GB; here 10 GiB). */
  codeStorageBytes: number;
  /** VPCs an account may have, its default VPC included (EC2's VpcLimitExceeded; AWS: 5 a region). */
  vpcs: number;
  /**
   * Invocations an account may have running at once, every function together (Lambda's ConcurrentExecutions; AWS:
   * 1000, here 100, a 2-core host's worth): one more is refused with TooManyRequestsException "Rate Exceeded.".
   */
  concurrentExecutions: number;
  /**
   * Volumes an account may have moving at once to the hosts of the instances they are attached to (cloud/volume-moves.ts;
   * EC2's ResourceLimitExceeded, as for too many snapshot copies in progress).
   */
  volumeMoves: number;
  /** Launches that work on the host at once, every account together; the rest wait their turn, still pending. */
  launchConcurrency: number;
}

export const defaultLimits: Limits = {
  instances: 32, vcpus: 64, functions: 100, codeStorageBytes: 10 * 2 ** 30, vpcs: 5, concurrentExecutions: 100, volumeMoves: 4, launchConcurrency: 4,
};

function limitsFromEnv(env: NodeJS.ProcessEnv): Limits {
  return {
    instances: envWhole(env, 'PCLOUD_LIMIT_INSTANCES', defaultLimits.instances),
    vcpus: envWhole(env, 'PCLOUD_LIMIT_VCPUS', defaultLimits.vcpus),
    functions: envWhole(env, 'PCLOUD_LIMIT_FUNCTIONS', defaultLimits.functions),
    codeStorageBytes: envWhole(env, 'PCLOUD_LIMIT_CODE_STORAGE_BYTES', defaultLimits.codeStorageBytes),
    vpcs: envWhole(env, 'PCLOUD_LIMIT_VPCS', defaultLimits.vpcs),
    concurrentExecutions: envWhole(env, 'PCLOUD_LIMIT_CONCURRENT_EXECUTIONS', defaultLimits.concurrentExecutions),
    volumeMoves: envWhole(env, 'PCLOUD_LIMIT_VOLUME_MOVES', defaultLimits.volumeMoves),
    launchConcurrency: envWhole(env, 'PCLOUD_LAUNCH_CONCURRENCY', defaultLimits.launchConcurrency),
  };
}

export interface ExternalNetwork {
  parent: string;
  cidr: string;
  /** First and last address handed out as public IPs. */
  pool: [string, string];
  /** The physical network's router: instances with a public IP reach beyond its subnet through it. */
  gateway?: string;
}

function externalFromEnv(env: NodeJS.ProcessEnv): ExternalNetwork | undefined {
  const { PCLOUD_EXTERNAL_PARENT: parent, PCLOUD_EXTERNAL_CIDR: cidr, PCLOUD_EXTERNAL_POOL: pool } = env;
  if (!parent && !cidr && !pool) return undefined;
  const range = (pool ?? '').split('-').map((s) => s.trim());
  if (!parent || !cidr || range.length !== 2 || !range[0] || !range[1]) {
    throw new Error('an external network needs PCLOUD_EXTERNAL_PARENT, PCLOUD_EXTERNAL_CIDR and PCLOUD_EXTERNAL_POOL (first-last)');
  }
  return { parent, cidr, pool: [range[0], range[1]], gateway: env.PCLOUD_EXTERNAL_GATEWAY || undefined };
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
    external: externalFromEnv(env),
    vmAccel: env.PCLOUD_VM_ACCEL === 'kvm' ? 'kvm' : 'tcg',
    vmShutdownTimeoutSec: Number(env.PCLOUD_VM_SHUTDOWN_TIMEOUT_SEC ?? 120),
    limits: limitsFromEnv(env),
    lambdaIdleSec: envWhole(env, 'PCLOUD_LAMBDA_IDLE_SEC', 60),
    strictShapes: env.PCLOUD_STRICT_SHAPES === '1',
    hosts: hostsFromEnv(env),
  };
}

/** The zone this host serves: PCLOUD_HOST_ZONE, which must be one of the cloud's zones, or else the first of them. */
export function hostZone(config: Pick<CloudConfig, 'availabilityZones' | 'hosts'>): string {
  const zone = config.hosts.zone;
  if (zone === undefined) return config.availabilityZones[0]!;
  if (!config.availabilityZones.includes(zone)) {
    throw new Error(`PCLOUD_HOST_ZONE (${JSON.stringify(zone.slice(0, 40))}) must be one of the zones of PCLOUD_AZS (${config.availabilityZones.join(', ')})`);
  }
  return zone;
}
