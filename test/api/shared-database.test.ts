/**
 * Several `pcloud serve` on one database (issue 17): the API keeps nothing between requests that another server lacks.
 * Two servers here, each with its own data dir and fake host, sharing one SQLite file (two connections, WAL): what one
 * hands out (a NextToken, an IMDSv2 token, a console token, an identity document's signature) works on the other, and
 * a request made again with its ClientToken on the other is answered the same and launches nothing twice.
 *
 * Two real servers on one data dir would both reconcile the same units (and `pcloud serve` refuses a second one on its
 * data dir): the fake hosts stand in for the two machines.
 */
import { createServer, type Server } from 'node:net';
import { createVerify } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { eq } from 'drizzle-orm';
import aws4 from 'aws4';
import { WebSocket } from 'ws';
import {
  CreateLaunchTemplateCommand, CreateTagsCommand, DescribeInstancesCommand, DescribeTagsCommand, RunInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { instances } from '../../src/db/schema.js';
import { SigningKeys } from '../../src/cloud/signing-keys.js';
import { SignedTokens } from '../../src/cloud/tokens.js';
import { startApi, startSharedApi, until, type TestApi } from '../support/api.js';
import { checkRevocationAcross, iamCall, members } from '../support/iam.js';
import { imdsFor } from '../support/imds.js';
import { errorCode } from '../support/thrown.js';

/** Per database, what runs once just before its next write() begins (whenNextTransaction). */
const beforeWrite = vi.hoisted(() => new Map<unknown, () => Promise<unknown>>());
vi.mock('../../src/db/store.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/db/store.js')>();
  const write: typeof real.write = async (db, fn) => {
    const between = beforeWrite.get(db);
    if (between) {
      beforeWrite.delete(db);
      await between();
    }
    return await real.write(db, fn);
  };
  return { ...real, write };
});

let a: TestApi;
let b: TestApi;
/** A server on a database of its own: its keys are not the shared database's. */
let elsewhere: TestApi;

beforeAll(async () => {
  a = await startApi();
  b = await startSharedApi(a);
  elsewhere = await startApi();
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await elsewhere?.close();
});

const launchesOf = (api: TestApi) => api.units.started.filter((u) => u.name.startsWith('pcloud-instance@')).map((u) => u.name.slice('pcloud-instance@'.length));

/** Instances launched on A (its host runs them), running. */
async function launchOnA(count: number, extra: Partial<RunInstancesCommandInput> = {}): Promise<{ reservationId: string; ids: string[] }> {
  const r = await a.ec2.send(new RunInstancesCommand({ ImageId: a.imageId, InstanceType: 't3.micro', MinCount: count, MaxCount: count, ...extra }));
  const ids = r.Instances!.map((i) => i.InstanceId!);
  await until(async () => (await Promise.all(ids.map(async (id) => (await a.cloud.instances.row(id))?.state === 'running'))).every(Boolean));
  return { reservationId: r.ReservationId!, ids };
}

