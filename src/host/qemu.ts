/**
 * Linux VMs on QEMU `microvm`: the unit that boots an instance's raw disk with its image's kernel and initrd. QEMU runs
 * in the VPC router's namespace, where its tap (the instance's port) is; a small wrapper (vm-ready.ts) turns the
 * guest's readiness line on a virtio-serial port into sd_notify READY=1. The guest gets its address by DHCP and its
 * identity from the metadata service. microvm booting a kernel directly has no firmware and so no SMBIOS tables (the
 * guest logs "DMI not present"): an `ec2…` uuid cannot reach cloud-init's ds-identify that way, so the kernel command
 * line names the datasource (`ci.ds=Ec2`), and cloud-init, seeing no AWS hardware, reads the service without a token.
 */
import { readFileSync } from 'node:fs';
import { kernelCloudConfig } from './seed.js';
import { join } from 'node:path';
import type { VmArtifacts } from './images.js';
import { portName, routerNs } from './network.js';
import { projectRoot } from '../paths.js';
import { hostPath, qemuFile, qemuOpts } from './qemu-opts.js';
import type { UnitSpec } from './units/types.js';

export interface MicrovmOptions {
  instanceId: string;
  vpcId: string;
  mac: string;
  vcpus: number;
  memoryMiB: number;
  artifacts: VmArtifacts;
  disk: string;
  /** Volumes (iscsi:// URLs), after the root disk: the guest's vdb, vdc, ... */
  volumes?: { id: string; uri: string }[];
  /** Where the unit keeps its sockets (readiness, QMP). */
  runDir: string;
  accel: 'kvm' | 'tcg';
  readyTimeoutSec: number;
  /** CA certificates the guest's cloud-init installs (on the kernel command line: the Ec2 datasource has no vendor-data). */
  caCerts?: readonly string[];
}

/** The host's TSC rate: without it a TCG guest may hang calibrating against the PIT. */
function tscKhz(): number | undefined {
  const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** A volume's disk serial in the guest: its id without the dash (`vol0123…`, as EBS's NVMe serials are). */
export const diskSerial = (volumeId: string) => volumeId.replace('-', '');

/** Volumes as QEMU drives and virtio disks whose serial is the volume id (diskSerial). */
export function volumeArgs(volumes: { id: string; uri: string }[], device: string): string[] {
  return volumes.flatMap((v) => [
    '-drive', qemuOpts(undefined, { id: v.id, file: qemuFile(v.uri), format: 'raw', if: 'none', cache: 'none' }),
    '-device', qemuOpts(device, { drive: v.id, serial: diskSerial(v.id) }),
  ]);
}

/** A VM's QMP socket in its run directory. */
export const qmpSocket = (runDir: string) => join(runDir, 'qmp.sock');

/**
 * QMP on a UNIX socket QEMU listens on: what `-qmp unix:PATH,server=on,wait=off` means, with the path under its own
 * key (in `unix:PATH`'s place a `=` in the path would start a key of its own).
 */
export function qmpArgs(path: string): string[] {
  return ['-chardev', qemuOpts('socket', { id: 'qmp', path: hostPath(path), server: true, wait: false }), '-mon', qemuOpts(undefined, { chardev: 'qmp', mode: 'control' })];
}

/** QEMU's own seccomp filter: no obsolete system calls, no privileges gained, no processes spawned, no limits changed. */
export const SANDBOX = qemuOpts('on', { obsolete: 'deny', elevateprivileges: 'deny', spawn: 'deny', resourcecontrol: 'deny' });

export function microvmArgs(o: MicrovmOptions): string[] {
  const khz = tscKhz();
  const append = ['console=ttyS0', 'root=/dev/vda', 'rw', 'panic=-1', ...(khz ? [`tsc_early_khz=${khz}`] : []),
    'i8042.noaux', 'i8042.nomux', 'i8042.nopnp', 'i8042.dumbkbd', '8250.nr_uarts=1', 'cryptomgr.notests', 'ci.ds=Ec2', ...(o.caCerts?.length ? [kernelCloudConfig(o.caCerts)] : [])].join(' ');
  return [
    'qemu-system-x86_64',
    '-M', qemuOpts('microvm', { 'x-option-roms': false, 'isa-serial': true, rtc: true }),
    '-accel', o.accel, '-cpu', o.accel === 'kvm' ? 'host' : 'max',
    '-m', String(o.memoryMiB), '-smp', String(o.vcpus),
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio',
    // -kernel, -initrd and -append take their argument whole (no option syntax: a comma is itself).
    '-kernel', hostPath(o.artifacts.kernel), '-initrd', hostPath(o.artifacts.initrd), '-append', append,
    '-drive', qemuOpts(undefined, { id: 'root', file: qemuFile(o.disk), format: 'raw', if: 'none', cache: 'none', aio: 'threads' }),
    '-device', qemuOpts('virtio-blk-device', { drive: 'root' }),
    ...volumeArgs(o.volumes ?? [], 'virtio-blk-device'),
    '-netdev', qemuOpts('tap', { id: 'n0', ifname: portName(o.instanceId), script: 'no', downscript: 'no' }),
    '-device', qemuOpts('virtio-net-device', { netdev: 'n0', mac: o.mac }),
    '-device', 'virtio-serial-device',
    '-chardev', qemuOpts('socket', { id: 'ready', path: hostPath(join(o.runDir, 'ready.sock')) }),
    '-device', qemuOpts('virtserialport', { chardev: 'ready', name: 'org.pcloud.ready' }),
    ...qmpArgs(qmpSocket(o.runDir)),
    '-sandbox', SANDBOX,
  ];
}

/**
 * A VM's unit: QEMU run in its VPC router's namespace (where its tap is) under vm-ready.js, which says READY=1 when
 * `ready` tells it to (the guest's readiness socket, or `--qmp SOCKET`: the machine runs); limits from the type.
 */
export function vmUnit(o: { instanceId: string; vpcId: string; vcpus: number; memoryMiB: number; machine: string; ready: string[];
  qemu: string[]; startTimeoutSec: number; overheadMiB: number }): UnitSpec {
  return {
    name: `pcloud-instance@${o.instanceId}`,
    description: `pcloud instance ${o.instanceId} (QEMU ${o.machine})`,
    exec: ['ip', 'netns', 'exec', routerNs(o.vpcId), process.execPath, join(projectRoot(), 'dist/src/host/vm-ready.js'), ...o.ready, '--', ...o.qemu],
    type: 'notify',
    startTimeoutSec: o.startTimeoutSec,
    stopTimeoutSec: 30,
    killSignal: 'SIGTERM',
    // The guest's memory and QEMU's own.
    limits: { cpuQuotaPercent: o.vcpus * 100, memoryMaxBytes: (o.memoryMiB + o.overheadMiB) * 1024 * 1024, tasksMax: 512 },
  };
}

export function microvmUnit(o: MicrovmOptions): UnitSpec {
  return vmUnit({
    ...o, machine: `microvm, ${o.accel}`, ready: [join(o.runDir, 'ready.sock')], qemu: microvmArgs(o),
    startTimeoutSec: o.readyTimeoutSec, overheadMiB: 256,
  });
}
