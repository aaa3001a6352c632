/**
 * Which boot the machine is in (src/host/machine.ts): the kernel's boot id and when this PID namespace's init started,
 * so that a container host restarted under the same kernel (its host's boot id) is a new boot too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LocalMachine } from '../../src/host/machine.js';

describe('the boot id', () => {
  it('changes with the kernel\'s boot, and with a new init under the same kernel (a container restarted); not otherwise', async () => {
    const boot = { kernel: 'k-1', init: 4711 as number | undefined };
    const machine = new LocalMachine({ kernelBootId: async () => boot.kernel, initStartTicks: () => boot.init });
    const first = await machine.bootId();
    expect(await machine.bootId()).toBe(first);
    boot.init = 9000;
    const container = await machine.bootId();
    expect(container).not.toBe(first);
    boot.kernel = 'k-2';
    boot.init = 4711;
    const reboot = await machine.bootId();
    expect(new Set([first, container, reboot]).size).toBe(3);
    // An init whose start cannot be read (a /proc that hides it): the kernel's boot id alone.
    boot.init = undefined;
    expect(await machine.bootId()).toBe('k-2');
  });

  it('on this machine: the kernel\'s boot id and its init\'s start, the same at every ask', async () => {
    const machine = new LocalMachine();
    const id = await machine.bootId();
    expect(id.startsWith(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())).toBe(true);
    expect(id).toMatch(/\/\d+$/);
    expect(await machine.bootId()).toBe(id);
  });
});
