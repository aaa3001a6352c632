/**
 * Placement over several registered hosts (rows for fake remote hosts beside the embedded one): runtimes, zones,
 * capacities with the over-commit ratios, lost hosts; MinCount all or nothing; StartInstances on the instance's own
 * host; health impaired when a host is not heard from.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { eq } from 'drizzle-orm';
import { defaultHostsConfig, type CloudConfig } from '../../src/cloud/config.js';
import { newId } from '../../src/cloud/ids.js';
import type { RunParams } from '../../src/cloud/instances/index.js';
import { hostUsage, place } from '../../src/cloud/hosts/placement.js';
import { instanceTypes } from '../../src/cloud/catalog.js';
import { hosts, instances, reservations } from '../../src/db/schema.js';
import { ACCOUNT, closeDomainClouds, domainCloud } from '../support/domain-cloud.js';
import { rejected as rejectedAny } from '../support/thrown.js';
import type { CloudError } from '../../src/cloud/errors.js';
import { waitFor } from '../support/wait.js';

afterEach(closeDomainClouds);

type HostRow = typeof hosts.$inferSelect;
const rejected = async (fn: () => Promise<unknown>) => (await rejectedAny(fn)) as CloudError;
/** Exact arithmetic: no over-commit unless a test says so. */
const EXACT = { hosts: { ...defaultHostsConfig, cpuOvercommit: 1, memoryOvercommit: 1 } };
const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

async function cloudWith(config: Partial<CloudConfig> = {}) {
  const d = await domainCloud({ ...EXACT, ...config });
  const { cloud, imageId } = d;
  /** A joined host (an underlay address): heard from now, every runtime, 4 vCPUs and 16 GiB unless told. */
  const addHost = async (over: Partial<HostRow> = {}): Promise<HostRow> => {
    const now = Date.now();
    const row: HostRow = {
      id: newId('h'), name: `remote-${newId('x')}`, availabilityZone: 'us-east-1a', address: '10.200.0.2', runtimes: ['container', 'microvm', 'q35'],
      accel: 'tcg', vcpus: 4, memoryMiB: 16_384, state: 'available', bootId: 'b', heartbeatAt: now, createdAt: now, ...over,
    };
    await cloud.db.insert(hosts).values(row);
    return row;
  };
  const run = async (p: Partial<RunParams> & { minCount: number; maxCount: number }) => await cloud.instances.run(ACCOUNT, {
    imageId, instanceType: 't3.micro', securityGroupIds: [], securityGroups: [], tagSpecifications: [], metadataOptions: {}, ...p,
  });
  const setHost = async (id: string, set: Partial<HostRow>) => await cloud.db.update(hosts).set(set).where(eq(hosts.id, id));
  const placedOn = async (ids: string[]) => { const out: (string | null)[] = []; for (const id of ids) out.push((await cloud.instances.row(id))!.hostId); return out; };
  return { ...d, local: (await cloud.hosts.local())!, addHost, run, setHost, placedOn };
}

/** How many of the ids went to each host. */
function tally(hostIds: (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of hostIds) out[h ?? 'null'] = (out[h ?? 'null'] ?? 0) + 1;
  return out;
}

