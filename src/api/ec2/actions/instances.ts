/** EC2 instance actions: parse the Query, call the domain, shape the answer. */
import { CloudError, invalidParam } from '../../../cloud/errors.js';
import { fieldOf } from '../../../cloud/filters.js';
import type { Instance, PageFacts, RunParams, StateChange } from '../../../cloud/instances/index.js';
import { checkCpuCredits } from '../../../cloud/instances/params.js';
import { creditSpecifications } from '../../../cloud/instances/queries.js';
import type { MetadataOptions } from '../../../db/schema.js';
import { dryRunCheck, type Action, type Actions, type Ctx } from '../context.js';
import type { Query } from '../query.js';
import { groupSet, instanceFacts, instanceShape, stateShape } from '../shapes.js';
import { profileRef } from './iam-profiles.js';
import { once, tokenRequest } from '../client-token.js';

function runParams(q: Query): RunParams {
  const md = q.sub('MetadataOptions');
  return {
    imageId: q.str('ImageId'),
    instanceType: q.str('InstanceType') || undefined,
    minCount: q.int('MinCount'),
    maxCount: q.int('MaxCount'),
    keyName: q.str('KeyName') || undefined,
    userData: q.str('UserData') || undefined,
    clientToken: q.str('ClientToken') || undefined,
    subnetId: q.str('SubnetId') || q.str('NetworkInterface.1.SubnetId') || undefined,
    availabilityZone: q.str('Placement.AvailabilityZone') || undefined,
    privateIpAddress: q.str('PrivateIpAddress') || q.str('NetworkInterface.1.PrivateIpAddress') || undefined,
    associatePublicIp: q.bool('NetworkInterface.1.AssociatePublicIpAddress'),
    securityGroupIds: [...q.list('SecurityGroupId'), ...q.list('NetworkInterface.1.SecurityGroupId')],
    securityGroups: q.list('SecurityGroup'),
    tagSpecifications: q.tagSpecifications(),
    metadataOptions: metadataOptions(md),
    disableApiTermination: q.bool('DisableApiTermination'),
    disableApiStop: q.bool('DisableApiStop'),
    instanceInitiatedShutdownBehavior: q.str('InstanceInitiatedShutdownBehavior') || undefined,
    ebsOptimized: q.bool('EbsOptimized'),
    monitoring: q.bool('Monitoring.Enabled'),
    cpuCredits: q.str('CreditSpecification.CpuCredits') || undefined,
    hibernation: q.bool('HibernationOptions.Configured'),
    iamInstanceProfile: profileRef(q),
    launchTemplate: q.has('LaunchTemplate') ? {
      id: q.str('LaunchTemplate.LaunchTemplateId') || undefined,
      name: q.str('LaunchTemplate.LaunchTemplateName') || undefined,
      version: q.str('LaunchTemplate.Version') || undefined,
    } : undefined,
  };
}

function metadataOptions(md: Query): Partial<MetadataOptions> {
  const out: Partial<MetadataOptions> = {};
  const set = <K extends keyof MetadataOptions>(k: K, v: MetadataOptions[K] | undefined) => { if (v !== undefined) out[k] = v; };
  set('httpTokens', md.str('HttpTokens') as MetadataOptions['httpTokens'] | undefined);
  set('httpEndpoint', md.str('HttpEndpoint') as MetadataOptions['httpEndpoint'] | undefined);
  set('httpProtocolIpv6', md.str('HttpProtocolIpv6') as MetadataOptions['httpProtocolIpv6'] | undefined);
  set('instanceMetadataTags', md.str('InstanceMetadataTags') as MetadataOptions['instanceMetadataTags'] | undefined);
  set('httpPutResponseHopLimit', md.int('HttpPutResponseHopLimit'));
  return out;
}

/** The instances' shapes, what they show beside their rows read once for them all (instanceFacts); the group names. */
async function shapes(ctx: Ctx, rows: Instance[], known?: PageFacts) {
  const facts = await instanceFacts(ctx.cloud, ctx.accountId, rows, known);
  return { names: facts.names, items: rows.map((r) => instanceShape(ctx.cloud, r, facts)) };
}

function changes(list: StateChange[]) {
  return {
    instancesSet: list.map((c) => ({ instanceId: c.instanceId, currentState: stateShape(c.current), previousState: stateShape(c.previous) })),
  };
}

function ids(ctx: Ctx): string[] {
  return ctx.q.list('InstanceId');
}

/** Terminate/Stop/Start: the instances must exist before DryRun answers; the answer is their state changes. */
function lifecycle(act: (ctx: Ctx, ids: string[]) => Promise<StateChange[]>): Action {
  return {
    dryRun: 'self',
    handler: async (ctx) => {
      const list = ids(ctx);
      await ctx.cloud.instances.getMany(ctx.accountId, list);
      dryRunCheck(ctx);
      return changes(await act(ctx, list));
    },
  };
}

