/**
 * Containers on systemd-nspawn: the unit that boots an instance's root disk, as systemd's own
 * systemd-nspawn@.service does (Type=notify, KillMode=mixed, Delegate=yes, reboot = exit 133).
 */
import type { UnitManager, UnitSpec } from './units/types.js';
import { run } from './exec.js';

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

/** The PID of a running container's init (its namespaces are entered through it): from nspawn's notify, or machined. */
export async function containerLeader(units: UnitManager, instanceId: string): Promise<number> {
  const st = await units.status(containerUnitName(instanceId));
  const pid = Number(st?.notify?.X_NSPAWN_LEADER_PID);
  if (pid > 0) return pid;
  const res = await run('machinectl', ['show', instanceId, '-p', 'Leader', '--value'], { reject: false });
  const leader = Number(res.stdout.trim());
  if (!(leader > 0)) throw new Error(`no running container for ${instanceId}`);
  return leader;
}
