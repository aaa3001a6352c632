/**
 * The seams of the instances split (issue 13), over the fake host: the VPC plane is what instances, security group
 * rules, internet gateways and Name tags call; health, naming and tag existence are domain rules.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newId } from '../../src/cloud/ids.js';
import { instanceHealth } from '../../src/cloud/instances/index.js';
import { privateDnsDomain, privateDnsName, privateHostLabel } from '../../src/cloud/ip.js';
import { nfsClientAddress } from '../../src/host/network.js';
import { UNIT_PREFIX } from '../../src/cloud/instances/types.js';
import { ACCOUNT, closeDomainClouds, domainCloud } from '../support/domain-cloud.js';
import { waitFor } from '../support/wait.js';
import { rejected } from '../support/thrown.js';

const OTHER = '222222222222';

afterEach(closeDomainClouds);

describe('the VPC plane', () => {
  it('attaches a launched instance, and detaches and unpublishes it when it stops and when it terminates', async () => {
    const { cloud, fake, launch } = await domainCloud();
    const attach = vi.spyOn(cloud.plane, 'attach');
    const detach = vi.spyOn(cloud.plane, 'detach');
    const unpublish = vi.spyOn(cloud.plane, 'unpublish');
    const inst = await launch();
    expect(attach).toHaveBeenCalledWith(expect.objectContaining({ id: inst.id, vpcId: inst.vpcId }));
    expect(fake.network.attached.has(inst.id)).toBe(true);
    expect(fake.dns.records.get(inst.vpcId)?.map((r) => r.names[0])).toEqual([privateHostLabel(inst.privateIp)]);

    await cloud.instances.stop(ACCOUNT, [inst.id]);
    await cloud.instances.idle();
    expect(detach).toHaveBeenCalledWith(inst.id);
    expect(unpublish).toHaveBeenCalledWith(inst.id);
    expect(fake.network.attached.has(inst.id)).toBe(false);

    detach.mockClear();
    await cloud.instances.terminate(ACCOUNT, [inst.id]);
    await cloud.instances.idle();
    expect(detach).toHaveBeenCalledWith(inst.id);
    expect((await cloud.instances.row(inst.id))?.state).toBe('terminated');
    expect(fake.dns.records.get(inst.vpcId)).toEqual([]);
  });

  it('syncs the firewall when a security group rule changes, the edge when an internet gateway moves, the names when a Name tag changes', async () => {
    const { cloud, fake, launch } = await domainCloud();
    const inst = await launch();
    const firewall = vi.spyOn(cloud.plane, 'syncFirewall');
    const edge = vi.spyOn(cloud.plane, 'syncEdge');
    const names = vi.spyOn(cloud.plane, 'refreshNames');

    const group = inst.securityGroupIds[0]!;
    await cloud.changeRules(ACCOUNT, group, false, { add: [{ protocol: 'tcp', fromPort: 22, toPort: 22, cidrs: [{ cidr: '10.9.0.0/16' }], groups: [] }] });
    expect(firewall).toHaveBeenCalledWith(ACCOUNT, inst.vpcId);
    expect(JSON.stringify(fake.network.firewalls.get(inst.vpcId))).toContain('10.9.0.0/16');

    const igw = (await cloud.network.internetGateways(ACCOUNT)).find((g) => g.vpcId === inst.vpcId)!;
    await cloud.switchInternet(ACCOUNT, igw.id, inst.vpcId, false);
    expect(edge).toHaveBeenCalledWith(inst.vpcId);
    expect(fake.network.internet.get(inst.vpcId)).toBe(false);

    await cloud.retag(ACCOUNT, [inst.id], { put: [{ key: 'Name', value: 'Web; Server' }] });
    expect(names).toHaveBeenCalledWith(ACCOUNT, [inst.id]);
    expect(fake.dns.records.get(inst.vpcId)?.[0]?.names).toEqual([privateHostLabel(inst.privateIp), 'web-server']);
  });

  it("lets a container's NFS traffic through its router while it holds a volume (the NFS plug calls the plane)", async () => {
    const { cloud, fake, launch } = await domainCloud();
    const inst = await launch();
    const edge = vi.spyOn(cloud.plane, 'syncEdge');
    const vol = await cloud.volumes.create(ACCOUNT, { availabilityZone: inst.availabilityZone, size: 1, tags: [] });
    await cloud.volumes.attach(ACCOUNT, vol.id, inst.id, '/dev/sdf');
    expect(edge).toHaveBeenCalledWith(inst.vpcId);
    expect(fake.network.edges.get(inst.vpcId)?.nfs?.clients).toEqual([{ ip: inst.privateIp, nat: nfsClientAddress(inst.id) }]);
    await cloud.volumes.detach(ACCOUNT, vol.id);
    expect(fake.network.edges.get(inst.vpcId)?.nfs).toBeUndefined();
  });
});

describe('stop and start', () => {
  it("a stop's unit end heard after a start queued the launch is the previous run's: the instance starts, not fails", async () => {
    const { cloud, fake, launch } = await domainCloud();
    const inst = await launch();
    // The stop shows stopped before it unpublishes the instance's names: hold it there, as a slow DNS sync does.
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const unpublish = vi.spyOn(cloud.plane, 'unpublish').mockImplementationOnce(() => held);
    await cloud.instances.stop(ACCOUNT, [inst.id], true);
    await waitFor('stopped', async () => (await cloud.instances.row(inst.id))?.state === 'stopped');
    // The unit manager tells of the unit's end late (queued behind the stop), then the user starts the instance.
    fake.units.exit(`${UNIT_PREFIX}${inst.id}`, 'success');
    await cloud.instances.start(ACCOUNT, [inst.id]);
    release();
    await cloud.instances.idle();
    await waitFor('running', async () => (await cloud.instances.row(inst.id))?.state === 'running');
    expect(unpublish).toHaveBeenCalledWith(inst.id);
    expect((await cloud.instances.row(inst.id))?.stateReasonMessage ?? '').not.toContain('did not become ready');
  });
});

describe('a start that fails', () => {
  const stopped = async () => {
    const { cloud, fake, launch } = await domainCloud();
    const inst = await launch();
    await cloud.instances.stop(ACCOUNT, [inst.id], true);
    await cloud.instances.idle();
    expect((await cloud.instances.row(inst.id))?.state).toBe('stopped');
    return { cloud, fake, id: inst.id };
  };

  it("leaves the instance stopped with its disk when its unit does not start (EC2 never terminates it for that)", async () => {
    const { cloud, fake, id } = await stopped();
    fake.units.failNextStart = new Error('systemd-run: exit 1 (/var/lib/pcloud/pool/instances)');
    await cloud.instances.start(ACCOUNT, [id]);
    await cloud.instances.idle();
    const row = (await cloud.instances.row(id))!;
    expect([row.state, row.stateReasonCode]).toEqual(['stopped', 'Server.InternalError']);
    expect(row.stateReasonMessage).toContain('start it again');
    expect(row.stateReasonMessage).not.toContain('/var/lib');
    expect(await fake.pool.hasDisk(id)).toBe(true);
    expect(fake.network.attached.has(id)).toBe(false);
    // And it starts again once the host can.
    await cloud.instances.start(ACCOUNT, [id]);
    await waitFor('running', async () => (await cloud.instances.row(id))?.state === 'running');
  });

  it('leaves it stopped with its disk when its unit ends before it is ready; a first launch that does is terminated', async () => {
    const { cloud, fake, id } = await stopped();
    fake.units.autoReady = false;
    await cloud.instances.start(ACCOUNT, [id]);
    await waitFor('its unit started', () => fake.units.units.get(`${UNIT_PREFIX}${id}`)?.state === 'activating');
    fake.units.exit(`${UNIT_PREFIX}${id}`, 'exit-code');
    await waitFor('stopped', async () => (await cloud.instances.row(id))?.state === 'stopped');
    await cloud.instances.idle();
    expect((await cloud.instances.row(id))?.stateReasonMessage).toContain('did not become ready');
    expect(await fake.pool.hasDisk(id)).toBe(true);

    const [first] = (await cloud.instances.run(ACCOUNT, {
          imageId: (await cloud.instances.row(id))!.imageId, minCount: 1, maxCount: 1, securityGroupIds: [], securityGroups: [], tagSpecifications: [], metadataOptions: {},
        })).instances;
    await waitFor('its unit started', () => fake.units.units.get(`${UNIT_PREFIX}${first!.id}`)?.state === 'activating');
    fake.units.exit(`${UNIT_PREFIX}${first!.id}`, 'exit-code');
    await waitFor('terminated', async () => (await cloud.instances.row(first!.id))?.state === 'terminated');
    await cloud.instances.idle();
    expect(await fake.pool.hasDisk(first!.id)).toBe(false);
  });
});

describe('instance health (DescribeInstanceStatus)', () => {
  const active = (statusText?: string) => ({ unit: { state: 'active' as const, statusText } });
  const ok = { status: 'ok', details: [{ name: 'reachability', status: 'passed' }] };
  const booting = { status: 'initializing', details: [{ name: 'reachability', status: 'initializing' }] };
  // The guest's own check (InstanceStatus); the host's (SystemStatus) is ok while the host is heard from.
  const passed = { system: ok, instance: ok };
  const initializing = { system: booting, instance: booting };
  const impaired = { system: ok, instance: { status: 'impaired', details: [{ name: 'reachability', status: 'failed' }] } };
  const none = { system: { status: 'not-applicable', details: [] }, instance: { status: 'not-applicable', details: [] } };

  it('is not applicable unless running', () => {
    for (const state of ['pending', 'stopping', 'stopped', 'shutting-down', 'terminated']) {
      expect(instanceHealth({ state, runtime: 'q35' }, { vmStatus: 'running' })).toEqual(none);
      expect(instanceHealth({ state, runtime: 'container' }, active('ok'))).toEqual(none);
    }
  });

  it('a container or microvm: initializing until its guest says ok or impaired (its unit\'s status text); an image without the protocol is ok', () => {
    for (const runtime of ['container', 'microvm']) {
      const vm = runtime === 'microvm' ? { vmStatus: 'running' } : {};
      expect(instanceHealth({ state: 'running', runtime }, { ...vm, ...active('starting') })).toEqual(initializing);
      expect(instanceHealth({ state: 'running', runtime }, { ...vm, ...active('running') })).toEqual(initializing);
      expect(instanceHealth({ state: 'running', runtime }, { ...vm, ...active('ok') })).toEqual(passed);
      expect(instanceHealth({ state: 'running', runtime }, { ...vm, ...active('impaired') })).toEqual(impaired);
      // Units started before the protocol (nspawn's own status, vm-ready's old one), or with none.
      for (const text of [undefined, 'Container running.', 'guest booted']) {
        expect(instanceHealth({ state: 'running', runtime }, { ...vm, ...active(text) })).toEqual(passed);
      }
      // Being started again (a reboot): initializing; its unit ended or gone: impaired.
      expect(instanceHealth({ state: 'running', runtime }, { ...vm, unit: { state: 'activating', statusText: 'ok' } })).toEqual(initializing);
      for (const state of ['failed', 'inactive', 'deactivating'] as const) {
        expect(instanceHealth({ state: 'running', runtime }, { ...vm, unit: { state, statusText: 'ok' } })).toEqual(impaired);
      }
      expect(instanceHealth({ state: 'running', runtime }, vm)).toEqual(impaired);
    }
    for (const vm of ['paused', 'guest-panicked', undefined]) {
      expect(instanceHealth({ state: 'running', runtime: 'microvm' }, { vmStatus: vm, ...active('ok') })).toEqual(impaired);
    }
  });

  it('a q35 VM is ok only while its QEMU says running', () => {
    expect(instanceHealth({ state: 'running', runtime: 'q35' }, { vmStatus: 'running' })).toEqual(passed);
    for (const vm of ['paused', 'guest-panicked', 'internal-error', undefined]) {
      expect(instanceHealth({ state: 'running', runtime: 'q35' }, { vmStatus: vm })).toEqual(impaired);
    }
  });

  it('a host not heard from: the system check impaired, the guest\'s insufficient-data (whatever its unit last said)', () => {
    for (const runtime of ['container', 'microvm', 'q35']) {
      expect(instanceHealth({ state: 'running', runtime }, { vmStatus: 'running', ...active('ok'), hostLost: true })).toEqual({
        system: { status: 'impaired', details: [{ name: 'reachability', status: 'failed' }] },
        instance: { status: 'insufficient-data', details: [{ name: 'reachability', status: 'insufficient-data' }] },
      });
    }
  });

  it('lists running instances with their health; all of them with includeAll; its own filters apply', async () => {
    const { cloud, fake, launch } = await domainCloud();
    const a = await launch();
    const b = await launch();
    const c = await launch();
    fake.units.units.get(`pcloud-instance@${a.id}`)!.statusText = 'ok';
    fake.units.units.get(`pcloud-instance@${c.id}`)!.statusText = 'running';
    await cloud.instances.stop(ACCOUNT, [b.id]);
    await cloud.instances.idle();
    const list = async (filters: { name: string; values: string[] }[], all = false, ids: string[] = []) =>
      (await cloud.instances.statuses(ACCOUNT, { ids, filters }, all)).statuses.map((s) => [s.instance.id, s.health.instance.status]);
    expect(await list([])).toEqual([[a.id, 'ok'], [c.id, 'initializing']]);
    expect(await list([], true)).toEqual([[a.id, 'ok'], [b.id, 'not-applicable'], [c.id, 'initializing']]);
    expect(await list([], false, [c.id])).toEqual([[c.id, 'initializing']]);
    expect(await list([{ name: 'instance-status.status', values: ['ok'] }], true)).toEqual([[a.id, 'ok']]);
    expect(await list([{ name: 'system-status.status', values: ['initializing', 'not-applicable'] }], true)).toEqual([[b.id, 'not-applicable'], [c.id, 'initializing']]);
    expect(await list([{ name: 'instance-status.reachability', values: ['pass*'] }])).toEqual([[a.id, 'ok']]);
    expect(await list([{ name: 'system-status.status', values: ['ok'] }])).toEqual([[a.id, 'ok']]);
    expect(await list([{ name: 'event.code', values: ['*'] }])).toEqual([]);
    fake.units.units.get(`pcloud-instance@${c.id}`)!.statusText = 'impaired';
    expect(await list([{ name: 'instance-status.status', values: ['impaired'] }])).toEqual([[c.id, 'impaired']]);
    await expect(cloud.instances.statuses(ACCOUNT, { ids: [], filters: [{ name: 'instance-status.bogus', values: ['x'] }] }, false)).rejects.toThrow("The filter 'instance-status.bogus' is invalid");
  });
});

describe('the private DNS name rule', () => {
  it('is ip-A-B-C-D in ec2.internal in us-east-1, and in REGION.compute.internal elsewhere', () => {
    expect(privateDnsName('10.0.1.5', 'us-east-1')).toBe('ip-10-0-1-5.ec2.internal');
    expect(privateDnsName('10.0.1.5', 'eu-west-1')).toBe('ip-10-0-1-5.eu-west-1.compute.internal');
    expect(privateDnsDomain('eu-west-1')).toBe('eu-west-1.compute.internal');
  });

  it("filters DescribeInstances by the region's own names outside us-east-1", async () => {
    const { cloud, fake, launch } = await domainCloud({ region: 'eu-west-1', availabilityZones: ['eu-west-1a'] });
    const inst = await launch();
    const find = async (name: string, values: string[]) => (await cloud.instances.describe(ACCOUNT, { ids: [], filters: [{ name, values }] })).instances.map((i) => i.id);
    const label = privateHostLabel(inst.privateIp);
    expect(await find('private-dns-name', [`${label}.eu-west-1.compute.internal`])).toEqual([inst.id]);
    expect(await find('private-dns-name', ['*.compute.internal'])).toEqual([inst.id]);
    expect(await find('private-dns-name', [`${label}.ec2.internal`])).toEqual([]);
    // The VPC's DNS publishes the same host label.
    expect(fake.dns.records.get(inst.vpcId)?.[0]?.names[0]).toBe(label);
  });
});

describe('which resources exist (what tags may name)', () => {
  it("takes the account's own resources and refuses others' and unknown ones with each type's code", async () => {
    const { cloud, launch } = await domainCloud();
    const inst = await launch();
    const vpc = (await cloud.network.vpcs(ACCOUNT))[0]!;
    const subnet = (await cloud.network.subnets(ACCOUNT))[0]!;
    const group = (await cloud.network.securityGroups(ACCOUNT))[0]!;
    await cloud.resources.checkExist(ACCOUNT, [inst.id, vpc.id, subnet.id, group.id]);
    const code = async (ids: string[], accountId = OTHER) => {
      try {
        await cloud.resources.checkExist(accountId, ids);
        return 'none';
      } catch (err) {
        return (err as { code: string }).code;
      }
    };
    expect(await code([inst.id])).toBe('InvalidInstanceID.NotFound');
    expect(await code([vpc.id])).toBe('InvalidVpcID.NotFound');
    expect(await code([subnet.id])).toBe('InvalidSubnetID.NotFound');
    expect(await code([group.id])).toBe('InvalidGroup.NotFound');
    expect(await code(['frob-123'], ACCOUNT)).toBe('InvalidID');
    expect(await code([], ACCOUNT)).toBe('MissingParameter');
  });
});

describe('DescribeTags paging (paging.ts)', () => {
  it('pages with pcloud tokens and refuses forged ones', async () => {
    const { cloud } = await domainCloud();
    const ids = Array.from({ length: 7 }, () => newId('vol'));
    await cloud.tags.put(ACCOUNT, ids, [{ key: 'k', value: 'v' }]);
    const first = await cloud.tags.describe(ACCOUNT, [], { max: 5 });
    expect(first.items).toHaveLength(5);
    const rest = await cloud.tags.describe(ACCOUNT, [], { max: 5, token: first.nextToken });
    expect(rest.items).toHaveLength(2);
    expect(rest.nextToken).toBeUndefined();
    expect([...first.items, ...rest.items].map((t) => t.resourceId)).toEqual([...ids].sort());
    expect((await rejected(() => cloud.tags.describe(ACCOUNT, [], { max: 5, token: Buffer.from('5').toString('base64url') })))).toMatchObject({ code: 'InvalidPaginationToken' });
    expect((await rejected(() => cloud.tags.describe(ACCOUNT, [], { max: 4 })))).toMatchObject({ code: 'InvalidParameterValue' });
  });
});
