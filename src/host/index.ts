/**
 * The host drivers the domain acts through, as interfaces: the concrete drivers (storage.ts, network.ts, dns.ts,
 * metadata.ts, iscsi.ts, nfs.ts, functions.ts, qmp-vm-control.ts, units/) implement them, test doubles
 * (test/support/fake-*.ts) too. open.ts builds the real ones from one HostConfig (config.ts).
 */
import type { Socket } from 'node:net';
import type { HostConfig } from './config.js';
import type {
  DnsRecord, Edge, FunctionUnitOptions, InvokeResult, Nic, PoolKind, PortRules, ServerCredentials, ServiceRecords, SessionCredentials, VpcDns,
} from './types.js';
import type { UnitManager } from './units/types.js';
import type { VmControl } from './vm-control.js';
import type { Overlay } from './vxlan.js';
import type { RelayAnswer, RelayRequest } from './function-relay.js';

export type { VmControl, VmDisk, VmRunState } from './vm-control.js';
export type { HostConfig } from './config.js';
export type { Overlay, OverlayPeer } from './vxlan.js';
export type { RelayAnswer, RelayRequest } from './function-relay.js';
export type * from './types.js';

/**
 * The storage pool: image roots, instance disks forked from them, VMs' raw disks and state, volumes and snapshots
 * (storage.ts: btrfs or XFS with reflink).
 */
export interface HostPool {
  readonly kind: PoolKind;
  imagePath(imageId: string): string;
  diskPath(instanceId: string): string;
  /** A fresh image root to unpack into, marked as this process's (reconcile removes abandoned ones). */
  createImageRoot(name: string): Promise<string>;
  markOwner(name: string, on?: boolean): Promise<void>;
  /** An instance's disk copied into a new image root (CreateImage of a container). */
  imageRootFromDisk(instanceId: string, name: string): Promise<string>;
  /** A built image root moved to its final name, read-only. */
  sealImage(buildPath: string, imageId: string): Promise<string>;
  /** An image forked into an instance's root disk, held to `sizeGiB` where the pool enforces sizes. */
  fork(imageRoot: string, instanceId: string, sizeGiB?: number): Promise<string>;
  hasDisk(instanceId: string): Promise<boolean>;
  removeDisk(instanceId: string): Promise<void>;
  stateDir(instanceId: string): string;
  vmDir(imageId: string): string;
  rawDiskPath(instanceId: string): string;
  forkRaw(imageId: string, instanceId: string): Promise<string>;
  volumePath(volumeId: string): string;
  snapshotPath(snapshotId: string): string;
  createVolume(volumeId: string, sizeGiB: number, fromSnapshot?: string): Promise<string>;
  snapshotFile(file: string, snapshotId: string): Promise<void>;
  removeVolume(volumeId: string): Promise<void>;
  /** The volumes with a file here (finished or not). */
  listVolumes(): Promise<string[]>;
  removeSnapshot(snapshotId: string): Promise<void>;
  /** The snapshots with a file here (finished or not). */
  listSnapshots(): Promise<string[]>;
  copyRawDisk(instanceId: string, dest: string): Promise<void>;
  removeImage(imageId: string): Promise<void>;
  listImageRoots(): Promise<{ name: string; ownerPid?: number }[]>;
  listDisks(): Promise<string[]>;
}

/** VPC routers, instance ports (veth or tap) routed as /32s on them, their firewalls and edges (network.ts). */
export interface HostNetwork {
  /** This data dir's network namespaces. */
  namespaces(): Promise<string[]>;
  ensureVpc(vpcId: string, gateways: { address: string; prefixLength: number }[]): Promise<void>;
  setEdge(vpcId: string, edge: Edge): Promise<void>;
  /** A container's namespace and port; returns the namespace's path. */
  attach(nic: Nic): Promise<string>;
  applyFirewall(vpcId: string, ports: PortRules[]): Promise<void>;
  attachTap(nic: Nic): Promise<void>;
  ports(vpcId: string): Promise<string[]>;
  removePort(vpcId: string, port: string): Promise<void>;
  detachTap(vpcId: string, instanceId: string): Promise<void>;
  detach(instanceId: string): Promise<void>;
  /** Links left of routers that are gone; returns how many were removed. */
  reconcileLinks(): Promise<number>;
  removeVpc(vpcId: string): Promise<void>;
  /**
   * The VPC's router (ensureVpc first) joined over VXLAN to the same VPC's routers on other hosts: one VNI per VPC,
   * forwarding only to the instances of `overlay.peers` (no flooding); asked again with other peers, it converges.
   */
  joinVpc(vpcId: string, overlay: Overlay): Promise<void>;
  /** The VPC's router leaves the overlay (its device, entries and filter go). */
  leaveVpc(vpcId: string): Promise<void>;
}

/** DNS and DHCP per VPC (dns.ts: a dnsmasq unit in the router's namespace). */
export interface HostDns {
  /** The pcloud API's service names and their address in every VPC (from the next start of each VPC's DNS). */
  serve(services: ServiceRecords): void;
  ensure(vpcId: string, vpc: VpcDns): Promise<void>;
  publish(vpcId: string, records: DnsRecord[]): Promise<void>;
  release(vpcId: string, instanceId: string, ip: string, mac: string): Promise<void>;
  remove(vpcId: string): Promise<void>;
}

/** The metadata address's listeners in each VPC router (metadata.ts); connections go to `handle`'s function. */
export interface HostMetadata {
  handle(fn: (vpcId: string, socket: Socket) => void): void;
  ensure(vpcId: string): Promise<void>;
  close(vpcId: string): void;
  closeAll(): void;
}