describe('two servers on one database', () => {
  it('RunInstances again with its ClientToken, on the other server: the same reservation, nothing launched twice', async () => {
    const params = { ImageId: a.imageId, InstanceType: 't3.micro' as const, MinCount: 2, MaxCount: 2, ClientToken: 'shared-token-1' };
    const first = await launchOnA(2, { ClientToken: params.ClientToken });
    const again = await b.ec2.send(new RunInstancesCommand(params));
    expect(again.ReservationId).toBe(first.reservationId);
    expect(again.Instances!.map((i) => i.InstanceId)).toEqual(first.ids);
    expect(await errorCode(b.ec2.send(new RunInstancesCommand({ ...params, InstanceType: 't3.small' })))).toBe('IdempotentParameterMismatch');
    // Once each, by the server that took the request; the other launched nothing.
    expect(launchesOf(a).filter((id) => first.ids.includes(id)).sort()).toEqual([...first.ids].sort());
    expect(launchesOf(b)).toEqual([]);
    // And back on A: still the one reservation.
    expect((await a.ec2.send(new RunInstancesCommand(params))).ReservationId).toBe(first.reservationId);
    expect(launchesOf(a).filter((id) => first.ids.includes(id))).toHaveLength(2);
  });

  it('CreateLaunchTemplate again with its ClientToken, on the other server: the same template', async () => {
    const input = { LaunchTemplateName: 'shared-lt', ClientToken: 'lt-token-1', LaunchTemplateData: { InstanceType: 't3.micro' as const } };
    const one = await a.ec2.send(new CreateLaunchTemplateCommand(input));
    const two = await b.ec2.send(new CreateLaunchTemplateCommand(input));
    expect(two.LaunchTemplate?.LaunchTemplateId).toBe(one.LaunchTemplate?.LaunchTemplateId);
  });

  it("pages begun on one server go on on the other (DescribeInstances, DescribeTags); a forged token is refused on both", async () => {
    const { ids } = await launchOnA(6);
    await a.ec2.send(new CreateTagsCommand({ Resources: ids, Tags: [{ Key: 'paged', Value: 'yes' }] }));
    const all = (await a.ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId!);
    expect(all.length).toBeGreaterThan(5);

    const servers = [a, b];
    const seen: string[] = [];
    let token: string | undefined;
    let turn = 0;
    do {
      const page = await servers[turn++ % 2]!.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: token }));
      seen.push(...page.Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId!));
      token = page.NextToken;
    } while (token);
    expect(turn).toBeGreaterThan(1);
    expect(seen).toEqual(all);

    const firstTags = await a.ec2.send(new DescribeTagsCommand({ MaxResults: 5, Filters: [{ Name: 'key', Values: ['paged'] }] }));
    expect(firstTags.NextToken).toBeDefined();
    const restTags = await b.ec2.send(new DescribeTagsCommand({ MaxResults: 5, NextToken: firstTags.NextToken, Filters: [{ Name: 'key', Values: ['paged'] }] }));
    expect([...firstTags.Tags!, ...restTags.Tags!].map((t) => t.ResourceId).sort()).toEqual([...ids].sort());

    for (const api of servers) {
      expect(await errorCode(api.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: 'forged!' })))).toBe('InvalidPaginationToken');
    }
  });

  it('IAM list markers from one server page on the other, and a key made on one signs requests to the other at once', async () => {
    for (const name of ['pager-a', 'pager-b', 'pager-c']) expect((await iamCall(a, 'CreateUser', { UserName: name, Path: '/shared/' })).status).toBe(200);
    const names: string[] = [];
    let marker: string | undefined;
    let turn = 0;
    do {
      const r = await iamCall([a, b][turn++ % 2]!, 'ListUsers', { PathPrefix: '/shared/', MaxItems: '2', ...(marker ? { Marker: marker } : {}) });
      names.push(...members<{ UserName: string }>(r.result.Users).map((u) => u.UserName));
      marker = r.result.IsTruncated === 'true' ? r.result.Marker as string : undefined;
    } while (marker);
    expect(turn).toBe(2);
    expect(names).toEqual(['pager-a', 'pager-b', 'pager-c']);

    await iamCall(a, 'AttachUserPolicy', { UserName: 'pager-a', PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess' });
    const made = (await iamCall(a, 'CreateAccessKey', { UserName: 'pager-a' })).result.AccessKey as { AccessKeyId: string; SecretAccessKey: string };
    const res = await b.send({ body: 'Action=DescribeRegions&Version=2016-11-15', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, key: { accessKeyId: made.AccessKeyId, secretAccessKey: made.SecretAccessKey } });
    expect(res.status).toBe(200);
  });

  // Each server keeps parsed policies and keys in memory: another connection's commit (SQLite's data_version) drops them.
  it('a policy detached through one server no longer allows on the other', async () => {
    await checkRevocationAcross(a, b, 'revoked');
  });

  it("an IMDSv2 token one server's metadata service issued is good on the other's, for that instance only", async () => {
    const { ids: [one, two] } = await launchOnA(2);
    const inst = (await a.cloud.instances.row(one!))!;
    const other = (await a.cloud.instances.row(two!))!;
    const token = (await imdsFor(a.cloud, inst)('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' })).text;
    expect(await imdsFor(b.cloud, inst)('GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': token })).toEqual({ status: 200, text: one });
    // Another instance's, a forged one, and one of a server on another database: refused.
    expect((await imdsFor(b.cloud, other)('GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': token })).status).toBe(401);
    expect((await imdsFor(b.cloud, inst)('GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': `${token.split('.')[0]}.forged` })).status).toBe(401);
    const foreign = await elsewhere.cloud.metadata.issueToken(inst, 60);
    expect((await imdsFor(b.cloud, inst)('GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': foreign })).status).toBe(401);
    expect((await imdsFor(a.cloud, inst)('GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': foreign })).status).toBe(401);
  });

  it("the instance identity is signed with one key: a document from one server verifies with the other's certificate", async () => {
    const { ids: [id] } = await launchOnA(1);
    const inst = (await a.cloud.instances.row(id!))!;
    const ask = imdsFor(b.cloud, inst);
    const document = (await ask('GET', '/latest/dynamic/instance-identity/document')).text;
    const signature = (await ask('GET', '/latest/dynamic/instance-identity/signature')).text;
    expect(JSON.parse(document)).toMatchObject({ instanceId: id });
    const cert = await a.cloud.metadata.identityCertificate();
    expect(await b.cloud.metadata.identityCertificate()).toBe(cert);
    expect(createVerify('RSA-SHA256').update(document).verify(cert, signature, 'base64')).toBe(true);
    expect(createVerify('RSA-SHA256').update(document).verify(await elsewhere.cloud.metadata.identityCertificate(), signature, 'base64')).toBe(false);
  });

  describe('consoles', () => {
    let vnc: Server | undefined;
    afterAll(() => { vnc?.close(); });

    /** The console page's websocket URL, as the page served by `api` (a presigned GET) gives it. */
    async function pageSocket(api: TestApi, id: string): Promise<string> {
      const host = new URL(api.endpoint).host;
      const signed = aws4.sign({ host, method: 'GET', path: `/pcloud/console/${id}?X-Amz-Expires=300`, service: 'ec2', region: 'us-east-1', signQuery: true }, api.key);
      const res = await fetch(api.endpoint + signed.path!);
      expect(res.status).toBe(200);
      const path = /(\/pcloud\/console\/i-[0-9a-f]+\/websocket\?token=[^"'&<\s]+)/.exec(await res.text())?.[1];
      if (!path) throw new Error('the console page names no websocket');
      return path;
    }

    /** What the websocket at `path` on `api` answers: open, or the HTTP status it was refused with. */
    function openSocket(api: TestApi, path: string): Promise<'open' | number> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(api.endpoint.replace('http', 'ws') + path, ['binary']);
        ws.once('open', () => { ws.close(); resolve('open'); });
        ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
        ws.once('error', reject);
      });
    }

    it("a console page's websocket token from one server opens the console on the other; a forged or foreign one does not", async () => {
      const { ids: [id] } = await launchOnA(1);
      // A q35 VM (the fake host runs none: the domain decides by the stored runtime), its display answering on B's side.
      await a.cloud.db.update(instances).set({ runtime: 'q35' }).where(eq(instances.id, id!));
      const display = b.cloud.vms.vncPath(id!);
      await mkdir(dirname(display), { recursive: true });
      vnc = createServer((s) => s.end());
      await new Promise<void>((r) => vnc!.listen(display, r));

      const path = await pageSocket(a, id!);
      expect(await openSocket(b, path)).toBe('open');
      const token = new URL(path, 'http://x').searchParams.get('token')!;
      expect(await b.cloud.consoles.check(token, id!)).toBe('111111111111');
      // The token is for that instance only; a forged signature or another database's key is refused.
      expect(await openSocket(b, path.replace(`/${id}/`, '/i-0123456789abcdef0/'))).toBe(401);
      expect(await openSocket(b, path.replace(/token=([^.]+)\.[^&]+/, 'token=$1.forged'))).toBe(401);
      const foreign = await new SignedTokens(new SigningKeys(elsewhere.cloud.db), 'console-token').issue(`111111111111/${id}`, 60);
      expect(await openSocket(b, `/pcloud/console/${id}/websocket?token=${encodeURIComponent(foreign)}`)).toBe(401);
    });
  });
});


