/**
 * `pcloud host drain` and `pcloud host remove` (the compiled CLI; `npm run build` first) on the data dir of a running
 * server, with a second host standing in as a row of the database (another machine's, joined over an underlay): a
 * draining host takes no new instances and stays draining across its server's registrations; a host is removed only
 * once it is not serving, its instances then stay listed, cannot be stopped or started, and end at once when terminated;
 * its server refuses to serve under the removed row, and a machine joining under its name gets the name free.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeInstancesCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { eq } from 'drizzle-orm';
import { hosts, instances } from '../../src/db/tables.js';
import { issueToken, redeemToken } from '../../src/cloud/hosts/tokens.js';
import { startApi, until, type TestApi } from '../support/api.js';
import { errorCode, rejected } from '../support/thrown.js';

const CLI = join(new URL('../../', import.meta.url).pathname, 'dist/src/cli/main.js');
const FAR = 'h-00000000000000f0';

let api: TestApi;
beforeAll(async () => { api = await startApi({ config: { availabilityZones: ['us-east-1a', 'us-east-1b'] } }); });
afterAll(async () => { await api?.close(); });

function pcloud(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args, '--data', api.cloud.dataDir], { encoding: 'utf8', timeout: 60_000 });
}

/** What a refused command says (it fails with status 1). */
function refusal(args: string[]): string {
  const res = pcloud(args);
  expect(res.status).toBe(1);
  return res.stderr;
}

const stateOf = async (id: string) => (await api.cloud.db.select().from(hosts).where(eq(hosts.id, id)))[0]?.state;
const launch = (zone: string) => api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, Placement: { AvailabilityZone: zone } }));

