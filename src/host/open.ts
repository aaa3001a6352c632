/** The host's drivers, made from one HostConfig (config.ts): what Cloud.open acts through. */
import { join } from 'node:path';
import type { HostConfig } from './config.js';
import { DnsDriver } from './dns.js';
import { FunctionHost } from './functions.js';
import type { Host } from './index.js';
import { IscsiTarget } from './iscsi.js';
import { LocalMachine } from './machine.js';
import { MetadataListeners } from './metadata.js';
import { NetworkDriver } from './network.js';
import { NfsServer } from './nfs.js';
import { QmpVmControl } from './qmp-vm-control.js';
import { StoragePool } from './storage.js';
import { openUnitManager } from './units/index.js';
import { PcloudCa } from './tls.js';

/** Open the host under `dataDir`: its storage pool, its unit manager, and the drivers that act through them. */
export async function openHost(dataDir: string, config: HostConfig): Promise<Host> {
  const run = join(dataDir, 'run');
  const units = await openUnitManager(run, undefined, config);
  return {
    config,
    pool: await StoragePool.open(dataDir),
    units,
    network: new NetworkDriver(dataDir),
    dns: new DnsDriver(units, join(run, 'dns'), config.dnsUpstream),
    metadata: new MetadataListeners(),
    functions: new FunctionHost(units, dataDir, run, {
      concurrency: config.lambdaConcurrency, cpuPercent: config.lambdaCpuPercent, python: config.python,
      sandboxUidDir: config.sandboxUidDir,
    }),
    nfs: new NfsServer(units, join(run, 'nfs'), config.nfsPort),
    iscsi: new IscsiTarget(units, { controlPort: config.iscsiControlPort, port: config.iscsiPort }),
    vms: new QmpVmControl(run),
    tls: new PcloudCa(join(dataDir, 'keys', 'tls')),
    machine: new LocalMachine(),
  };
}
