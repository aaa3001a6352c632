/**
 * The data the host drivers and the domain exchange (src/host/index.ts' interfaces take and give these): a bottom
 * file, importing nothing, so that the drivers can implement those interfaces without a circle of imports.
 */
export type PoolKind = 'btrfs' | 'xfs';

export interface Nic {
  instanceId: string;
  vpcId: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
}

/** One allowed flow: protocol (tcp, udp, icmp, or -1 for all), a port range for tcp/udp, and source or destination prefixes. */
export interface FlowRule {
  protocol: string;
  fromPort?: number;
  toPort?: number;
  cidrs: string[];
}

export interface PortRules {
  instanceId: string;
  ingress: FlowRule[];
  egress: FlowRule[];
  /** The instance's address and metadata hop limit: the IP TTL of the metadata service's answers to it. */
  ip?: string;
  hopLimit?: number;
}

/** Where a VPC router meets the world: NAT out of the uplink, and public IPs on a macvlan of the physical network. */
export interface Edge {
  /** An internet gateway is attached: without one nothing leaves by the uplink or the macvlan. */
  internet: boolean;
  external?: {
    /** The host interface the macvlan hangs off (the physical network). */
    parent: string;
    /** The physical network's CIDR and router (if any). */
    cidr: string;
    gateway?: string;
    vpcCidr: string;
    maps: { publicIp: string; privateIp: string }[];
  };
  /**
   * Instances with NFS volumes: their NFS traffic to the host's end of the uplink goes through, each SNATed to its
   * own NFS address (nfsClientAddress), which the host routes back by the uplink and ganesha exports its volume to.
   */
  nfs?: { clients: NfsClient[]; port: number };
}

/** An instance that holds NFS volumes: its address in the VPC, and the address the NFS server knows it by. */
export interface NfsClient {
  ip: string;
  nat: string;
}

export interface DnsRecord {
  ip: string;
  names: string[];
  /** The instance's MAC: DHCP hands this MAC the record's address. */
  mac?: string;
}

export interface VpcDns {
  /** The address DNS listens on (the VPC's base + 2). */
  listen: string;
  domain: string;
  /** Each subnet's network, netmask and gateway, for DHCP. */
  subnets: { id: string; network: string; netmask: string; gateway: string }[];
}

export interface FunctionUnitOptions {
  /** `<account>-<name>-<version>`: the unit's name after `pcloud-fn-`, and the socket's file name. */
  key: string;
  functionName: string;
  version: string;
  arn: string;
  runtime: string;
  handler: string;
  codeDir: string;
  /** Its layers' content digests, in order (host/layers.ts): unpacked, they are its /opt. */
  layers?: string[];
  memoryMiB: number;
  timeoutSec: number;
  environment: Record<string, string>;
  mode: 'per-request' | 'warm';
  idleSec: number;
  region: string;
  /** Reserved concurrency: at most this many invokes of the version at once (its unit's bound instead of the host's, if lower). */
  reservedConcurrency?: number;
  /** A "fat lambda": the function is a VM's console (its VNC socket), served by the console proxy, not a runtime. */
  console?: { instanceId: string; vncPath: string; idleSec: number; stateFile: string };
  /**
   * Temporary credentials of the function's role (a session pcloud minted for it): written where only its processes
   * read them (functions.ts' credentials file), never into the unit's description; none when its role cannot be assumed.
   */
  credentials?: SessionCredentials;
  /** The pcloud API as the function's processes reach it (AWS_ENDPOINT_URL), when pcloud serves one. */
  endpoint?: string;
  /** pcloud's nginx's port (function URLs, Invoke), when it runs: one of the host's ports handlers reach (sandbox-net.ts). */
  nginxPort?: number;
}

/** A role session's temporary credentials, as STS gives them. */
export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export interface InvokeResult {
  status: number;
  payload: Buffer;
  functionError?: string;
  log?: string;
  requestId: string;
  /** The runtime process answered its first invoke (the shim's X-Pcloud-Cold-Start: invocation-stats.ts). */
  coldStart?: boolean;
}

/** The pcloud API's service names and the address they resolve to in every VPC (dns.ts). */
export interface ServiceRecords {
  address: string;
  names: string[];
}

/** The API's TLS key and certificate (PEM), the CA that signed it, and when it expires (tls.ts). */
export interface ServerCredentials {
  key: string;
  cert: string;
  ca: string;
  notAfter: Date;
}
