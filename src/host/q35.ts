/**
 * Windows-class VMs on QEMU `q35`: UEFI firmware (OVMF) with the instance's own variable store, a TPM 2.0 from the
 * instance's own `swtpm` (a unit of its own, started beside the disk and the network), virtio disk and NIC (the NIC's
 * tap is the instance's port in the VPC router, as for microvm), a USB tablet, and the display on a VNC UNIX socket
 * that the console websocket proxies. While the disk has never been written, the installer ISO and the VirtIO drivers
 * ISO are attached as CD-ROMs; once an installation has written the disk, they are left off.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { OVMF_DIR, VIRTIO_WIN_ISO } from './config.js';
import { portName } from './network.js';
import { qmpArgs, qmpSocket, SANDBOX, vmUnit, volumeArgs } from './qemu.js';
import { hostPath, qemuFile, qemuOpts, swtpmOpts } from './qemu-opts.js';
import type { UnitSpec } from './units/types.js';

export interface Firmware {
  code: string;
  /** The variable store template each instance copies once. */
  vars: string;
  /** Secure Boot: the firmware needs SMM and a secure flash. */
  secureBoot: boolean;
}

/**
 * OVMF from Debian's `ovmf`: Windows gets the Secure Boot build with Microsoft's keys enrolled (Windows 11 requires
 * Secure Boot capability and a TPM 2.0); other UEFI guests the plain build. PCLOUD_OVMF_DIR overrides the directory.
 */
export function firmwareFor(platform: string, dir = OVMF_DIR): Firmware {
  return platform === 'windows'
    ? { code: join(dir, 'OVMF_CODE_4M.secboot.fd'), vars: join(dir, 'OVMF_VARS_4M.ms.fd'), secureBoot: true }
    : { code: join(dir, 'OVMF_CODE_4M.fd'), vars: join(dir, 'OVMF_VARS_4M.fd'), secureBoot: false };
}

/** The VirtIO drivers ISO for Windows guests where it is (not in Debian: PCLOUD_VIRTIO_WIN_ISO, or Fedora's usual path). */
export function virtioWinIso(path = VIRTIO_WIN_ISO): string | undefined {
  return existsSync(path) ? path : undefined;
}

/** Per-instance state kept with the instance across stop/start: the firmware's variables and the TPM's state. */
export interface VmState {
  dir: string;
  vars: string;
  tpmDir: string;
}

export function vmState(stateDir: string): VmState {
  return { dir: stateDir, vars: join(stateDir, 'OVMF_VARS.fd'), tpmDir: join(stateDir, 'tpm') };
}

/** Make the instance's state once (its variable store from the firmware's template); later launches keep it. */
export async function ensureVmState(state: VmState, fw: Firmware): Promise<void> {
  await mkdir(state.tpmDir, { recursive: true, mode: 0o700 });
  if (!existsSync(state.vars)) await copyFile(fw.vars, state.vars);
}

/** Whether a disk has ever been written: a partition table or boot sector lives in its first MiB. */
export async function diskBlank(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1024 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).every((b) => b === 0);
  } finally {
    await fh.close();
  }
}

export const tpmUnitName = (instanceId: string) => `pcloud-tpm@${instanceId}`;
export const tpmSocket = (runDir: string) => join(runDir, 'tpm.sock');

/** The instance's TPM 2.0: swtpm serving QEMU on a UNIX control socket, its state in the instance's state dir. */
export function tpmUnit(o: { instanceId: string; state: VmState; runDir: string }): UnitSpec {
  return {
    name: tpmUnitName(o.instanceId),
    description: `pcloud TPM 2.0 of ${o.instanceId} (swtpm)`,
    exec: ['swtpm', 'socket', '--tpm2', '--tpmstate', swtpmOpts({ dir: hostPath(o.state.tpmDir), mode: '0600' }),
      '--ctrl', swtpmOpts({ type: 'unixio', path: hostPath(tpmSocket(o.runDir)), mode: '0600' }), '--log', swtpmOpts({ level: 1 })],
    type: 'simple',
    startTimeoutSec: 10,
    stopTimeoutSec: 10,
    killSignal: 'SIGTERM',
    limits: { memoryMaxBytes: 64 * 1024 * 1024, tasksMax: 16 },
  };
}