describe('placement', () => {
  it('spreads over the hosts that take the type, most room first, within their capacity; none on a lost, drained or runtime-less host', async () => {
    const { cloud, local, addHost, run, placedOn, fake } = await cloudWith();
    // The embedded host: 4 vCPUs (2 t3.micro). A big joined host: 8 vCPUs (4). Others that must get none.
    const big = await addHost({ vcpus: 8, memoryMiB: 32_768 });
    const lost = await addHost({ vcpus: 64, memoryMiB: 262_144, heartbeatAt: Date.now() - 31_000 });
    const drained = await addHost({ vcpus: 64, memoryMiB: 262_144, state: 'draining' });
    const vmsOnly = await addHost({ vcpus: 64, memoryMiB: 262_144, runtimes: ['microvm'] });
    const otherZone = await addHost({ vcpus: 64, memoryMiB: 262_144, availabilityZone: 'us-east-1b' });

    const first = (await run({ minCount: 1, maxCount: 1 })).instances.map((i) => i.id);
    expect(await placedOn(first)).toEqual([big.id]);
    const rest = (await run({ minCount: 1, maxCount: 100 })).instances.map((i) => i.id);
    expect(rest).toHaveLength(5);
    expect(tally(await placedOn([...first, ...rest]))).toEqual({ [big.id]: 4, [local.id]: 2 });
    for (const h of [lost, drained, vmsOnly, otherZone]) expect((await hostUsage(cloud.db)).get(h.id)).toBeUndefined();
    expect((await hostUsage(cloud.db)).get(big.id)).toEqual({ vcpus: 8, memoryMiB: 4096, instances: 4 });

    // The embedded host's run here (its units start); a joined host's are its agent's to launch: nothing of theirs here.
    await waitFor('local ones running', async () => {
      for (const id of [...first, ...rest]) {
        const row = (await cloud.instances.row(id))!;
        if (row.hostId === local.id && row.state !== 'running') return false;
      }
      return true;
    });
    await cloud.instances.idle();
    const started = new Set(fake.units.started.map((s) => s.name));
    for (const id of [...first, ...rest]) {
      const row = (await cloud.instances.row(id))!;
      expect([row.hostId, started.has(`pcloud-instance@${id}`), row.state]).toEqual(row.hostId === local.id ? [local.id, true, 'running'] : [big.id, false, 'pending']);
    }

    // Full: a launch that does not fit MinCount makes nothing, in EC2's words.
    const before = (await cloud.db.select().from(reservations)).length;
    const err = (await rejected(() => run({ minCount: 1, maxCount: 1 })));
    expect(err).toMatchObject({ code: 'InsufficientInstanceCapacity' });
    expect(err.message).toMatch(/^We currently do not have sufficient t3\.micro capacity in the Availability Zone you requested \(us-east-1a\)\. Try again after instances there stop or terminate/);
    expect((await cloud.db.select().from(reservations)).length).toBe(before);

    // Terminated instances give their room back (this host's: the joined host's would wait for its agent).
    const localOnes: string[] = [];
    for (const id of [...first, ...rest]) if ((await cloud.instances.row(id))!.hostId === local.id) localOnes.push(id);
    await cloud.instances.terminate(ACCOUNT, localOnes);
    await waitFor('terminated', async () => (await Promise.all(localOnes.map(async (id) => (await cloud.instances.row(id))!.state === 'terminated'))).every(Boolean));
    expect((await run({ minCount: 2, maxCount: 2 })).instances).toHaveLength(2);
  });

  it('places MinCount..MaxCount: as many as fit, at least MinCount, else none', async () => {
    const { cloud, local, run, placedOn } = await cloudWith();
    // 4 vCPUs: two t3.micro.
    expect((await rejected(() => run({ minCount: 3, maxCount: 5 }))).code).toBe('InsufficientInstanceCapacity');
    expect(await cloud.db.select().from(instances)).toEqual([]);
    const two = (await run({ minCount: 1, maxCount: 5 })).instances.map((i) => i.id);
    expect(await placedOn(two)).toEqual([local.id, local.id]);
  });

  it('counts memory as well as vCPUs, each with its own over-commit ratio', async () => {
    // t3.2xlarge: 8 vCPUs, 32 GiB. The embedded host: 4 vCPUs, 16 GiB.
    const tight = await cloudWith({ hosts: { ...defaultHostsConfig, cpuOvercommit: 100, memoryOvercommit: 1 } });
    expect((await rejected(() => tight.run({ instanceType: 't3.2xlarge', minCount: 1, maxCount: 1 }))).code).toBe('InsufficientInstanceCapacity');
    const roomy = await cloudWith({ hosts: { ...defaultHostsConfig, cpuOvercommit: 2, memoryOvercommit: 2 } });
    expect((await roomy.run({ instanceType: 't3.2xlarge', minCount: 1, maxCount: 3 })).instances).toHaveLength(1);
    // Ratios that are not whole: 4 x 1.5 = 6 vCPUs, three t3.micro.
    const fractional = await cloudWith({ hosts: { ...defaultHostsConfig, cpuOvercommit: 1.5, memoryOvercommit: 1 } });
    expect((await fractional.run({ minCount: 1, maxCount: 10 })).instances).toHaveLength(3);
  });

  it('counts instances recorded before hosts were (host_id null) on the embedded host', async () => {
    const { cloud, local, run } = await cloudWith();
    const [one] = (await run({ minCount: 1, maxCount: 1 })).instances;
    await cloud.db.update(instances).set({ hostId: null }).where(eq(instances.id, one!.id));
    expect((await hostUsage(cloud.db)).get(local.id)).toMatchObject({ instances: 1, vcpus: 2 });
    expect((await run({ minCount: 1, maxCount: 5 })).instances).toHaveLength(1);
  });

  it('honours the zone: Placement.AvailabilityZone or the subnet\'s picks among that zone\'s hosts; a zone with none falls to the embedded host', async () => {
    const { cloud, local, addHost, run, placedOn } = await cloudWith({ availabilityZones: ZONES });
    const b = await addHost({ availabilityZone: 'us-east-1b', vcpus: 2 });
    // Zone a: the embedded host's own. Zone b: the joined host (one t3.micro), never the embedded one.
    expect(await placedOn((await run({ minCount: 1, maxCount: 1, availabilityZone: 'us-east-1a' })).instances.map((i) => i.id))).toEqual([local.id]);
    const inB = (await run({ minCount: 1, maxCount: 3, availabilityZone: 'us-east-1b' })).instances;
    expect([await placedOn(inB.map((i) => i.id)), inB[0]!.availabilityZone]).toEqual([[b.id], 'us-east-1b']);
    // Zone c has no host of its own: the embedded host serves it, as a one-host cloud always did.
    const subnetC = (await cloud.network.subnets(ACCOUNT)).find((s) => s.availabilityZone === 'us-east-1c')!;
    const inC = (await run({ minCount: 1, maxCount: 1, subnetId: subnetC.id })).instances;
    expect([await placedOn(inC.map((i) => i.id)), inC[0]!.availabilityZone]).toEqual([[local.id], 'us-east-1c']);
    // Zone b is full: the error names no zone with room (a and c share the embedded host, which is full now too).
    expect((await rejected(() => run({ minCount: 1, maxCount: 1, availabilityZone: 'us-east-1b' }))).message).toMatch(/\(us-east-1b\)\. Try again after/);
    // A zone with room elsewhere is named, as EC2 does.
    await addHost({ availabilityZone: 'us-east-1a', vcpus: 2 });
    expect((await rejected(() => run({ minCount: 1, maxCount: 1, availabilityZone: 'us-east-1b' }))).message)
      .toBe('We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1b). You can currently get t3.micro capacity by launching into a subnet in us-east-1a.');
    // A subnet and a zone that disagree are refused.
    const subnetA = (await cloud.network.subnets(ACCOUNT)).find((s) => s.availabilityZone === 'us-east-1a')!;
    const e = (await rejected(() => run({ minCount: 1, maxCount: 1, subnetId: subnetA.id, availabilityZone: 'us-east-1b' })));
    expect([e.code, e.message]).toEqual(['InvalidParameterValue', `Value (us-east-1b) for parameter availabilityZone is invalid. Subnet '${subnetA.id}' is in the availability zone us-east-1a`]);
  });

  it('a type whose runtime no host of the zone runs is Unsupported there, naming zones that run it', async () => {
    const { local, addHost, run, setHost } = await cloudWith({ availabilityZones: ZONES });
    await setHost(local.id, { runtimes: ['microvm', 'q35'] });
    const e = (await rejected(() => run({ minCount: 1, maxCount: 1 })));
    expect([e.code, e.message]).toEqual(['Unsupported',
      'Your requested instance type (t3.micro) is not supported in your requested Availability Zone (us-east-1a). No host in us-east-1a runs container instances: choose an instance type of another family, or ask the operator of this cloud for such a host.']);
    await addHost({ availabilityZone: 'us-east-1b', runtimes: ['container'] });
    expect((await rejected(() => run({ minCount: 1, maxCount: 1 }))).message).toMatch(/Please retry your request by launching into a subnet in us-east-1b\.$/);
    expect((await run({ minCount: 1, maxCount: 1, availabilityZone: 'us-east-1b' })).instances).toHaveLength(1);
  });

  it('place() alone: ties go to the lower host id; nothing placed on a host that misses the runtime', async () => {
    const { cloud, setHost, local } = await cloudWith();
    await setHost(local.id, { state: 'draining', runtimes: ['container'] });
    const a = { id: 'h-00000000000000001', name: 'a' };
    const b = { id: 'h-00000000000000002', name: 'b' };
    const now = Date.now();
    for (const h of [b, a]) {
      await cloud.db.insert(hosts).values({ ...h, availabilityZone: 'us-east-1a', address: '10.0.0.1', runtimes: ['container'], accel: 'tcg', vcpus: 4, memoryMiB: 8192, state: 'available', bootId: null, heartbeatAt: now, createdAt: now });
    }
    const type = instanceTypes.get('t3.micro')!;
    expect(await place(cloud.db, cloud.config, { type, runtime: 'container', zone: 'us-east-1a', min: 1, max: 5 })).toEqual([a.id, b.id, a.id, b.id]);
    expect((await rejected(() => place(cloud.db, cloud.config, { type, runtime: 'q35', zone: 'us-east-1a', min: 1, max: 1 }))).code).toBe('Unsupported');
  });
});

