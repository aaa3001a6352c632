/**
 * A VPC across hosts (issue 17), the domain's side: the router of a VPC with live instances on this host joins the
 * VPC's routers on the other hosts holding live instances of it (the VXLAN driver, faked: what it was asked), with its
 * VNI, this host's underlay address and the peers' instances; security group membership and DNS are VPC-wide. Remote
 * hosts and their instances are rows put in the database (as another host's server would).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudConfig } from '../../src/cloud/config.js';
import { Cloud } from '../../src/cloud/index.js';
import { newId } from '../../src/cloud/ids.js';
import { SYSTEM_ACCOUNT } from '../../src/cloud/images.js';
import { hosts, images, instances, vpcs } from '../../src/db/schema.js';
import type { Overlay } from '../../src/host/index.js';
import { fakeHost } from '../support/fake-host.js';
import { waitFor } from '../support/wait.js';

const ACCOUNT = '111111111111';
const LOCAL = '10.9.0.1';
const open = new Set<Cloud>();

afterEach(async () => {
  for (const c of open) await c.close();
  open.clear();
});

/** A server on the fake host with an image; `underlay`: this host's underlay address (unset: none). */
async function setup(underlay?: string, config: Partial<CloudConfig> = {}, wired = true) {
  const fake = await fakeHost();
  if (underlay) Object.assign(fake.host, { config: { ...fake.host.config, underlayAddress: underlay, underlayDevice: 'ul0' } });
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-overlay-'));
  const cloud = await Cloud.open({ dataDir, host: fake.host, config: { terminatedTtlMs: 3_600_000, ...config } });
  open.add(cloud);
  // Cloud wires the registry's local row in; a test may take it out (the plane then finds this host by its address).
  if (!wired) cloud.plane.localHost = async () => undefined;
  await cloud.start();
  const ami = newId('ami');
  await cloud.db.insert(images).values({
    id: ami, name: 'debian-12', bootMode: 'legacy-bios', rootPath: await fake.pool.createImageRoot(ami), ownerId: SYSTEM_ACCOUNT,
    description: 'test image', architecture: 'x86_64', platform: 'linux', state: 'available', isPublic: true, sizeBytes: 1 << 30,
    source: 'test', createdAt: Date.now(),
  });
  const launch = async () => {
    const [inst] = (await cloud.instances.run(ACCOUNT, {
      imageId: ami, instanceType: 't3.micro', minCount: 1, maxCount: 1, securityGroupIds: [], securityGroups: [], tagSpecifications: [], metadataOptions: {},
        })).instances;
    await waitFor(`${inst!.id} running`, async () => (await cloud.instances.row(inst!.id))?.state === 'running');
    return (await cloud.instances.row(inst!.id))!;
  };
  /** A host row as another host's server writes it. */
  const addHost = async (address: string | null, state = 'available') => {
    const id = newId('h');
    await cloud.db.insert(hosts).values({
      id, name: `host-${id}`, availabilityZone: 'us-east-1a', address, runtimes: ['container'], accel: 'tcg', vcpus: 4, memoryMiB: 4096,
      state, bootId: 'b', heartbeatAt: Date.now(), createdAt: Date.now(),
    });
    return id;
  };
  /** An instance of the same VPC placed on another host (a copy of `like`'s row with its own id and address). */
  const placeRemote = async (likeId: string, hostId: string, ip: string, state = 'running') => {
    const like = (await cloud.db.select().from(instances).where(eq(instances.id, likeId)).limit(1))[0]!;
    const id = newId('i');
    await cloud.db.insert(instances).values({ ...like, id, privateIp: ip, macAddress: `02:00:00:00:00:${ip.split('.')[3]!.padStart(2, '0').slice(-2)}`, hostId, state });
    return id;
  };
  const joins = (vpcId: string): Overlay[] =>
    fake.network.overlayCalls.filter((c) => c.op === 'join' && c.vpcId === vpcId).map((c) => (c as { overlay: Overlay }).overlay);
  return { cloud, fake, launch, addHost, placeRemote, joins };
}