describe('pcloud host drain and remove', () => {
  it('a draining host takes no new instances, and stays draining when its server registers again; --undo takes them again', async () => {
    const local = (await api.cloud.hosts.local())!;
    const drained = pcloud(['host', 'drain', 'fake-host']);
    expect([drained.status, drained.stderr]).toEqual([0, expect.stringMatching(/^host fake-host is draining; it holds \d+ instances?\n$/)]);
    expect(await errorCode(launch('us-east-1a'))).toBe('InsufficientInstanceCapacity');
    await api.cloud.hosts.registerLocal();
    expect(await stateOf(local.id)).toBe('draining');
    expect(pcloud(['host', 'drain', local.id, '--undo']).status).toBe(0);
    expect(await stateOf(local.id)).toBe('available');
    const id = (await launch('us-east-1a')).Instances![0]!.InstanceId!;
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    // Unknown, and the embedded cloud's own machine: refused, saying why.
    expect(refusal(['host', 'drain', 'no-such-host'])).toMatch(/no host has the id or name "no-such-host"/);
    expect(refusal(['host', 'remove', 'fake-host'])).toMatch(/an embedded cloud's own machine .* cannot be removed/);
  });

  it('a host is removed once it is not serving: its instances stay listed, cannot be stopped or started, and end at once when terminated; its name is free for a machine that joins', async () => {
    await api.cloud.db.insert(hosts).values({
      id: FAR, name: 'far.example', availabilityZone: 'us-east-1b', address: '10.200.0.9', runtimes: ['container'],
      accel: 'tcg', vcpus: 8, memoryMiB: 16_384, state: 'available', bootId: null, heartbeatAt: Date.now(), createdAt: Date.now(),
    });
    // Placed on it (its zone's one host); nobody there takes it up: it waits, pending.
    const id = (await launch('us-east-1b')).Instances![0]!.InstanceId!;
    expect((await api.cloud.instances.row(id))!.hostId).toBe(FAR);

    // Serving: refused, nothing changed.
    expect(refusal(['host', 'remove', 'far.example'])).toMatch(/host far\.example is serving .*: a host is removed once it is gone\. Terminate its instances and stop its server there/);
    expect(await stateOf(FAR)).toBe('available');
    // Gone silent: removed.
    await api.cloud.db.update(hosts).set({ heartbeatAt: 0 }).where(eq(hosts.id, FAR));
    expect(pcloud(['host', 'remove', 'far.example'])).toMatchObject({ status: 0, stderr: 'host far.example is removed; its 1 instance stays listed until terminated\n' });
    expect(await stateOf(FAR)).toBe('removed');
    expect(refusal(['host', 'drain', FAR])).toMatch(/was removed from this cloud: that machine joins again/);

    // Its zone has no host of its own now: the embedded cloud's takes its launches.
    const here = (await launch('us-east-1b')).Instances![0]!.InstanceId!;
    expect((await api.cloud.instances.row(here))!.hostId).toBe((await api.cloud.hosts.local())!.id);
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [here] }));

    // Still listed; not stopped or started; terminated at once, here.
    const listed = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations!.flatMap((r) => r.Instances!);
    expect(listed.map((i) => i.InstanceId)).toEqual([id]);
    const stop = await rejected(() => api.ec2.send(new StopInstancesCommand({ InstanceIds: [id] })));
    expect([(stop as Error).name, (stop as Error).message]).toEqual(['IncorrectInstanceState', expect.stringMatching(/removed from this cloud: it can only be terminated/)]);
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await api.cloud.instances.row(id))!.state === 'terminated');

    // A stopped instance of it does not start.
    const stopped = (await launch('us-east-1a')).Instances![0]!.InstanceId!;
    await until(async () => (await api.cloud.instances.row(stopped))!.state === 'running');
    await api.ec2.send(new StopInstancesCommand({ InstanceIds: [stopped] }));
    await until(async () => (await api.cloud.instances.row(stopped))!.state === 'stopped');
    await api.cloud.db.update(instances).set({ hostId: FAR }).where(eq(instances.id, stopped));
    const start = await rejected(() => api.ec2.send(new StartInstancesCommand({ InstanceIds: [stopped] })));
    expect([(start as Error).name, (start as Error).message]).toEqual(['InsufficientInstanceCapacity', expect.stringMatching(/removed from this cloud: the instance can only be terminated/)]);
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [stopped] }));
    await until(async () => (await api.cloud.instances.row(stopped))!.state === 'terminated');

    // A machine joining under its name: the removed row keeps its id under a name of its own.
    await redeemToken(api.cloud.db, (await issueToken(api.cloud.db)).token, 'far.example', api.cloud.config.hosts);
    expect((await api.cloud.db.select().from(hosts).where(eq(hosts.id, FAR)))[0]).toMatchObject({ name: `far.example (removed: ${FAR})`, state: 'removed' });
  });

  it('a server whose host was removed does not serve under it: it says how to join again; one that serves stops at its next heartbeat', async () => {
    const local = (await api.cloud.hosts.local())!;
    const told: string[] = [];
    const onRemoved = api.cloud.hosts.onRemoved;
    api.cloud.hosts.onRemoved = (err) => told.push(err.message);
    await api.cloud.db.update(hosts).set({ state: 'removed' }).where(eq(hosts.id, local.id));
    try {
      await expect(api.cloud.hosts.registerLocal()).rejects.toThrow(/was removed from the cloud .* join it anew/);
      const before = (await api.cloud.db.select().from(hosts).where(eq(hosts.id, local.id)))[0]!.heartbeatAt;
      await api.cloud.hosts.beat(before + 5000);
      expect(told).toEqual([expect.stringMatching(/^this machine's host \(fake-host\) was removed from the cloud/)]);
      expect((await api.cloud.db.select().from(hosts).where(eq(hosts.id, local.id)))[0]!.heartbeatAt).toBe(before);
    } finally {
      api.cloud.hosts.onRemoved = onRemoved;
      await api.cloud.db.update(hosts).set({ state: 'available' }).where(eq(hosts.id, local.id));
      api.cloud.hosts.startHeartbeat();
    }
  });
});
