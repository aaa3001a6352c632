/**
 * The machine itself: which boot it is in (a reboot takes every unit with it) and what it offers to instances (its
 * processors, memory, the runtimes it has the programs for, whether VMs can use KVM).
 */
import { access, constants, readFile } from 'node:fs/promises';
import { availableParallelism, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import type { HostMachine, MachineCapacity } from './index.js';

/** Where Debian's packages put the programs the runtimes need. */
const BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Whether an executable of this name is installed. */
async function onPath(name: string): Promise<boolean> {
  for (const dir of BIN_DIRS) {
    if (await access(join(dir, name), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export class LocalMachine implements HostMachine {
  async bootId(): Promise<string> {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
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