describe('the VPC plane joins the VPC routers of other hosts', () => {
  it('joins the hosts holding live instances of the VPC, with exactly their instances, and again when one goes', async () => {
    const { cloud, fake, launch, addHost, placeRemote, joins } = await setup(LOCAL);
    const first = await launch();
    const vni = (await cloud.db.select({ vni: vpcs.vni }).from(vpcs).where(eq(vpcs.id, first.vpcId)).limit(1))[0]!.vni!;
    // Alone in its VPC: joined, no peers.
    expect(joins(first.vpcId).at(-1)).toEqual({ vni, local: LOCAL, device: 'ul0', peers: [] });

    const b = await addHost('10.9.0.3');
    const a = await addHost('10.9.0.2');
    const gone = await addHost('10.9.0.4', 'removed');
    const noAddress = await addHost(null);
    // Draining: it takes no new instances, and the ones it runs are reached as before.
    const draining = await addHost('10.9.0.5', 'draining');
    await placeRemote(first.id, draining, '172.31.0.207');
    const a1 = await placeRemote(first.id, a, '172.31.0.201');
    await placeRemote(first.id, a, '172.31.0.200', 'pending');
    await placeRemote(first.id, b, '172.31.0.202', 'stopping');
    await placeRemote(first.id, b, '172.31.0.203', 'stopped');
    await placeRemote(first.id, b, '172.31.0.204', 'terminated');
    await placeRemote(first.id, gone, '172.31.0.205');
    await placeRemote(first.id, noAddress, '172.31.0.206');

    const second = await launch();
    expect(second.vpcId).toBe(first.vpcId);
    expect(joins(first.vpcId).at(-1)).toEqual({
      vni, local: LOCAL, device: 'ul0',
      peers: [
        { host: '10.9.0.2', instances: [{ ip: '172.31.0.200' }, { ip: '172.31.0.201' }] }, { host: '10.9.0.3', instances: [{ ip: '172.31.0.202' }] },
        { host: '10.9.0.5', instances: [{ ip: '172.31.0.207' }] },
      ],
    });

    // Security groups: the default group's members are every host's instances; the ports are this host's only.
    const ports = fake.network.firewalls.get(first.vpcId)!;
    expect(ports.map((p) => p.instanceId).sort()).toEqual([first.id, second.id].sort());
    const fromGroup = ports[0]!.ingress.flatMap((f) => f.cidrs);
    expect(fromGroup).toEqual(expect.arrayContaining(['172.31.0.200/32', '172.31.0.201/32', `${first.privateIp}/32`]));
    // DNS: every instance of the VPC is published here, remote ones included.
    const published = fake.dns.records.get(first.vpcId)!.map((r) => r.ip);
    expect(published).toEqual(expect.arrayContaining(['172.31.0.200', '172.31.0.201', '172.31.0.202', first.privateIp, second.privateIp]));

    // A remote instance terminated through this server (its host's agent carries it out): joined again without it.
    await cloud.instances.terminate(ACCOUNT, [a1]);
    expect((await cloud.instances.row(a1))?.state).toBe('shutting-down');
    await waitFor('joined without it', () => JSON.stringify(joins(first.vpcId).at(-1)!.peers) === JSON.stringify([
      { host: '10.9.0.2', instances: [{ ip: '172.31.0.200' }] }, { host: '10.9.0.3', instances: [{ ip: '172.31.0.202' }] },
      { host: '10.9.0.5', instances: [{ ip: '172.31.0.207' }] },
    ]));

    // The last local instance gone: the router leaves the overlay (remote instances remain).
    const before = fake.network.overlayCalls.length;
    await cloud.instances.terminate(ACCOUNT, [first.id, second.id]);
    await waitFor('both terminated', async () => (await Promise.all([first.id, second.id].map(async (id) => (await cloud.instances.row(id))?.state === 'terminated'))).every(Boolean));
    expect(fake.network.overlayCalls.slice(before).at(-1)).toEqual({ op: 'leave', vpcId: first.vpcId });
  });

  it('the local host is its hosts row: an instance placed on it is local, not a peer', async () => {
    const { cloud, launch, placeRemote, joins } = await setup(LOCAL);
    const first = await launch();
    const me = (await cloud.hosts.local())!;
    await placeRemote(first.id, me.id, '172.31.0.210');
    await cloud.plane.syncOverlay(first.vpcId);
    expect(joins(first.vpcId).at(-1)!.peers).toEqual([]);
  });

  it("another host's instances get no public address, NFS or route target on this host's router", async () => {
    const external = { parent: 'eth9', cidr: '198.51.100.0/24', pool: ['198.51.100.10', '198.51.100.20'] as [string, string] };
    const { cloud, fake, launch, addHost, placeRemote } = await setup(LOCAL, { external });
    const first = await launch();
    const remote = await placeRemote(first.id, await addHost('10.9.0.2'), '172.31.0.201');
    await cloud.db.update(instances).set({ publicIp: '198.51.100.15' }).where(eq(instances.id, remote));
    await cloud.db.update(instances).set({ publicIp: '198.51.100.16' }).where(eq(instances.id, first.id));
    await cloud.plane.syncEdge(first.vpcId);
    expect(fake.network.edges.get(first.vpcId)!.external!.maps).toEqual([{ publicIp: '198.51.100.16', privateIp: first.privateIp }]);
  });

  it('a host address that is no unicast IPv4 address, or an address listed twice, is left out, not the join', async () => {
    const { cloud, launch, addHost, placeRemote, joins } = await setup(LOCAL);
    const first = await launch();
    for (const bad of ['10.9.0.9; reboot', '127.0.0.1', '224.0.0.5', '10.9.0.9\nfdb add', 'a'.repeat(100_000), '']) await placeRemote(first.id, await addHost(bad), '172.31.0.220');
    const good = await addHost('10.9.0.2');
    await placeRemote(first.id, good, '172.31.0.221');
    await placeRemote(first.id, good, first.privateIp); // a stale row holding a local instance's address
    await placeRemote(first.id, await addHost('10.9.0.3'), '172.31.0.221');
    await cloud.plane.syncOverlay(first.vpcId);
    const peers = joins(first.vpcId).at(-1)!.peers;
    expect(peers).toHaveLength(1);
    expect(['10.9.0.2', '10.9.0.3']).toContain(peers[0]!.host);
    expect(peers[0]!.instances).toEqual([{ ip: '172.31.0.221' }]);
  });

  it('this host\'s row holds its underlay address (the registry records it): instances placed on it are local', async () => {
    const { cloud, fake, launch, addHost, placeRemote, joins } = await setup(LOCAL, {}, false);
    const first = await launch();
    const me = (await cloud.hosts.local())!;
    expect(me.address).toBe(LOCAL);
    // As placement writes them: every instance on this host's row.
    await cloud.db.update(instances).set({ hostId: me.id }).where(eq(instances.id, first.id));
    await placeRemote(first.id, await addHost('10.9.0.2'), '172.31.0.201');
    const second = await launch();
    await cloud.db.update(instances).set({ hostId: me.id }).where(eq(instances.id, second.id));
    await cloud.plane.syncOverlay(first.vpcId);
    await cloud.plane.syncFirewall(ACCOUNT, first.vpcId);
    expect(joins(first.vpcId).at(-1)).toMatchObject({ local: LOCAL, peers: [{ host: '10.9.0.2', instances: [{ ip: '172.31.0.201' }] }] });
    expect(fake.network.firewalls.get(first.vpcId)!.map((p) => p.instanceId).sort()).toEqual([first.id, second.id].sort());
  });

  it('without an underlay nothing is joined or left (one host, as before)', async () => {
    const { cloud, fake, launch, addHost, placeRemote } = await setup();
    const first = await launch();
    await placeRemote(first.id, await addHost('10.9.0.2'), '172.31.0.201');
    await launch();
    await cloud.instances.terminate(ACCOUNT, [first.id]);
    await waitFor(`${first.id} terminated`, async () => (await cloud.instances.row(first.id))?.state === 'terminated');
    expect(fake.network.overlayCalls).toEqual([]);
    expect(await cloud.plane.overlay(first.vpcId)).toBeUndefined();
  });
});
