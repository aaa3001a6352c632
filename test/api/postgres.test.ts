/**
 * The control plane on PostgreSQL (issue 17): `pcloud serve --database postgres://…`'s domain, two servers (each its
 * own data dir and fake host) on one throwaway Debian PostgreSQL, driven by the AWS SDK. What SQLite did by its one
 * connection and its file lock, PostgreSQL does by the write lock every transaction takes (store.ts, pgEngine): launches,
 * filters (EC2's wildcards as LIKE), paging, ClientToken and counters across servers, IAM's memory dropped on the other
 * server when one changes IAM (the generation row), and Lambda's records.
 */
import {
  AllocateAddressCommand, AssociateAddressCommand, AssociateIamInstanceProfileCommand, CreateLaunchTemplateCommand, CreateLaunchTemplateVersionCommand, CreateSecurityGroupCommand, CreateSubnetCommand, CreateTagsCommand,
  CreateVpcCommand, DescribeInstancesCommand, DescribeLaunchTemplateVersionsCommand, DescribeTagsCommand, DescribeVpcsCommand,
  RunInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { IamChanges } from '../../src/cloud/iam/generation.js';
import { write } from '../../src/db/store.js';
import { dialect, tags as tagsTable } from '../../src/db/tables.js';
import type { Db } from '../../src/db/index.js';
import { slotsOf } from '../../src/db/slots.js';
import { wakeupsOf, type WakeTopic, type Wakeups } from '../../src/db/wakeups.js';
import { until, type TestApi } from '../support/api.js';
import { checkRevocationAcross } from '../support/iam.js';
import { postgresMissing } from '../support/postgres.js';
import { serversOnPostgres } from '../support/pg-servers.js';
import { putProfile } from '../support/profile-rows.js';
import { putRole } from '../support/iam-rows.js';
import { lambdaRole } from '../support/roles.js';
import { errorCode } from '../support/thrown.js';

/** A zip of index.py whose handler returns its event. */
const ZIP = 'UEsDBBQAAAAAAFqGgV2XmWIwIAAAACAAAAAIAAAAaW5kZXgucHlkZWYgaGFuZGxlcihlLCBjKToKICAgIHJldHVybiBlClBLAQIUAxQAAAAAAFqGgV2XmWIwIAAAACAAAAAIAAAAAAAAAAAAAACAAQAAAABpbmRleC5weVBLBQYAAAAAAQABADYAAABGAAAAAAA=';
const missing = postgresMissing();
// An external network for Elastic IPs (the fake host makes nothing of it), the same on both servers.
const external = { parent: 'ptfake', cidr: '198.51.100.0/24', pool: ['198.51.100.10', '198.51.100.30'] as [string, string] };
const servers = serversOnPostgres(missing, { a: { config: { external } }, b: () => ({ config: { external } }) });
let a: TestApi;
let b: TestApi;
beforeAll(() => { ({ a, b } = servers); });

const ids = (r: { Reservations?: { Instances?: { InstanceId?: string }[] }[] }) => (r.Reservations ?? []).flatMap((x) => x.Instances ?? []).map((i) => i.InstanceId!);

describe.skipIf(missing)(`two servers on one PostgreSQL database${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('runs on PostgreSQL: launches, filters with wildcards, tags, paging begun on one server and ended on the other', async () => {
    expect(dialect).toBe('pg');
    const r = await a.ec2.send(new RunInstancesCommand({ ImageId: a.imageId, InstanceType: 't3.micro', MinCount: 6, MaxCount: 6 }));
    const made = r.Instances!.map((i) => i.InstanceId!);
    await until(async () => (await Promise.all(made.map(async (id) => (await a.cloud.instances.row(id))?.state === 'running'))).every(Boolean));
    await a.ec2.send(new CreateTagsCommand({ Resources: made.slice(0, 2), Tags: [{ Key: 'Name', Value: 'web_1%' }] }));
    await a.ec2.send(new CreateTagsCommand({ Resources: made.slice(2, 3), Tags: [{ Key: 'Name', Value: 'webx1' }] }));
    const named = async (api: TestApi, v: string) => ids(await api.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [v] }] }))).sort();
    // `*` and `?` are EC2's wildcards; LIKE's own `%` and `_` in a value or pattern are themselves.
    expect(await named(b, 'web*')).toEqual(made.slice(0, 3).sort());
    expect(await named(b, 'web_1%')).toEqual(made.slice(0, 2).sort());
    expect(await named(b, 'web?1*')).toEqual(made.slice(0, 3).sort());
    expect(await named(b, 'web%')).toEqual([]);
    const running = ids(await b.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }, { Name: 'instance-state-code', Values: ['16'] }] })));
    expect(running.filter((id) => made.includes(id)).sort()).toEqual([...made].sort());
    expect(ids(await b.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-code', Values: ['99'] }] })))).toEqual([]);
    // A filter on a JSON array's first member (the instance's first security group).
    const group = (await a.cloud.instances.row(made[0]!))!.securityGroupIds[0]!;
    expect(ids(await b.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance.group-id', Values: [group] }] }))).filter((id) => made.includes(id)).sort()).toEqual([...made].sort());
    const dns = (await a.cloud.instances.row(made[0]!))!.privateIp.replace(/\./g, '-');
    expect(ids(await b.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'private-dns-name', Values: [`ip-${dns}.*`] }] })))).toEqual([made[0]]);

    const seen: string[] = [];
    let token: string | undefined;
    let turn = 0;
    do {
      const page = await [a, b][turn++ % 2]!.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: token }));
      seen.push(...ids(page));
      token = page.NextToken;
    } while (token);
    expect(turn).toBeGreaterThan(1);
    expect(seen.filter((id) => made.includes(id)).sort()).toEqual([...made].sort());
    const tags = await b.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'value', Values: ['web*'] }] }));
    expect(tags.Tags!.map((t) => t.ResourceId).sort()).toEqual(made.slice(0, 3).sort());

    const gone = await b.ec2.send(new TerminateInstancesCommand({ InstanceIds: made.slice(0, 1) }));
    expect(gone.TerminatingInstances![0]!.CurrentState!.Name).toBe('shutting-down');
  });

  it('DescribeInstances reads its page\'s tags, Elastic IPs and profiles with the rows: each instance shows its own, tags in key order', async () => {
    const r = await a.ec2.send(new RunInstancesCommand({ ImageId: a.imageId, InstanceType: 't3.micro', MinCount: 3, MaxCount: 3 }));
    const [tagged, withIp, profiled] = r.Instances!.map((i) => i.InstanceId!) as [string, string, string];
    const account = r.OwnerId!;
    await putRole(a.cloud.db, { accountId: account, name: 'pg-facts-role' });
    const profile = await putProfile(a.cloud.db, { accountId: account, name: 'pg-facts', roleName: 'pg-facts-role' });
    // A value JSON, SQL and XML would read otherwise: quotes, a backslash, a bracket, markup, non-ASCII.
    const hostile = 'a"b\\c\'d é🙂]<&>';
    await b.ec2.send(new CreateTagsCommand({ Resources: [tagged], Tags: [{ Key: 'zeta', Value: hostile }, { Key: 'Name', Value: 'first' }, { Key: 'alpha', Value: '' }] }));
    const eip = await a.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await a.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: withIp }));
    await b.ec2.send(new AssociateIamInstanceProfileCommand({ InstanceId: profiled, IamInstanceProfile: { Name: 'pg-facts' } }));
    const page = (await b.ec2.send(new DescribeInstancesCommand({ InstanceIds: [tagged, withIp, profiled] }))).Reservations!.flatMap((x) => x.Instances!);
    const byId = new Map(page.map((i) => [i.InstanceId!, i]));
    expect(byId.get(tagged)!.Tags).toEqual([{ Key: 'Name', Value: 'first' }, { Key: 'alpha', Value: '' }, { Key: 'zeta', Value: hostile }]);
    expect([byId.get(withIp)!.Tags, byId.get(profiled)!.Tags]).toEqual([[], []]);
    expect(byId.get(withIp)!.NetworkInterfaces![0]!.Association?.PublicIp).toBe(eip.PublicIp);
    expect([byId.get(tagged)!.NetworkInterfaces![0]!.Association, byId.get(profiled)!.NetworkInterfaces![0]!.Association]).toEqual([undefined, undefined]);
    expect(byId.get(profiled)!.IamInstanceProfile).toEqual({ Arn: profile.arn, Id: profile.profileId });
    expect([byId.get(tagged)!.IamInstanceProfile, byId.get(withIp)!.IamInstanceProfile]).toEqual([undefined, undefined]);
    // Past the first page the same facts are read apart from the rows (this account's earlier instances fill page one).
    const later: typeof page = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const p = await a.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: token }));
      if (pages++) later.push(...p.Reservations!.flatMap((x) => x.Instances!));
      token = p.NextToken;
    } while (token);
    const deep = new Map(later.filter((i) => byId.has(i.InstanceId!)).map((i) => [i.InstanceId!, i]));
    expect(deep.size).toBe(3);
    for (const [id, i] of deep) {
      expect([i.Tags, i.NetworkInterfaces![0]!.Association?.PublicIp, i.IamInstanceProfile])
        .toEqual([byId.get(id)!.Tags, byId.get(id)!.NetworkInterfaces![0]!.Association?.PublicIp, byId.get(id)!.IamInstanceProfile]);
    }
    // One by its id (a prepared statement of its own), through each server: the same.
    for (const api of [a, b]) {
      for (const id of [tagged, withIp, profiled]) {
        const one = (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
        expect([one.Tags, one.NetworkInterfaces![0]!.Association?.PublicIp, one.IamInstanceProfile])
          .toEqual([byId.get(id)!.Tags, byId.get(id)!.NetworkInterfaces![0]!.Association?.PublicIp, byId.get(id)!.IamInstanceProfile]);
      }
    }
    expect(await errorCode(b.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })))).toBe('InvalidInstanceID.NotFound');
    // Inside a write(), that read runs on the transaction's connection: it sees the transaction's own rows, others do not.
    const keys = async (api: TestApi) => (await api.cloud.instances.describe(account, { ids: [tagged], filters: [] }, { facts: true })).facts!.tags.get(tagged)!.map((t) => t.key);
    const rolledBack = new Error('rolled back');
    await expect(write(a.cloud.db, async (tx) => {
      await tx.insert(tagsTable).values({ accountId: account, resourceId: tagged, resourceType: 'instance', key: 'inside', value: 'tx' });
      expect(await keys(a)).toContain('inside');
      expect(await keys(b)).not.toContain('inside');
      throw rolledBack;
    })).rejects.toBe(rolledBack);
    expect(await keys(a)).toEqual(['Name', 'alpha', 'zeta']);
    await a.ec2.send(new TerminateInstancesCommand({ InstanceIds: [tagged, withIp, profiled] }));
  });

  it('ClientToken across servers; counters taken by both at once never give one number twice', async () => {
    const params = { ImageId: a.imageId, InstanceType: 't3.micro' as const, MinCount: 1, MaxCount: 1, ClientToken: 'pg-token-1' };
    const first = await a.ec2.send(new RunInstancesCommand(params));
    expect((await b.ec2.send(new RunInstancesCommand(params))).ReservationId).toBe(first.ReservationId);
    expect(await errorCode(b.ec2.send(new RunInstancesCommand({ ...params, InstanceType: 't3.small' })))).toBe('IdempotentParameterMismatch');

    const t = await a.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'pg-both', LaunchTemplateData: { InstanceType: 't3.micro' } }));
    const id = t.LaunchTemplate!.LaunchTemplateId!;
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => [a, b][i % 2]!.ec2.send(
      new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, LaunchTemplateData: { InstanceType: 't3.small' } }))));
    expect(made.map((m) => m.LaunchTemplateVersion!.VersionNumber!).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));
    const versions = (await b.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id }))).LaunchTemplateVersions!;
    expect(versions).toHaveLength(13);
  });

  it('VPCs, subnets and security groups made on one server are the other\'s; a name taken twice at once is refused once', async () => {
    const vpc = (await a.ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }))).Vpc!.VpcId!;
    expect((await b.ec2.send(new DescribeVpcsCommand({ VpcIds: [vpc] }))).Vpcs![0]!.CidrBlock).toBe('10.40.0.0/16');
    await b.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.40.1.0/24' }));
    expect(await errorCode(a.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.40.1.0/25' })))).toBe('InvalidSubnet.Conflict');
    const both = await Promise.allSettled([a, b].map((api) => api.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'pg-once', Description: 'd', VpcId: vpc }))));
    expect(both.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('a policy detached or a key deleted through one server stops working on the other at once', async () => {
    await until(() => a.cloud.wakeups.hearing() && b.cloud.wakeups.hearing());
    await checkRevocationAcross(a, b, 'revoked');
  });

  it('IAM changes: told to the servers that hear, read from the generation row by those that do not', async () => {
    let hearing = false;
    const told: [string, string][] = [];
    const wakeups: Wakeups = {
      tell: () => undefined, tellNow: async (topic, id) => { told.push([topic, id]); }, hearing: () => hearing,
      listen: async () => undefined, close: async () => undefined,
    };
    const [mine, other] = [new IamChanges(a.cloud.db, wakeups), new IamChanges(a.cloud.db, wakeups)];
    await mine.changedElsewhere();
    expect(await mine.changedElsewhere()).toBe(false);
    // Not hearing: another server's change is read at the next look, once.
    await other.moved('123456789012');
    expect(told).toEqual([['iam', '123456789012']]);
    expect(await mine.changedElsewhere()).toBe(true);
    expect(await mine.changedElsewhere()).toBe(false);
    // Hearing from now on: what came before is dropped once; after, changes come as notices (nothing is read).
    hearing = true;
    expect(await mine.changedElsewhere()).toBe(true);
    await other.moved('123456789012');
    expect(await mine.changedElsewhere()).toBe(false);
    // Its notices lost: it reads again, and finds the change it was not told.
    hearing = false;
    expect(await mine.changedElsewhere()).toBe(true);
    expect(await mine.changedElsewhere()).toBe(false);
  });

  it('a listener whose connection stalls without a word stops hearing at once, listens again on another and catches up', async () => {
    // Pools of their own: the listener's one connection is found by its application name (the servers' are not).
    const pools = ['pcloud-stalls', 'pcloud-tells'].map((name) => new pg.Pool({ connectionString: servers.pg.url, application_name: name }));
    const [listener, teller] = pools.map((pool) => wakeupsOf({ $client: pool } as unknown as Db, { everyMs: 250, answerMs: 2000, heardMs: 1500 }));
    const heard: [WakeTopic, string][] = [];
    let caughtUp = 0;
    let stalled: number | undefined;
    let stalledToo: number | undefined;
    try {
      await listener!.listen((topic, id) => heard.push([topic, id]), () => { caughtUp++; });
      // Its own notices keep coming back: it hears past the time a proof is good for.
      await new Promise((r) => setTimeout(r, 3000));
      expect([listener!.hearing(), caughtUp]).toEqual([true, 0]);
      const backends = async () => (await pools[1]!.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', ['pcloud-stalls'])).rows.map((x) => x.pid);
      const [first] = await backends();
      // Its backend stops answering (the connection stays open: no error, no end).
      stalled = first!;
      process.kill(stalled, 'SIGSTOP');
      await until(async () => !listener!.hearing(), 5000, 20);
      await until(async () => listener!.hearing() && caughtUp === 1, 10_000, 50);
      // On a connection of its own again (the stalled one is left to end when its backend does).
      expect((await backends()).filter((pid) => pid !== stalled)).toHaveLength(1);
      await teller!.tellNow('host', 'h-00000000000000aa');
      await until(async () => heard.some(([t, id]) => t === 'host' && id === 'h-00000000000000aa'), 5000, 20);
      // Closed while its connection stalls too: it does not wait on it.
      stalledToo = (await backends()).find((pid) => pid !== stalled);
      process.kill(stalledToo!, 'SIGSTOP');
      await listener!.close();
      expect(listener!.hearing()).toBe(false);
    } finally {
      if (stalled) process.kill(stalled, 'SIGCONT');
      if (stalledToo) process.kill(stalledToo, 'SIGCONT');
      await Promise.all([listener!.close(), teller!.close()]);
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('concurrency slots are shared by the servers: at most the limit held at once; a server\'s lost connection lets go of its own', async () => {
    const pools = ['pcloud-slots-a', 'pcloud-slots-b'].map((name) => new pg.Pool({ connectionString: servers.pg.url, application_name: name }));
    const [one, two] = pools.map((pool) => slotsOf({ $client: pool } as unknown as Db));
    try {
      const key = '123456789012/fn-\u00e9\'"; DROP TABLE x; --';
      const first = await one!.take(key, 2);
      const second = await two!.take(key, 2);
      expect([first, second].every(Boolean)).toBe(true);
      expect(await two!.take(key, 2)).toBeUndefined();
      expect(await one!.take(key, 2)).toBeUndefined();
      // Other keys, and a limit of 0, are their own.
      const other = await two!.take('123456789012/other', 1);
      expect(other).toBeDefined();
      expect(await one!.take('123456789012/zero', 0)).toBeUndefined();
      // Let go (once, however often called): once that resolves, the other server takes it.
      await Promise.all([second!(), second!()]);
      const again = await one!.take(key, 2);
      expect(again).toBeDefined();
      expect(await two!.take(key, 2)).toBeUndefined();
      // The server holding two of them loses its connection (it died): both are free for the other.
      const [pid] = (await pools[1]!.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', ['pcloud-slots-a'])).rows.map((x) => x.pid);
      await pools[1]!.query('SELECT pg_terminate_backend($1)', [pid]);
      const taken = await until(async () => await two!.take(key, 2), 5000, 20);
      expect([taken, await two!.take(key, 2), await two!.take(key, 2)].map(Boolean)).toEqual([true, true, false]);
      // What it held before lets go of nothing now; it takes again on a connection of its own.
      await first!();
      await again!();
      expect(await one!.take('123456789012/other', 1)).toBeUndefined();
      await other!();
      expect(await one!.take('123456789012/other', 1)).toBeDefined();
    } finally {
      await Promise.all([one!.close(), two!.close()]);
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('a slot\'s release resolves even while the database does not answer its unlock; the unlock goes through once it does', async () => {
    const pools = ['pcloud-slots-stall', 'pcloud-slots-other'].map((name) => new pg.Pool({ connectionString: servers.pg.url, application_name: name }));
    const [one, two] = pools.map((pool) => slotsOf({ $client: pool } as unknown as Db));
    let stalled: number | undefined;
    try {
      const key = '123456789012/stalled';
      const release = await one!.take(key, 1);
      expect(release).toBeDefined();
      stalled = (await pools[1]!.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', ['pcloud-slots-stall'])).rows[0]!.pid;
      process.kill(stalled, 'SIGSTOP');
      // Its backend stopped: the unlock waits there, and the release resolves all the same.
      await release!();
      expect(await two!.take(key, 1)).toBeUndefined();
      process.kill(stalled, 'SIGCONT');
      stalled = undefined;
      expect(await until(async () => await two!.take(key, 1), 5000, 20)).toBeDefined();
    } finally {
      if (stalled) process.kill(stalled, 'SIGCONT');
      await Promise.all([one!.close(), two!.close()]);
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('Lambda functions made through one server are listed, read and deleted through the other', async () => {
    const role = await lambdaRole(a.endpoint, a.key);
    const client = (api: TestApi) => new LambdaClient({ endpoint: api.endpoint, region: 'us-east-1', credentials: api.key });
    await client(a).send(new CreateFunctionCommand({
      FunctionName: 'pg-fn', Runtime: 'python3.12', Handler: 'index.handler', Role: role, Code: { ZipFile: Buffer.from(ZIP, 'base64') },
    }));
    expect((await client(b).send(new ListFunctionsCommand({}))).Functions!.map((f) => f.FunctionName)).toContain('pg-fn');
    expect((await client(b).send(new GetFunctionCommand({ FunctionName: 'pg-fn' }))).Configuration!.Handler).toBe('index.handler');
    await client(b).send(new DeleteFunctionCommand({ FunctionName: 'pg-fn' }));
    expect(await errorCode(client(a).send(new GetFunctionCommand({ FunctionName: 'pg-fn' })))).toBe('ResourceNotFoundException');
  });
});