describe('StartInstances', () => {
  it('starts a stopped instance again only on its own host, when that host has room and is heard from', async () => {
    const { cloud, local, run, setHost } = await cloudWith();
    const [a, b] = (await run({ minCount: 2, maxCount: 2 })).instances.map((i) => i.id);
    await waitFor('running', async () => (await Promise.all([a, b].map(async (id) => (await cloud.instances.row(id!))!.state === 'running'))).every(Boolean));
    await cloud.instances.stop(ACCOUNT, [a!]);
    await waitFor('stopped', async () => (await cloud.instances.row(a!))!.state === 'stopped');
    // Its room went to another instance meanwhile: it cannot start.
    const [c] = (await run({ minCount: 1, maxCount: 1 })).instances;
    const e = (await rejected(() => cloud.instances.start(ACCOUNT, [a!])));
    expect(e.code).toBe('InsufficientInstanceCapacity');
    expect(e.message).toContain(`the Availability Zone of the instance '${a}' (us-east-1a): a stopped instance starts again on the host that keeps its root volume, and that host has no room for it now.`);
    expect((await cloud.instances.row(a!))!.state).toBe('stopped');
    await cloud.instances.terminate(ACCOUNT, [c!.id]);
    await waitFor('terminated', async () => (await cloud.instances.row(c!.id))!.state === 'terminated');
    // Room again, but its host not heard from: refused, and it is not started elsewhere.
    await setHost(local.id, { heartbeatAt: Date.now() - 60_000 });
    expect((await rejected(() => cloud.instances.start(ACCOUNT, [a!]))).message).toMatch(/that host is not taking instances now/);
    await cloud.hosts.beat();
    expect((await cloud.instances.start(ACCOUNT, [a!]))[0]!.current).toBe('pending');
    await waitFor('running again', async () => (await cloud.instances.row(a!))!.state === 'running');
    expect((await cloud.instances.row(a!))!.hostId).toBe(local.id);
  });
});

