/**
 * The machine itself: which boot it is in (a reboot takes every unit with it) and what it offers to instances (its
 * processors, memory, the runtimes it has the programs for, whether VMs can use KVM).
 */
import { access, constants, readFile } from 'node:fs/promises';
import { availableParallelism, hostname, totalmem } from 'node:os';
import { which } from './exec.js';
import type { HostMachine, MachineCapacity } from './index.js';
import { startTicks } from './units/proc.js';

/** Whether a program is installed. */
const onPath = async (name: string) => (await which(name)) !== undefined;

/** Where a boot's facts are read (tests give their own). */
export interface BootSources {
  /** The kernel's boot id (/proc/sys/kernel/random/boot_id). */
  kernelBootId(): Promise<string>;
  /** When this PID namespace's init started, in clock ticks since the kernel booted (/proc/1/stat); undefined if unreadable. */
  initStartTicks(): number | undefined;
}

const procBoot: BootSources = {
  kernelBootId: async () => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
  initStartTicks: () => startTicks(1),
};

export class LocalMachine implements HostMachine {
  constructor(private readonly boot: BootSources = procBoot) {}

  /**
   * The boot this server runs in: the kernel's boot id and when this PID namespace's init started. Every process of the
   * namespace, each unit's with them, lives no longer than its init, so a new init is a new boot for the units even
   * under the same kernel: a container host (a Docker or LXC container restarted) shows its host kernel's boot id,
   * which does not change when only the container restarts. systemd-nspawn gives each of its containers' boots a
   * boot id of its own (bound over /proc/sys/kernel/random/boot_id), other container managers do not; the init's start
   * tells them apart in both. Nothing is written: no marker to lose or to find stale (a /run that is not a tmpfs).
   */
  async bootId(): Promise<string> {
    const kernel = await this.boot.kernelBootId();
    const init = this.boot.initStartTicks();
    return init === undefined ? kernel : `${kernel}/${init}`;
  }

  async capacity(): Promise<MachineCapacity> {
    const [nspawn, qemu, swtpm] = await Promise.all([onPath('systemd-nspawn'), onPath('qemu-system-x86_64'), onPath('swtpm')]);
    const kvm = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false);
    const runtimes: MachineCapacity['runtimes'] = [];
    if (nspawn) runtimes.push('container');
    if (qemu) runtimes.push('microvm');
    if (qemu && swtpm) runtimes.push('q35');
    return { hostname: hostname(), vcpus: availableParallelism(), memoryMiB: Math.floor(totalmem() / 2 ** 20), runtimes, kvm };
  }
}
