/**
 * A host's share of a cloud of several (issue 17), over the fake host: what this server is asked to do with another
 * host's instance is that host's (told, never done here), and what another server asked of this host's instances (the
 * rows it wrote: pending, stopping, shutting-down) is taken up by converge, once each.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { newId } from '../../src/cloud/ids.js';
import { hosts, instances } from '../../src/db/schema.js';
import type { WakeTopic } from '../../src/db/wakeups.js';
import { ACCOUNT, closeDomainClouds, domainCloud } from '../support/domain-cloud.js';
import { waitFor } from '../support/wait.js';

afterEach(closeDomainClouds);

async function twoHosts() {
  const d = await domainCloud();
  const { cloud, imageId } = d;
  const local = (await cloud.hosts.local())!;
  const now = Date.now();
  // Another host, far roomier: placement puts new instances there.
  const remote = {
    id: newId('h'), name: 'remote-a', availabilityZone: 'us-east-1a', address: '10.200.0.2', runtimes: ['container', 'microvm', 'q35'],
    accel: 'tcg', vcpus: 64, memoryMiB: 262_144, state: 'available', bootId: 'b', heartbeatAt: now, createdAt: now,
  };
  await cloud.db.insert(hosts).values(remote);
  const told: [WakeTopic, string][] = [];
  const tell = cloud.wakeups.tell.bind(cloud.wakeups);
  cloud.wakeups.tell = (topic, id) => { told.push([topic, id]); tell(topic, id); };
  const run = async () => (await cloud.instances.run(ACCOUNT, {
    imageId, minCount: 1, maxCount: 1, securityGroupIds: [], securityGroups: [], tagSpecifications: [], metadataOptions: {},
  })).instances[0]!;
  const state = async (id: string) => (await cloud.instances.row(id))!.state;
  const unitsOf = (id: string) => d.fake.units.started.filter((s) => s.name === `pcloud-instance@${id}`).length;
  return { ...d, local, remote, told, run, state, unitsOf };
}

describe('another host\'s instances', () => {
  it('are launched, stopped and terminated by their host, told; nothing of theirs is done here', async () => {
    const { cloud, remote, told, run, state, unitsOf, fake } = await twoHosts();
    const inst = await run();
    expect(inst.hostId).toBe(remote.id);
    expect(told).toContainEqual(['host', remote.id]);
    expect(told).toContainEqual(['vpc', inst.vpcId]);
    await cloud.instances.idle();
    expect([await state(inst.id), unitsOf(inst.id), await fake.pool.listDisks()]).toEqual(['pending', 0, []]);

    told.length = 0;
    await cloud.instances.stop(ACCOUNT, [inst.id]);
    await cloud.instances.idle();
    expect(await state(inst.id)).toBe('stopping');
    expect(told).toContainEqual(['host', remote.id]);
    expect(fake.units.units.has(`pcloud-instance@${inst.id}`)).toBe(false);
  });

  it('while their host is not heard from: a termination waits for it, and says so', async () => {
    const { cloud, remote, run, state } = await twoHosts();
    const inst = await run();
    await cloud.db.update(hosts).set({ heartbeatAt: Date.now() - 3_600_000 }).where(eq(hosts.id, remote.id));
    await cloud.instances.terminate(ACCOUNT, [inst.id]);
    await cloud.instances.idle();
    const row = (await cloud.instances.row(inst.id))!;
    expect([await state(inst.id), row.stateReasonCode]).toEqual(['shutting-down', 'Client.UserInitiatedShutdown']);
    expect(row.stateReasonMessage).toMatch(/its host is not reachable now: it is terminated once its host is back$/);
  });
});

describe('converge (this host\'s agent)', () => {
  it('launches this host\'s pending instances another server placed, once; carries out stops and terminations asked elsewhere', async () => {
    const { cloud, local, run, state, unitsOf, fake } = await twoHosts();
    const inst = await run();
    // As another server writes it: placed on this host, pending, nothing queued here.
    await cloud.db.update(instances).set({ hostId: local.id }).where(eq(instances.id, inst.id));
    const [a, b] = await Promise.all([cloud.instances.converge(local.id), cloud.instances.converge(local.id)]);
    expect(a + b).toBeGreaterThanOrEqual(1);
    await waitFor('running', async () => (await state(inst.id)) === 'running');
    expect(unitsOf(inst.id)).toBe(1);
    // Nothing more to take up: a running instance stays as it is.
    expect(await cloud.instances.converge(local.id)).toBe(0);

    await cloud.db.update(instances).set({ state: 'stopping' }).where(eq(instances.id, inst.id));
    expect(await cloud.instances.converge(local.id)).toBe(1);
    await waitFor('stopped', async () => (await state(inst.id)) === 'stopped');
    expect(await fake.pool.listDisks()).toEqual([inst.id]);

    // Started elsewhere (pending again): launched here again, with its disk.
    await cloud.db.update(instances).set({ state: 'pending' }).where(eq(instances.id, inst.id));
    expect(await cloud.instances.converge(local.id)).toBe(1);
    await waitFor('running again', async () => (await state(inst.id)) === 'running');
    expect(unitsOf(inst.id)).toBe(2);

    await cloud.db.update(instances).set({ state: 'shutting-down' }).where(eq(instances.id, inst.id));
    expect(await cloud.instances.converge(local.id)).toBe(1);
    await waitFor('terminated', async () => (await state(inst.id)) === 'terminated');
    expect(await fake.pool.listDisks()).toEqual([]);
  });

  it('leaves other hosts\' instances alone', async () => {
    const { cloud, local, remote, run, unitsOf } = await twoHosts();
    const inst = await run();
    expect(await cloud.instances.converge(local.id)).toBe(0);
    await cloud.instances.idle();
    expect([inst.hostId, unitsOf(inst.id)]).toEqual([remote.id, 0]);
  });
});
