/**
 * VM control: what the domain asks of a running VM (QEMU), by instance id. The domain decides which VM, which disk
 * and when; how QEMU is reached (QMP on a UNIX socket in the VM's run directory) is the implementation's business
 * (src/host/qmp-vm-control.ts; a fake in test/support). This file is the bottom the others import: no imports above it.
 */
import { join } from 'node:path';

/** A disk QEMU opens itself: a volume exported over iSCSI (`iscsi://PORTAL/TARGET/LUN`), named by the volume id. */
export interface VmDisk {
  id: string;
  uri: string;
}

/**
 * A VM's run state as QEMU reports it: `running`, or why not (`paused`, `guest-panicked`, `internal-error`,
 * `shutdown`, ...).
 */
export type VmRunState = string;

export interface VmControl {
  /** How many disks a running VM can take by hot plug (its free PCIe root ports). */
  readonly hotPlugSlots: number;
  /**
   * Plug a disk into a running VM on a free hot-plug slot. False when every slot is taken: nothing of the disk is
   * left in QEMU then.
   */
  hotPlug(instanceId: string, disk: VmDisk): Promise<boolean>;
  /**
   * Unplug a disk: the guest is asked to let go of it (PCIe native hot unplug), then QEMU closes it. False when the
   * guest has not let go within `waitMs`; QEMU keeps the disk then.
   */
  unplug(instanceId: string, diskId: string, waitMs: number): Promise<boolean>;
  /** Press the VM's ACPI power button; false when QEMU does not answer. */
  powerButton(instanceId: string): Promise<boolean>;
  /** Reset the VM in place (its QEMU, TPM and network stay). */
  reset(instanceId: string): Promise<void>;
  /** The display as a JPEG (as EC2's GetConsoleScreenshot sends it). */
  screenshot(instanceId: string): Promise<Buffer>;
  /** The run state, or undefined when QEMU does not answer. */
  status(instanceId: string): Promise<VmRunState | undefined>;
  /** The UNIX socket of the VM's display (VNC), which the console websockets carry. */
  display(instanceId: string): string;
}

/** Where a VM's unit keeps its sockets (QMP, VNC, readiness, TPM), under the host's run directory. */
export function vmRunDir(runRoot: string, instanceId: string): string {
  return join(runRoot, 'vm', instanceId);
}
