/**
 * Containers on systemd-nspawn: the unit that boots an instance's root disk, as systemd's own
 * systemd-nspawn@.service does (Type=notify, KillMode=mixed, Delegate=yes, reboot = exit 133).
 */
import type { UnitSpec } from './units/types.js';

export interface ContainerOptions {
  instanceId: string;
  rootDir: string;
  hostname: string;
  vcpus: number;
  memoryMiB: number;
  /** Register with machined (systemd hosts); on hosts without a system bus nspawn must not try. */
  register: boolean;
  readyTimeoutSec: number;
  /** A network namespace prepared for the container (its eth0 on the VPC bridge); none: loopback only. */
  networkNamespace?: string;
}

export function containerUnitName(instanceId: string): string {
  return `pcloud-instance@${instanceId}`;
}

export function nspawnArgs(o: ContainerOptions): string[] {
  return [
    'systemd-nspawn',
    '--quiet',
    '--keep-unit',
    `--register=${o.register ? 'yes' : 'no'}`,
    '--boot',
    '--notify-ready=yes',
    `--directory=${o.rootDir}`,
    `--machine=${o.instanceId}`,
    `--hostname=${o.hostname}`,
    o.networkNamespace ? `--network-namespace-path=${o.networkNamespace}` : '--private-network',
    '--link-journal=no',
    '--resolv-conf=off',
    '--timezone=off',
    '--console=read-only',
  ];
}

export function containerUnit(o: ContainerOptions): UnitSpec {
  return {
    name: containerUnitName(o.instanceId),
    description: `pcloud instance ${o.instanceId} (systemd-nspawn container)`,
    exec: nspawnArgs(o),
    type: 'notify',
    startTimeoutSec: o.readyTimeoutSec,
    stopTimeoutSec: 30,
    // nspawn turns SIGTERM into an orderly poweroff of the container's systemd.
    killSignal: 'SIGTERM',
    restartForceExitStatus: [133],
    delegate: true,
    limits: {
      cpuQuotaPercent: o.vcpus * 100,
      memoryMaxBytes: o.memoryMiB * 1024 * 1024,
      tasksMax: 4096,
    },
  };
}
