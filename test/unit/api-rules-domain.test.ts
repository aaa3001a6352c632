/**
 * Rules that moved out of src/api/ec2/actions into the domain (issue 13): which instances hold a root volume, an
 * interface and an address; a subnet's free addresses; DescribeSnapshots' Owner rule; ZoneName and InstanceType
 * selection; CpuCredits, checked once by the domain, and which credit specifications are shown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { instanceTypes } from '../../src/cloud/catalog.js';
import { checkCpuCredits } from '../../src/cloud/instances/params.js';
import { creditSpecifications } from '../../src/cloud/instances/queries.js';
import { holdsResources, type Instance } from '../../src/cloud/instances/types.js';
import { parseCidr } from '../../src/cloud/ip.js';
import { networkInterfacesOf } from '../../src/cloud/network-filters.js';
import { availabilityZones, instanceTypesNamed, zonesNamed } from '../../src/cloud/region-filters.js';
import { ownersAdmit, rootViews } from '../../src/cloud/volume-views.js';
import { ACCOUNT, closeDomainClouds, domainCloud } from '../support/domain-cloud.js';
import { rejected, thrown } from '../support/thrown.js';

afterEach(closeDomainClouds);

async function cloudWithInstance() {
  const { cloud, launch } = await domainCloud();
  const { id } = await launch();
  return { cloud, inst: await cloud.instances.get(ACCOUNT, id) };
}

const withState = (i: Instance, state: string): Instance => ({ ...i, state });

describe('what an instance holds', () => {
  it('holds its root volume and interface in every state but terminated', async () => {
    const { inst } = await cloudWithInstance();
    const states = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'];
    const list = states.map((s) => withState({ ...inst, id: `${inst.id}-${s}` }, s));
    expect(states.filter((s) => holdsResources({ state: s }))).toEqual(states.slice(0, -1));
    expect(rootViews(list).map((v) => v.attachment?.instanceId)).toEqual(list.slice(0, -1).map((i) => i.id));
    expect(networkInterfacesOf(list).map((e) => e.instanceId)).toEqual(list.slice(0, -1).map((i) => i.id));
    expect(networkInterfacesOf(list)[0]?.id).toBe(inst.networkInterfaceId);
  });

  it("counts a subnet's free addresses: five reserved, one per instance until it is terminated", async () => {
    const { cloud, inst } = await cloudWithInstance();
    const subnet = await cloud.network.subnet(ACCOUNT, inst.subnetId);
    const size = parseCidr(subnet.cidr).size;
    expect(await cloud.network.freeAddresses(subnet)).toBe(size - 6);
    await cloud.instances.stop(ACCOUNT, [inst.id]);
    await cloud.instances.idle();
    expect(await cloud.network.freeAddresses(subnet)).toBe(size - 6);
    await cloud.instances.terminate(ACCOUNT, [inst.id]);
    await cloud.instances.idle();
    expect((await cloud.instances.row(inst.id))?.state).toBe('terminated');
    expect(await cloud.network.freeAddresses(subnet)).toBe(size - 5);
  });
});

describe("DescribeSnapshots' Owner rule", () => {
  it('admits the account by its id or as self, or with no Owner list; anyone else finds none', () => {
    expect(ownersAdmit(ACCOUNT, [])).toBe(true);
    expect(ownersAdmit(ACCOUNT, ['self'])).toBe(true);
    expect(ownersAdmit(ACCOUNT, ['222222222222', ACCOUNT])).toBe(true);
    expect(ownersAdmit(ACCOUNT, ['222222222222'])).toBe(false);
    expect(ownersAdmit(ACCOUNT, ['amazon'])).toBe(false);
  });
});

describe('zones and instance types by name', () => {
  const zones = availabilityZones(['us-east-1a', 'us-east-1b', 'us-east-1c']);

  it('selects zones by ZoneName, all of them without, none for a name not in the region', () => {
    expect(zonesNamed(zones, [])).toEqual(zones);
    expect(zonesNamed(zones, ['us-east-1b']).map((z) => z.id)).toEqual(['use1-az2']);
    expect(zonesNamed(zones, ['eu-west-1a'])).toEqual([]);
  });

  it('selects instance types by name, all of them without, and refuses an unknown one by name', () => {
    expect(instanceTypesNamed([])).toHaveLength(instanceTypes.size);
    expect(instanceTypesNamed(['t3.micro']).map((t) => t.name)).toEqual(['t3.micro']);
    expect(thrown(() => instanceTypesNamed(['t3.micro', 'x9.huge', 'y1.tiny']))).toMatchObject({
      code: 'InvalidParameterValue', message: 'The following supplied instance types do not exist: [x9.huge, y1.tiny]',
    });
  });
});

describe('CPU credits', () => {
  it('takes standard or unlimited, and refuses anything else with the same message', () => {
    expect(checkCpuCredits('standard')).toBe('standard');
    expect(checkCpuCredits('unlimited')).toBe('unlimited');
    for (const bad of ['', 'Standard', 'unlimited\n', "x'; {}"]) {
      expect(thrown(() => checkCpuCredits(bad))).toMatchObject({ code: 'InvalidParameterValue', message: `Invalid CpuCredits '${bad}'` });
    }
  });

  it('refuses an invalid CpuCredits in the domain too, and keeps a valid change', async () => {
    const { cloud, inst } = await cloudWithInstance();
    const bogus = 'bogus' as 'standard';
    expect((await rejected(() => cloud.instances.modifyAttributes(ACCOUNT, inst.id, { cpuCredits: bogus })))).toMatchObject({
      code: 'InvalidParameterValue', message: "Invalid CpuCredits 'bogus'",
    });
    expect((await cloud.instances.get(ACCOUNT, inst.id)).attributes.cpuCredits).toBe('unlimited');
    await cloud.instances.modifyAttributes(ACCOUNT, inst.id, { cpuCredits: 'standard' });
    expect((await cloud.instances.get(ACCOUNT, inst.id)).attributes.cpuCredits).toBe('standard');
  });

  it('shows the credit specifications of burstable instances that are not terminated', async () => {
    const { inst } = await cloudWithInstance();
    const fixed = { ...inst, id: 'i-fixed', attributes: { ...inst.attributes, cpuCredits: undefined } };
    const gone = withState({ ...inst, id: 'i-gone' }, 'terminated');
    const stopped = withState({ ...inst, id: 'i-stopped' }, 'stopped');
    expect(creditSpecifications([inst, fixed, gone, stopped])).toEqual([
      { instanceId: inst.id, cpuCredits: 'unlimited' }, { instanceId: 'i-stopped', cpuCredits: 'unlimited' },
    ]);
  });
});