/**
 * Runs `between` on the other server once, just as `api` opens its next transaction (after whatever it read before
 * it): where a commit of another `pcloud serve` lands when both take a request at once.
 */
function whenNextTransaction(api: TestApi, between: () => Promise<unknown>): void {
  beforeWrite.set(api.cloud.db satisfies Db, between);
}

describe('two servers writing at once (transactions read what they decide on under the write lock)', () => {
  const account = '111111111111';

  it('CreateLaunchTemplateVersion on both: versions one after the other, none lost', async () => {
    const { template } = await a.cloud.instances.templates.create(account, { name: 'both-at-once', data: { ImageId: 'ami-1' }, tags: [] });
    let onB = 0;
    whenNextTransaction(a, async () => { onB = (await b.cloud.instances.templates.createVersion(account, { id: template.id }, { data: { ImageId: 'ami-b' } })).version; });
    const onA = (await a.cloud.instances.templates.createVersion(account, { id: template.id }, { data: { ImageId: 'ami-a' } })).version;
    expect([onB, onA]).toEqual([2, 3]);
    expect((await a.cloud.instances.templates.get(account, { id: template.id })).latestVersion).toBe(3);
  });

  it('CreateVolume with one token on both: one volume, the loser gives its disk back', async () => {
    const request = { accountId: account, operation: 'CreateVolume', token: 'both-at-once', params: [['Size', '1']] as [string, string][] };
    const input = { availabilityZone: a.cloud.config.availabilityZones[0], size: 1, tags: [], request };
    const disks = async (api: TestApi) => (await readdir(join(api.pool.root, 'volumes')).catch(() => [] as string[])).length;
    const before = [await disks(a), await disks(b)];
    // B takes the request as A, its disk made, opens the transaction that keeps it: both found no token before.
    let fromB: Promise<{ id: string }> | undefined;
    whenNextTransaction(a, () => { fromB = b.cloud.volumes.create(account, input); return Promise.resolve(); });
    const fromA = await a.cloud.volumes.create(account, input);
    expect((await fromB!).id).toBe(fromA.id);
    expect((await a.cloud.volumes.list(account)).filter((v) => v.id === fromA.id)).toHaveLength(1);
    expect([await disks(a), await disks(b)]).toEqual([before[0]! + 1, before[1]]);
  });

  // Policies.createVersion reads the policy's next version number inside its (write-locked) transaction.
  it('CreatePolicyVersion on both: versions one after the other', async () => {
    const doc = (s: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*', Sid: s }] });
    const p = await a.cloud.iam.policies.create(account, { name: 'both-at-once', path: '/', document: doc('one') });
    let onB = '';
    whenNextTransaction(a, async () => { onB = (await b.cloud.iam.policies.createVersion(account, p.arn, doc('b'), false)).versionId; });
    const onA = (await a.cloud.iam.policies.createVersion(account, p.arn, doc('a'), false)).versionId;
    expect([onB, onA]).toEqual(['v2', 'v3']);
  });
});