/** Volumes exported to VMs over iSCSI (iscsi.ts: pcloud's tgtd). */
export interface HostIscsi {
  ensure(): Promise<void>;
  addPortal(address: string): Promise<void>;
  export(volumeId: string, file: string, initiator: string, opts?: { readOnly?: boolean }): Promise<void>;
  unexport(volumeId: string): Promise<void>;
  /** The volumes exported now (none while the target is not running). */
  exportedVolumes(): Promise<string[]>;
  /** Copy another host's export (its iscsi:// URL) into `file`, whole or not at all (nothing of it if `signal` aborts). */
  copyFrom(uri: string, file: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** The URL QEMU opens a volume's export by. */
  uri(volumeId: string, portal: string): string;
}

/** Volumes exported to containers over NFS and mounted inside them (nfs.ts: pcloud's nfs-ganesha). */
export interface HostNfs {
  readonly port: number;
  export(volumeId: string, file: string, client: string): Promise<void>;
  unexport(volumeId: string): Promise<void>;
  mountInto(leaderPid: number, server: string, volumeId: string, target: string): Promise<void>;
  unmountFrom(leaderPid: number, target: string): Promise<void>;
}

/** Lambda function code and units (functions.ts): a socket unit per function version, invoked over its socket. */
export interface HostFunctions {
  socketPath(key: string): string;
  codeDir(accountId: string, name: string, revision: string): string;
  /** max: what it may unzip to (Lambda's 250 MB unless said: less beside layers). */
  unpack(accountId: string, name: string, revision: string, zip: Buffer, max?: number): Promise<string>;
  removeCode(accountId: string, name?: string): Promise<void>;
  /**
   * Whether this host has a revision's code unpacked, and a layer's content (a host of a cloud of several takes what it
   * lacks from the state database: cloud/functions/packages.ts).
   */
  hasCode(accountId: string, name: string, revision: string): boolean;
  hasLayer(digest: string): boolean;
  /** The accounts with code on this host, and the functions of one (names as stored). */
  codeAccounts(): Promise<string[]>;
  codeNames(accountId: string): Promise<string[]>;
  /**
   * Layers (layers.ts): a layer's zip unpacked once by its digest (sha256, hex), resolving to its unzipped size; its
   * content removed; the bytes a revision's code unzipped to (counted with its layers against Lambda's 250 MB). A host
   * without them (a test double) takes no layers.
   */
  unpackLayer?(digest: string, zip: Buffer): Promise<number>;
  removeLayer?(digest: string): Promise<void>;
  /** The layers unpacked on this host, by digest. */
  layerDigests?(): Promise<string[]>;
  codeBytes?(accountId: string, name: string, revision: string): Promise<number>;
  ensure(o: FunctionUnitOptions): Promise<void>;
  /**
   * The next ensure of these units checks each against its options again, rather than trusting it started them (they
   * may have changed through another host's API).
   */
  recheck(keys: Iterable<string>): void;
  stop(key: string): Promise<void>;
  /** Every function unit there is (reconcile). */
  list(): Promise<string[]>;
  invoke(key: string, payload: Buffer, opts: { requestId: string; tail: boolean; timeoutSec: number }): Promise<InvokeResult>;
  /** A function URL's request relayed to the function's socket (function-relay.ts: the URLs pcloud's API counts). */
  relay(key: string, req: RelayRequest, opts: { timeoutSec: number }): Promise<RelayAnswer>;
  /**
   * A running function version's role credentials renewed (or, undefined, withdrawn): what its processes read at their
   * next invoke. A host without them (a test double) takes none.
   */
  renewCredentials?(key: string, credentials: SessionCredentials | undefined): Promise<void>;
  /** The server stops: what it gave the host for its functions' sake is withdrawn (sandbox-net.ts' API port). */
  close?(): Promise<void>;
  /** What the host keeps for its functions put back if something else took it away (sandbox-net.ts' table). */
  keepNetwork?(): Promise<void>;
}

export interface Host {
  /** What the host was opened with, for the host functions the domain calls itself (firmware, the image mirror). */
  config: HostConfig;
  pool: HostPool;
  units: UnitManager;
  network: HostNetwork;
  dns: HostDns;
  metadata: HostMetadata;
  iscsi: HostIscsi;
  functions: HostFunctions;
  nfs: HostNfs;
  /** Running VMs' controls (QMP under the cloud's run directory: qmp-vm-control.ts). */
  vms: VmControl;
  /** pcloud's CA and the API's certificate it signs (tls.ts): guests trust the CA, the API in each VPC serves the certificate. */
  tls: HostTls;
  /** The machine itself (machine.ts): its boot and what it offers. */
  machine: HostMachine;
}

/** The machine itself: which boot it is in, and what it offers to instances. */
export interface HostMachine {
  /** The kernel's boot id: it changes at every boot (and every unit of the last boot is gone). */
  bootId(): Promise<string>;
  capacity(): Promise<MachineCapacity>;
}

export interface MachineCapacity {
  hostname: string;
  vcpus: number;
  memoryMiB: number;
  /** The runtimes it has the programs for. */
  runtimes: ('container' | 'microvm' | 'q35')[];
  /** Whether /dev/kvm is there to use (the cloud's PCLOUD_VM_ACCEL still says whether VMs use it). */
  kvm: boolean;
}

/** pcloud's own CA (tls.ts). */
export interface HostTls {
  /** The CA's certificate (PEM). */
  certificate(): string;
  /** The API's key and certificate for these names and addresses (kept while fresh). */
  server(names: readonly string[], addresses: readonly string[], now?: Date): ServerCredentials;
}
