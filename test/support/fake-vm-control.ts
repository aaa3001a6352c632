/**
 * A test double of the host's VM control: running VMs as records. Disks plugged take slots until none is free, a
 * guest releases an unplugged disk unless told to hold it, the power button powers the guest off (`powerOff`, which
 * the fake host points at its unit manager) and is counted, resets are counted, the run state is whatever a test sets
 * (running by default), screenshots are a fixed JPEG. Never used outside test/.
 */
import { join } from 'node:path';
import type { VmControl, VmDisk, VmRunState } from '../../src/host/vm-control.js';

/** The smallest JPEG there is in spirit: SOI and EOI markers around nothing; enough to tell it from other bytes. */
export const FAKE_SCREENSHOT = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

export class FakeVmControl implements VmControl {
  readonly hotPlugSlots = 2;
  /** Disks plugged per instance, in plug order. */
  readonly plugged = new Map<string, VmDisk[]>();
  /** Instances whose guest does not let go of unplugged disks. */
  readonly holding = new Set<string>();
  /** Instances whose QEMU does not answer: status undefined, power button false, the rest throws. */
  readonly silent = new Set<string>();
  readonly states = new Map<string, VmRunState>();
  readonly presses: string[] = [];
  readonly resets: string[] = [];
  readonly unplugWaits: { instanceId: string; diskId: string; waitMs: number }[] = [];

  constructor(private readonly runRoot: string, private readonly powerOff: (instanceId: string) => void = () => undefined) {}

  async hotPlug(instanceId: string, disk: VmDisk): Promise<boolean> {
    this.answer(instanceId);
    const disks = this.plugged.get(instanceId) ?? [];
    if (disks.length >= this.hotPlugSlots) return false;
    this.plugged.set(instanceId, [...disks, disk]);
    return true;
  }

  async unplug(instanceId: string, diskId: string, waitMs: number): Promise<boolean> {
    this.answer(instanceId);
    this.unplugWaits.push({ instanceId, diskId, waitMs });
    if (this.holding.has(instanceId)) return false;
    this.plugged.set(instanceId, (this.plugged.get(instanceId) ?? []).filter((d) => d.id !== diskId));
    return true;
  }

  async powerButton(instanceId: string): Promise<boolean> {
    if (this.silent.has(instanceId)) return false;
    this.presses.push(instanceId);
    this.powerOff(instanceId);
    return true;
  }

  async reset(instanceId: string): Promise<void> {
    this.answer(instanceId);
    this.resets.push(instanceId);
  }

  async screenshot(instanceId: string): Promise<Buffer> {
    this.answer(instanceId);
    return FAKE_SCREENSHOT;
  }

  async status(instanceId: string): Promise<VmRunState | undefined> {
    return this.silent.has(instanceId) ? undefined : this.states.get(instanceId) ?? 'running';
  }

  display(instanceId: string): string {
    return join(this.runRoot, 'vm', instanceId, 'vnc.sock');
  }

  private answer(instanceId: string): void {
    if (this.silent.has(instanceId)) throw new Error(`QEMU of ${instanceId} does not answer (fake)`);
  }
}