describe('host heartbeats', () => {
  it('a running instance whose host is not heard from shows its system check impaired (reachability failed), still running; heard again, ok', async () => {
    const { cloud, local, run, setHost, addHost } = await cloudWith();
    const [id] = (await run({ minCount: 1, maxCount: 1 })).instances.map((i) => i.id);
    await waitFor('running', async () => (await cloud.instances.row(id!))!.state === 'running');
    const health = async () => (await cloud.instances.statuses(ACCOUNT, { ids: [id!], filters: [] }, false)).statuses[0]!;
    const ok = { status: 'ok', details: [{ name: 'reachability', status: 'passed' }] };
    expect((await health()).health).toEqual({ system: ok, instance: ok });

    await setHost(local.id, { heartbeatAt: Date.now() - cloud.config.hosts.heartbeatTimeoutSec * 1000 - 1000 });
    const lost = await health();
    expect([lost.instance.state, lost.health]).toEqual(['running', {
      system: { status: 'impaired', details: [{ name: 'reachability', status: 'failed' }] },
      instance: { status: 'insufficient-data', details: [{ name: 'reachability', status: 'insufficient-data' }] },
    }]);
    // The health filters see it so.
    const impaired = await cloud.instances.statuses(ACCOUNT, { ids: [], filters: [{ name: 'system-status.status', values: ['impaired'] }] }, false);
    expect(impaired.statuses.map((s) => s.instance.id)).toEqual([id]);
    // Nothing more is placed on it (the joined host of another zone is not the embedded host's stand-in).
    await addHost({ availabilityZone: 'us-east-1b' });
    expect((await rejected(() => run({ minCount: 1, maxCount: 1 }))).code).toBe('InsufficientInstanceCapacity');

    await cloud.hosts.beat();
    expect((await health()).health.system.status).toBe('ok');
    // Recorded before hosts were: the embedded host's, lost with it.
    await cloud.db.update(instances).set({ hostId: null }).where(eq(instances.id, id!));
    await setHost(local.id, { heartbeatAt: 0 });
    expect((await health()).health.system.status).toBe('impaired');
  });

  it('the registry writes this machine\'s heartbeat every heartbeatSec while it serves, and no more once stopped', async () => {
    const { cloud, local, setHost } = await cloudWith();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      cloud.hosts.startHeartbeat();
      await setHost(local.id, { heartbeatAt: 0 });
      await vi.advanceTimersByTimeAsync(cloud.config.hosts.heartbeatSec * 1000 - 1);
      expect((await cloud.hosts.local())!.heartbeatAt).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect((await cloud.hosts.local())!.heartbeatAt).toBeGreaterThan(0);
      cloud.hosts.stopHeartbeat();
      await setHost(local.id, { heartbeatAt: 0 });
      await vi.advanceTimersByTimeAsync(cloud.config.hosts.heartbeatSec * 10_000);
      expect((await cloud.hosts.local())!.heartbeatAt).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
