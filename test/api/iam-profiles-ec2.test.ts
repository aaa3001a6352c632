/**
 * Instance profiles on instances (issue 16): RunInstances' IamInstanceProfile (and a launch template's), the four
 * association operations with EC2's codes, DescribeInstances' iamInstanceProfile, a terminated instance's association
 * and sessions gone; and the metadata service's iam/ tree: info and the role's credentials (EC2's JSON), which sign
 * requests as the assumed role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AssociateIamInstanceProfileCommand, CreateLaunchTemplateCommand, DescribeIamInstanceProfileAssociationsCommand,
  DescribeInstancesCommand, DisassociateIamInstanceProfileCommand, EC2Client, ReplaceIamInstanceProfileAssociationCommand,
  RunInstancesCommand, TerminateInstancesCommand, type IamInstanceProfileSpecification,
} from '@aws-sdk/client-ec2';
import { eq } from 'drizzle-orm';
import { startApi, until, type TestApi } from '../support/api.js';
import { imdsFor } from '../support/imds.js';
import { dropProfile, putProfile, setProfileRole } from '../support/profile-rows.js';
import { putRole } from '../support/iam-rows.js';
import { instances, stsSessions } from '../../src/db/schema.js';

const ACCOUNT = '111111111111';
let api: TestApi;
let web: { profileId: string; arn: string };
let other: { profileId: string; arn: string };

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string };
    return { code: e.name, message: e.message };
  }
  throw new Error('expected the call to fail');
}

async function run(profile?: IamInstanceProfileSpecification): Promise<string> {
  const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, IamInstanceProfile: profile }));
  return res.Instances![0]!.InstanceId!;
}

async function describeOne(id: string) {
  return (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
}

async function associations(filters: { Name: string; Values: string[] }[] = [], ids?: string[]) {
  return (await api.ec2.send(new DescribeIamInstanceProfileAssociationsCommand({ Filters: filters, AssociationIds: ids }))).IamInstanceProfileAssociations!;
}

const instanceCount = async () => (await api.cloud.db.select().from(instances)).length;

beforeAll(async () => {
  api = await startApi();
  await putRole(api.cloud.db, { accountId: ACCOUNT, name: 'web-role' });
  await putRole(api.cloud.db, { accountId: ACCOUNT, name: 'batch-role', path: '/jobs/' });
  web = await putProfile(api.cloud.db, { accountId: ACCOUNT, name: 'web', roleName: 'web-role' });
  other = await putProfile(api.cloud.db, { accountId: ACCOUNT, name: 'batch', roleName: 'batch-role', path: '/jobs/' });
  await putProfile(api.cloud.db, { accountId: ACCOUNT, name: 'empty' });
  await putProfile(api.cloud.db, { accountId: '222222222222', name: 'theirs', roleName: 'web-role' });
});
afterAll(async () => { await api?.close(); });

describe('RunInstances with IamInstanceProfile', () => {
  it('by name or ARN: the instance has it (RunInstances, DescribeInstances) and one association lists it', async () => {
    const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.nano', MinCount: 2, MaxCount: 2, IamInstanceProfile: { Name: 'web' } }));
    expect(res.Instances!.map((i) => i.IamInstanceProfile)).toEqual([{ Arn: web.arn, Id: web.profileId }, { Arn: web.arn, Id: web.profileId }]);
    const byArn = await run({ Arn: other.arn });
    expect((await describeOne(byArn)).IamInstanceProfile).toEqual({ Arn: other.arn, Id: other.profileId });
    // One page of all three and one without (their profiles read once for the page): each shows its own.
    const none = await run();
    const all = [...res.Instances!.map((i) => i.InstanceId!), byArn, none];
    const page = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: all }))).Reservations!.flatMap((r) => r.Instances!);
    expect(all.map((id) => page.find((i) => i.InstanceId === id)!.IamInstanceProfile)).toEqual([
      { Arn: web.arn, Id: web.profileId }, { Arn: web.arn, Id: web.profileId }, { Arn: other.arn, Id: other.profileId }, undefined,
    ]);
    const [a] = await associations([{ Name: 'instance-id', Values: [byArn] }]);
    expect(a).toMatchObject({ InstanceId: byArn, State: 'associated', IamInstanceProfile: { Arn: other.arn, Id: other.profileId } });
    expect(a!.AssociationId).toMatch(/^iip-assoc-[0-9a-f]{17}$/);
    expect(await associations([], [a!.AssociationId!])).toHaveLength(1);
    const first = res.Instances![0]!.InstanceId!;
    expect((await associations([{ Name: 'instance-id', Values: [first] }, { Name: 'state', Values: ['associated'] }])).map((x) => x.InstanceId)).toEqual([first]);
    expect(await associations([{ Name: 'state', Values: ['disassociated'] }])).toEqual([]);
  });

  it('without one: no iamInstanceProfile, no association', async () => {
    const id = await run();
    expect((await describeOne(id)).IamInstanceProfile).toBeUndefined();
    expect(await associations([{ Name: 'instance-id', Values: [id] }])).toEqual([]);
  });

  it('an unknown, roleless or foreign profile is InvalidParameterValue in EC2\'s words, and nothing is launched', async () => {
    const before = await instanceCount();
    expect(await errorOf(run({ Name: 'nope' }))).toEqual({
      code: 'InvalidParameterValue', message: 'Value (nope) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name',
    });
    const arn = `arn:aws:iam::${ACCOUNT}:instance-profile/nope`;
    expect(await errorOf(run({ Arn: arn }))).toEqual({
      code: 'InvalidParameterValue', message: `Value (${arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN`,
    });
    // Another account's profile, a path that is not the profile's, an ARN and a name naming two profiles.
    for (const spec of [{ Arn: 'arn:aws:iam::222222222222:instance-profile/theirs' }, { Name: 'theirs' }, { Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/web-path/web` },
      { Arn: web.arn, Name: 'batch' }, { Arn: 'not-an-arn' }]) {
      expect((await errorOf(run(spec))).code, JSON.stringify(spec)).toBe('InvalidParameterValue');
    }
    const empty = await errorOf(run({ Name: 'empty' }));
    expect(empty.code).toBe('InvalidParameterValue');
    expect(empty.message).toContain('AddRoleToInstanceProfile');
    expect(await instanceCount()).toBe(before);
  });

  it('hostile names are refused, never echoed whole', async () => {
    for (const name of ['__proto__x/', 'a'.repeat(100_000), 'x\ny', 'a;b{c}$d%e"f\'g', 'nul\0']) {
      const e = await errorOf(run({ Name: name }));
      expect(e.code).toBe('InvalidParameterValue');
      expect(e.message.length).toBeLessThan(400);
    }
    expect((await errorOf(run({ Name: '__proto__' }))).code).toBe('InvalidParameterValue');
  });

  it('from a launch template, unless the request gives its own', async () => {
    const lt = await api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'with-profile', LaunchTemplateData: { ImageId: api.imageId, InstanceType: 't3.nano', IamInstanceProfile: { Name: 'web' } },
    }));
    const res = await api.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId } }));
    expect(res.Instances![0]!.IamInstanceProfile).toEqual({ Arn: web.arn, Id: web.profileId });
    const own = await api.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateName: 'with-profile' }, IamInstanceProfile: { Arn: other.arn } }));
    expect(own.Instances![0]!.IamInstanceProfile).toEqual({ Arn: other.arn, Id: other.profileId });
    const bad = await api.ec2.send(new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'bad-profile', LaunchTemplateData: { ImageId: api.imageId, IamInstanceProfile: { Name: 'nope' } },
    }));
    expect((await errorOf(api.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: bad.LaunchTemplate!.LaunchTemplateId } })))).code)
      .toBe('InvalidParameterValue');
  });
});

describe('Associate, Replace, Disassociate, Describe', () => {
  it('associate one profile at a time; replace gives a new association; disassociate removes it', async () => {
    const id = await run();
    const assoc = (await api.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: id, IamInstanceProfile: { Name: 'web' } }))).IamInstanceProfileAssociation!;
    expect(assoc).toMatchObject({ InstanceId: id, State: 'associating', IamInstanceProfile: { Arn: web.arn, Id: web.profileId } });
    expect(await errorOf(api.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: id, IamInstanceProfile: { Name: 'batch' } })))).toEqual({
      code: 'IncorrectState', message: `There is an existing association for instance ${id}`,
    });
    expect((await associations([], [assoc.AssociationId!]))[0]!.State).toBe('associated');
    expect((await describeOne(id)).IamInstanceProfile).toEqual({ Arn: web.arn, Id: web.profileId });

    const replaced = (await api.ec2.send(new ReplaceIamInstanceProfileAssociationCommand({ AssociationId: assoc.AssociationId, IamInstanceProfile: { Arn: other.arn } }))).IamInstanceProfileAssociation!;
    expect(replaced).toMatchObject({ InstanceId: id, State: 'associating', IamInstanceProfile: { Arn: other.arn } });
    expect(replaced.AssociationId).not.toBe(assoc.AssociationId);
    expect((await errorOf(associations([], [assoc.AssociationId!]))).code).toBe('InvalidAssociationID.NotFound');
    expect((await describeOne(id)).IamInstanceProfile).toEqual({ Arn: other.arn, Id: other.profileId });

    const gone = (await api.ec2.send(new DisassociateIamInstanceProfileCommand({ AssociationId: replaced.AssociationId }))).IamInstanceProfileAssociation!;
    expect(gone).toMatchObject({ AssociationId: replaced.AssociationId, InstanceId: id, State: 'disassociating' });
    expect(await associations([{ Name: 'instance-id', Values: [id] }])).toEqual([]);
    expect((await describeOne(id)).IamInstanceProfile).toBeUndefined();
    expect((await errorOf(api.ec2.send(new DisassociateIamInstanceProfileCommand({ AssociationId: replaced.AssociationId })))).code).toBe('InvalidAssociationID.NotFound');
  });

  it('refusals: unknown instance or association, malformed ids, a bad profile, another account, a terminated instance', async () => {
    expect((await errorOf(api.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: 'i-0123456789abcdef0', IamInstanceProfile: { Name: 'web' } })))).code).toBe('InvalidInstanceID.NotFound');
    expect((await errorOf(api.ec2.send(new DisassociateIamInstanceProfileCommand({ AssociationId: 'iip-assoc-0123456789abcdef0' })))).code).toBe('InvalidAssociationID.NotFound');
    for (const bad of ['nope', 'iip-assoc-__proto__', 'x'.repeat(10_000)]) {
      expect((await errorOf(api.ec2.send(new DisassociateIamInstanceProfileCommand({ AssociationId: bad })))).code).toBe('InvalidParameterValue');
      expect((await errorOf(associations([], [bad]))).code).toBe('InvalidParameterValue');
    }
    const id = await run();
    expect((await errorOf(api.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: id, IamInstanceProfile: { Name: 'nope' } })))).code).toBe('InvalidParameterValue');
    expect((await errorOf(api.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: id, IamInstanceProfile: {} })))).code).toBe('MissingParameter');
    expect(await associations([{ Name: 'instance-id', Values: [id] }])).toEqual([]);
    // Another account sees neither the instance nor its association.
    const assoc = (await api.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: id, IamInstanceProfile: { Name: 'web' } }))).IamInstanceProfileAssociation!;
    const theirs: EC2Client = api.ec2Other;
    expect((await errorOf(theirs.send(new DisassociateIamInstanceProfileCommand({ AssociationId: assoc.AssociationId })))).code).toBe('InvalidAssociationID.NotFound');
    expect((await theirs.send(new DescribeIamInstanceProfileAssociationsCommand({}))).IamInstanceProfileAssociations).toEqual([]);
    expect((await errorOf(api.ec2.send(new DescribeIamInstanceProfileAssociationsCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })))).code).toBe('InvalidParameterValue');
    expect((await errorOf(api.ec2.send(new DescribeIamInstanceProfileAssociationsCommand({ MaxResults: 2 })))).code).toBe('InvalidParameterValue');
  });

  it('pages with MaxResults and NextToken', async () => {
    const all = await associations();
    expect(all.length).toBeGreaterThan(5);
    const first = await api.ec2.send(new DescribeIamInstanceProfileAssociationsCommand({ MaxResults: 5 }));
    expect(first.IamInstanceProfileAssociations).toHaveLength(5);
    const rest = await api.ec2.send(new DescribeIamInstanceProfileAssociationsCommand({ MaxResults: 1000, NextToken: first.NextToken }));
    expect([...first.IamInstanceProfileAssociations!, ...rest.IamInstanceProfileAssociations!].map((a) => a.AssociationId)).toEqual(all.map((a) => a.AssociationId));
  });

  it('a terminated instance loses its association and its role sessions', async () => {
    const id = await run({ Name: 'web' });
    const inst = await api.cloud.instances.get(ACCOUNT, id);
    const creds = await imdsFor(api.cloud, inst)('GET', '/latest/meta-data/iam/security-credentials/web-role');
    expect(creds.status).toBe(200);
    const key = (JSON.parse(creds.text) as { AccessKeyId: string }).AccessKeyId;
    expect((await api.cloud.db.select().from(stsSessions).where(eq(stsSessions.accessKeyId, key)).limit(1))[0]).toBeDefined();
    await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await api.cloud.instances.row(id))?.state === 'terminated');
    expect(await associations([{ Name: 'instance-id', Values: [id] }])).toEqual([]);
    expect((await describeOne(id)).IamInstanceProfile).toBeUndefined();
    expect((await api.cloud.db.select().from(stsSessions).where(eq(stsSessions.accessKeyId, key)).limit(1))[0]).toBeUndefined();
    expect((await errorOf(api.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: id, IamInstanceProfile: { Name: 'web' } })))).code).toBe('IncorrectInstanceState');
  });
});

describe('the metadata service: iam/', () => {
  it('iam/info and iam/security-credentials/ROLE in EC2\'s JSON; the credentials sign as the assumed role', async () => {
    const id = await run({ Name: 'web' });
    const ask = imdsFor(api.cloud, await api.cloud.instances.get(ACCOUNT, id));
    expect((await ask('GET', '/latest/meta-data/')).text.split('\n')).toContain('iam/');
    expect((await ask('GET', '/latest/meta-data/iam/')).text).toBe('info\nsecurity-credentials/');
    const info = await ask('GET', '/latest/meta-data/iam/info');
    expect(info.status).toBe(200);
    expect(info.text).toMatch(/^\{\n {2}"Code" : "Success",\n {2}"LastUpdated" : "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",\n/);
    expect(JSON.parse(info.text)).toMatchObject({ Code: 'Success', InstanceProfileArn: web.arn, InstanceProfileId: web.profileId });
    expect(Object.keys(JSON.parse(info.text) as object)).toEqual(['Code', 'LastUpdated', 'InstanceProfileArn', 'InstanceProfileId']);
    expect((await ask('GET', '/latest/meta-data/iam/security-credentials/')).text).toBe('web-role');
    const res = await ask('GET', '/latest/meta-data/iam/security-credentials/web-role');
    expect(res.status).toBe(200);
    const c = JSON.parse(res.text) as Record<string, string>;
    expect(Object.keys(c)).toEqual(['Code', 'LastUpdated', 'Type', 'AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration']);
    expect(c).toMatchObject({ Code: 'Success', Type: 'AWS-HMAC' });
    expect(c.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(c.Expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const left = Date.parse(c.Expiration!) - Date.now();
    expect(left).toBeGreaterThan(5 * 3600_000);
    expect(left).toBeLessThanOrEqual(6 * 3600_000);
    // Read again: the same credentials (they last long enough).
    expect((JSON.parse((await ask('GET', '/latest/meta-data/iam/security-credentials/web-role')).text) as { AccessKeyId: string }).AccessKeyId).toBe(c.AccessKeyId);

    const key = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.Token! };
    const who = await api.send({ service: 'sts', body: 'Action=GetCallerIdentity&Version=2011-06-15', key, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(who.status).toBe(200);
    expect(who.text).toContain(`<Arn>arn:aws:sts::${ACCOUNT}:assumed-role/web-role/${id}</Arn>`);
    // Without the token the key is no key.
    const bare = await api.send({ service: 'sts', body: 'Action=GetCallerIdentity&Version=2011-06-15', key: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(bare.status).not.toBe(200);
    expect(bare.text).not.toContain('assumed-role');
  });

  it('an instance without a profile: 404 for iam/, and iam/ is not listed', async () => {
    const ask = imdsFor(api.cloud, await api.cloud.instances.get(ACCOUNT, await run()));
    expect((await ask('GET', '/latest/meta-data/')).text.split('\n')).not.toContain('iam/');
    for (const path of ['/latest/meta-data/iam/', '/latest/meta-data/iam/info', '/latest/meta-data/iam/security-credentials/', '/latest/meta-data/iam/security-credentials/web-role']) {
      expect((await ask('GET', path)).status, path).toBe(404);
    }
  });

  it('another role name, a removed role, a changed role', async () => {
    await putRole(api.cloud.db, { accountId: ACCOUNT, name: 'swap-a' });
    await putRole(api.cloud.db, { accountId: ACCOUNT, name: 'swap-b' });
    await putProfile(api.cloud.db, { accountId: ACCOUNT, name: 'swap', roleName: 'swap-a' });
    const id = await run({ Name: 'swap' });
    const ask = imdsFor(api.cloud, await api.cloud.instances.get(ACCOUNT, id));
    expect((await ask('GET', '/latest/meta-data/iam/security-credentials/web-role')).status).toBe(404);
    const a = JSON.parse((await ask('GET', '/latest/meta-data/iam/security-credentials/swap-a')).text) as { AccessKeyId: string };
    await setProfileRole(api.cloud.db, ACCOUNT, 'swap', null);
    expect((await ask('GET', '/latest/meta-data/iam/info')).status).toBe(200);
    expect((await ask('GET', '/latest/meta-data/iam/security-credentials/')).text).toBe('');
    expect((await ask('GET', '/latest/meta-data/iam/security-credentials/swap-a')).status).toBe(404);
    await setProfileRole(api.cloud.db, ACCOUNT, 'swap', 'swap-b');
    const b = JSON.parse((await ask('GET', '/latest/meta-data/iam/security-credentials/swap-b')).text) as { AccessKeyId: string };
    expect(b.AccessKeyId).not.toBe(a.AccessKeyId);
    // The old role's session ended when the new one was handed out.
    expect((await api.cloud.db.select().from(stsSessions).where(eq(stsSessions.accessKeyId, a.AccessKeyId)).limit(1))[0]).toBeUndefined();
  });

  it('a profile deleted (and made again by the same name) is no longer the instance\'s', async () => {
    await putProfile(api.cloud.db, { accountId: ACCOUNT, name: 'short-lived', roleName: 'web-role' });
    const id = await run({ Name: 'short-lived' });
    const ask = imdsFor(api.cloud, await api.cloud.instances.get(ACCOUNT, id));
    expect((await ask('GET', '/latest/meta-data/iam/info')).status).toBe(200);
    await dropProfile(api.cloud.db, ACCOUNT, 'short-lived');
    expect((await ask('GET', '/latest/meta-data/iam/info')).status).toBe(404);
    await putProfile(api.cloud.db, { accountId: ACCOUNT, name: 'short-lived', roleName: 'web-role', createdAt: Date.now() + 1000 });
    expect((await ask('GET', '/latest/meta-data/iam/security-credentials/web-role')).status).toBe(404);
    expect((await describeOne(id)).IamInstanceProfile).toBeUndefined();
    // The instance may be given a profile again (the new profile was made "a second later": so is this association).
    const profile = await api.cloud.iamAssociations.resolve(ACCOUNT, { name: 'short-lived' });
    expect((await api.cloud.iamAssociations.associate(ACCOUNT, id, profile, Date.now() + 2000)).state).toBe('associating');
    expect((await ask('GET', '/latest/meta-data/iam/security-credentials/web-role')).status).toBe(200);
  });

  it('HttpTokens=required: the credentials only with an IMDSv2 token', async () => {
    const res = await api.ec2.send(new RunInstancesCommand({
      ImageId: api.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, IamInstanceProfile: { Name: 'web' }, MetadataOptions: { HttpTokens: 'required' },
    }));
    const ask = imdsFor(api.cloud, await api.cloud.instances.get(ACCOUNT, res.Instances![0]!.InstanceId!));
    expect((await ask('GET', '/latest/meta-data/iam/security-credentials/web-role')).status).toBe(401);
    const token = (await ask('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' })).text;
    const ok = await ask('GET', '/latest/meta-data/iam/security-credentials/web-role', { 'x-aws-ec2-metadata-token': token });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({ Code: 'Success', Type: 'AWS-HMAC' });
  });

  it('says the cloud\'s region (placement/region, the identity document)', async () => {
    const ask = imdsFor(api.cloud, await api.cloud.instances.get(ACCOUNT, await run()));
    expect((await ask('GET', '/latest/meta-data/placement/region')).text).toBe(api.cloud.config.region);
    expect(JSON.parse((await ask('GET', '/latest/dynamic/instance-identity/document')).text)).toMatchObject({ region: api.cloud.config.region });
  });
});