export const instanceActions: Actions = {
  RunInstances: {
    dryRun: 'self',
    handler: async (ctx) => {
      const res = await ctx.cloud.instances.run(ctx.accountId, runParams(ctx.q), ctx.dryRun);
      const { names, items } = await shapes(ctx, res.instances);
      return {
        reservationId: res.reservationId,
        ownerId: ctx.accountId,
        groupSet: groupSet(names, res.instances[0]!.securityGroupIds),
        instancesSet: items,
      };
    },
  },

  DescribeInstances: {
    handler: async (ctx) => {
      const page = await ctx.cloud.instances.describe(ctx.accountId, {
        ids: ids(ctx), filters: ctx.q.filters(), maxResults: ctx.q.int('MaxResults'), nextToken: ctx.q.str('NextToken') || undefined,
      }, { facts: true });
      const { names, items } = await shapes(ctx, page.instances, page.facts);
      const byReservation = new Map<string, { first: Instance; items: typeof items }>();
      page.instances.forEach((inst, i) => {
        const r = byReservation.get(inst.reservationId) ?? { first: inst, items: [] };
        r.items.push(items[i]!);
        byReservation.set(inst.reservationId, r);
      });
      return {
        reservationSet: [...byReservation.entries()].map(([id, r]) => ({
          reservationId: id,
          ownerId: r.first.accountId,
          groupSet: groupSet(names, r.first.securityGroupIds),
          instancesSet: r.items,
        })),
        nextToken: page.nextToken,
      };
    },
  },

  TerminateInstances: lifecycle((ctx, list) => ctx.cloud.instances.terminate(ctx.accountId, list)),
  StopInstances: lifecycle((ctx, list) => ctx.cloud.instances.stop(ctx.accountId, list, ctx.q.bool('Force') ?? false)),
  StartInstances: lifecycle((ctx, list) => ctx.cloud.instances.start(ctx.accountId, list)),

  RebootInstances: {
    dryRun: 'self',
    handler: async (ctx) => {
      const list = ids(ctx);
      await ctx.cloud.instances.getMany(ctx.accountId, list);
      dryRunCheck(ctx);
      await ctx.cloud.instances.reboot(ctx.accountId, list);
      return { return: true };
    },
  },

  DescribeInstanceStatus: {
    handler: async (ctx) => {
      const page = await ctx.cloud.instances.statuses(ctx.accountId, {
        ids: ids(ctx), filters: ctx.q.filters(), maxResults: ctx.q.int('MaxResults'), nextToken: ctx.q.str('NextToken') || undefined,
      }, ctx.q.bool('IncludeAllInstances') ?? false);
      return {
        instanceStatusSet: page.statuses.map(({ instance: r, health }) => ({
          instanceId: r.id,
          availabilityZone: r.availabilityZone,
          instanceState: stateShape(r.state),
          systemStatus: health.system,
          instanceStatus: health.instance,
        })),
        nextToken: page.nextToken,
      };
    },
  },

  DescribeInstanceAttribute: {
    handler: async (ctx) => {
      const id = ctx.q.req('InstanceId');
      const attr = ctx.q.req('Attribute');
      const inst = await ctx.cloud.instances.get(ctx.accountId, id);
      const a = inst.attributes;
      const value = (v: unknown) => ({ value: v });
      const known: Record<string, () => Record<string, unknown>> = {
        instanceType: () => ({ instanceType: value(inst.instanceType) }),
        kernel: () => ({ kernel: {} }),
        ramdisk: () => ({ ramdisk: {} }),
        userData: () => ({ userData: inst.userData ? value(inst.userData) : {} }),
        disableApiTermination: () => ({ disableApiTermination: value(a.disableApiTermination) }),
        disableApiStop: () => ({ disableApiStop: value(a.disableApiStop) }),
        instanceInitiatedShutdownBehavior: () => ({ instanceInitiatedShutdownBehavior: value(a.instanceInitiatedShutdownBehavior) }),
        rootDeviceName: () => ({ rootDeviceName: value('/dev/xvda') }),
        blockDeviceMapping: () => ({
          blockDeviceMapping: [{ deviceName: '/dev/xvda', ebs: { volumeId: inst.rootVolumeId, status: 'attached', attachTime: new Date(inst.launchTime), deleteOnTermination: true } }],
        }),
        productCodes: () => ({ productCodes: [] }),
        sourceDestCheck: () => ({ sourceDestCheck: value(a.sourceDestCheck) }),
        groupSet: () => ({ groupSet: inst.securityGroupIds.map((g) => ({ groupId: g })) }),
        ebsOptimized: () => ({ ebsOptimized: value(a.ebsOptimized) }),
        sriovNetSupport: () => ({ sriovNetSupport: {} }),
        enaSupport: () => ({ enaSupport: value(true) }),
        enclaveOptions: () => ({ enclaveOptions: { enabled: false } }),
      };
      const get = fieldOf(known, attr);
      if (!get) throw invalidParam(`Value (${attr}) for parameter attribute is invalid. Unknown attribute.`);
      return { instanceId: id, ...get() };
    },
  },

  ModifyInstanceAttribute: {
    dryRun: 'self',
    handler: async (ctx) => {
      const q = ctx.q;
      const id = q.req('InstanceId');
      await ctx.cloud.instances.get(ctx.accountId, id);
      const attr = q.str('Attribute');
      // `Name.Value`, or `Attribute=name&Value=...` (the attribute in EC2's camelCase: instanceType).
      const single = (name: string) => q.str(`${name}.Value`) ?? (attr !== undefined && attr.toLowerCase() === name.toLowerCase() ? q.str('Value') : undefined);
      const bool = (name: string) => {
        const v = single(name);
        if (v === undefined) return undefined;
        if (!/^(true|false)$/i.test(v)) throw invalidParam(`Value (${v}) for parameter ${name} is invalid. Expected a boolean.`);
        return v.toLowerCase() === 'true';
      };
      const change = {
        instanceType: single('InstanceType'),
        userData: single('UserData'),
        instanceInitiatedShutdownBehavior: single('InstanceInitiatedShutdownBehavior') as 'stop' | 'terminate' | undefined,
        disableApiTermination: bool('DisableApiTermination'),
        disableApiStop: bool('DisableApiStop'),
        ebsOptimized: bool('EbsOptimized'),
        sourceDestCheck: bool('SourceDestCheck'),
      };
      if (Object.values(change).every((v) => v === undefined)) {
        if (attr) throw invalidParam(`Value (${attr}) for parameter attribute is invalid or cannot be modified.`);
        throw new CloudError('MissingParameter', 'No attributes specified.');
      }
      dryRunCheck(ctx);
      await ctx.cloud.modifyInstanceAttributes(ctx.accountId, id, change);
      return { return: true };
    },
  },

  ModifyInstanceMetadataOptions: {
    dryRun: 'self',
    handler: async (ctx) => {
      const id = ctx.q.req('InstanceId');
      await ctx.cloud.instances.get(ctx.accountId, id);
      const opts = metadataOptions(ctx.q);
      dryRunCheck(ctx);
      const md = await ctx.cloud.instances.modifyMetadataOptions(ctx.accountId, id, opts);
      return { instanceId: id, instanceMetadataOptions: { state: 'pending', ...md } };
    },
  },

  DescribeInstanceCreditSpecifications: {
    handler: async (ctx) => {
      const list = ids(ctx);
      const rows = list.length
        ? (await ctx.cloud.instances.getMany(ctx.accountId, list))
        : (await ctx.cloud.instances.describe(ctx.accountId, { ids: [], filters: ctx.q.filters() })).instances;
      return { instanceCreditSpecificationSet: creditSpecifications(rows) };
    },
  },

  ModifyInstanceCreditSpecification: {
    dryRun: 'self',
    handler: async (ctx) => {
      const specs = ctx.q.structs('InstanceCreditSpecification').map((s) => ({ id: s.req('InstanceId'), credits: s.req('CpuCredits') }));
      const req = tokenRequest(ctx, 'ModifyInstanceCreditSpecification');
      for (const s of specs) {
        checkCpuCredits(s.credits);
        await ctx.cloud.instances.get(ctx.accountId, s.id);
      }
      dryRunCheck(ctx);
      // Made again with its token: the first answer, the credits not set again (another request may have changed them since).
      const ids = await once(ctx, req, async () => {
              for (const s of specs) await ctx.cloud.instances.modifyAttributes(ctx.accountId, s.id, { cpuCredits: checkCpuCredits(s.credits) });
        const done = specs.map((s) => s.id);
        return { id: done.join(','), value: done };
      }, (made) => made.split(','));
      return { successfulInstanceCreditSpecificationSet: ids.map((instanceId) => ({ instanceId })), unsuccessfulInstanceCreditSpecificationSet: [] };
    },
  },

  GetConsoleOutput: {
    handler: async (ctx) => {
      const id = ctx.q.req('InstanceId');
      const out = await ctx.cloud.instances.consoleOutput(ctx.accountId, id);
      return { instanceId: id, timestamp: new Date(), output: out.toString('base64') };
    },
  },
  /** The display of a VM that has one (q35), as a JPEG, base64 in ImageData (as EC2 sends it). */
  GetConsoleScreenshot: {
    handler: async (ctx) => {
      const id = ctx.q.req('InstanceId');
      const jpeg = await ctx.cloud.consoles.screenshot(ctx.accountId, id);
      return { instanceId: id, imageData: jpeg.toString('base64') };
    },
  },
};
