/** The embedded cloud's one host: registered by the server at every start, with what it offers and its boot. */
import { afterEach, describe, expect, it } from 'vitest';
import { closeDomainClouds, domainCloud } from '../support/domain-cloud.js';

afterEach(closeDomainClouds);

describe('the host registry', () => {
  it('registers this machine once, refreshes it at each start, and tells a start after a reboot from one in the same boot', async () => {
    const { cloud, fake } = await domainCloud();
    const first = (await cloud.hosts.local())!;
    expect(first).toMatchObject({ name: 'fake-host', vcpus: 4, memoryMiB: 16_384, accel: 'tcg', state: 'available', bootId: 'boot-1' });
    expect(first.runtimes).toEqual(['container', 'microvm', 'q35']);
    expect(first.id).toMatch(/^h-[0-9a-f]{17}$/);

    const again = await cloud.hosts.registerLocal();
    expect(again.rebooted).toBe(false);
    fake.machine.bootIdNow = 'boot-2';
    fake.machine.offer.vcpus = 8;
    const after = await cloud.hosts.registerLocal();
    expect(after.rebooted).toBe(true);
    expect(after.host).toMatchObject({ id: first.id, vcpus: 8, bootId: 'boot-2' });
    expect(await cloud.hosts.list()).toHaveLength(1);
  });
});