export interface Q35Options {
  instanceId: string;
  vpcId: string;
  mac: string;
  vcpus: number;
  memoryMiB: number;
  /** SMBIOS system uuid (EC2's start with `ec2`, which cloud-init and ec2 tools read). */
  uuid: string;
  disk: string;
  firmware: Firmware;
  state: VmState;
  /** CD-ROMs (installer, drivers), attached while the disk is blank. */
  cdroms: string[];
  /** Extra disks (volumes), in attachment order. */
  volumes?: { id: string; uri: string }[];
  runDir: string;
  accel: 'kvm' | 'tcg';
}

/** Free PCIe root ports for disks plugged in while the VM runs, and the id of the n-th (its bus for device_add). */
export const HOTPLUG_PORTS = 4;
export const hotPlugPort = (n: number) => `hp${n}`;

export const vncSocket = (runDir: string) => join(runDir, 'vnc.sock');

export function q35Args(o: Q35Options): string[] {
  const fw = o.firmware;
  return [
    'qemu-system-x86_64',
    '-M', qemuOpts('q35', { smm: fw.secureBoot, vmport: false }),
    '-accel', o.accel, '-cpu', o.accel === 'kvm' ? 'host' : 'max',
    '-m', String(o.memoryMiB), '-smp', String(o.vcpus),
    '-nodefaults', '-no-user-config', '-serial', 'stdio',
    ...(fw.secureBoot ? ['-global', qemuOpts(undefined, { driver: 'cfi.pflash01', property: 'secure', value: true })] : []),
    '-drive', qemuOpts(undefined, { if: 'pflash', format: 'raw', unit: 0, file: hostPath(fw.code), readonly: true }),
    '-drive', qemuOpts(undefined, { if: 'pflash', format: 'raw', unit: 1, file: hostPath(o.state.vars) }),
    '-smbios', qemuOpts(undefined, { type: 1, manufacturer: 'pcloud', product: 'pcloud q35', uuid: o.uuid, serial: o.uuid }),
    '-chardev', qemuOpts('socket', { id: 'tpm', path: hostPath(tpmSocket(o.runDir)) }),
    '-tpmdev', qemuOpts('emulator', { id: 'tpm0', chardev: 'tpm' }), '-device', qemuOpts('tpm-crb', { tpmdev: 'tpm0' }),
    '-device', 'VGA', '-vnc', qemuOpts(undefined, { vnc: `unix:${hostPath(vncSocket(o.runDir))}` }),
    '-device', qemuOpts('qemu-xhci', { id: 'usb' }), '-device', qemuOpts('usb-tablet', { bus: 'usb.0' }),
    '-drive', qemuOpts(undefined, { id: 'root', file: qemuFile(o.disk), format: 'raw', if: 'none', cache: 'none', aio: 'threads' }),
    '-device', qemuOpts('virtio-blk-pci', { drive: 'root', bootindex: 1 }),
    ...volumeArgs(o.volumes ?? [], 'virtio-blk-pci'),
    // Free PCIe root ports: volumes attached while the VM runs are plugged in there.
    ...Array.from({ length: HOTPLUG_PORTS }, (_, i) => ['-device', qemuOpts('pcie-root-port', { id: hotPlugPort(i), bus: 'pcie.0', chassis: i + 1 })]).flat(),
    ...o.cdroms.flatMap((iso, i) => [
      '-drive', qemuOpts(undefined, { id: `cd${i}`, file: qemuFile(iso), media: 'cdrom', readonly: true, if: 'none' }),
      '-device', qemuOpts('ide-cd', { drive: `cd${i}`, bootindex: i + 2 }),
    ]),
    '-netdev', qemuOpts('tap', { id: 'n0', ifname: portName(o.instanceId), script: 'no', downscript: 'no' }),
    '-device', qemuOpts('virtio-net-pci', { netdev: 'n0', mac: o.mac }),
    ...qmpArgs(qmpSocket(o.runDir)),
    '-sandbox', SANDBOX,
  ];
}

export function q35Unit(o: Q35Options): UnitSpec {
  return vmUnit({
    ...o, machine: `q35, UEFI, ${o.accel}`, ready: ['--qmp', qmpSocket(o.runDir)], qemu: q35Args(o), startTimeoutSec: 60, overheadMiB: 512,
  });
}
