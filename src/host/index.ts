/** The host drivers the domain acts through. */
import type { DnsDriver } from './dns.js';
import type { IscsiTarget } from './iscsi.js';
import type { FunctionHost } from './functions.js';
import type { NfsServer } from './nfs.js';
import type { MetadataListeners } from './metadata.js';
import type { NetworkDriver } from './network.js';
import type { StoragePool } from './storage.js';
import type { UnitManager } from './units/types.js';
import type { VmControl } from './vm-control.js';

export type { VmControl, VmDisk, VmRunState } from './vm-control.js';

export interface Host {
  pool: StoragePool;
  units: UnitManager;
  network: NetworkDriver;
  dns: DnsDriver;
  metadata: MetadataListeners;
  iscsi: IscsiTarget;
  functions: FunctionHost;
  nfs: NfsServer;
  /** Running VMs' controls (QMP). Absent: QMP under the cloud's run directory (src/host/qmp-vm-control.ts). */
  vms?: VmControl;
}
