/**
 * Lambda's domain rules end to end through @aws-sdk/client-lambda, over a fake host (no units, no runtimes): function
 * names as Lambda validates them (ARN forms resolved to the name, or refused), environments a process can be given
 * (4 KB, no NUL), limits per account (functions, code storage, package size), and a server that starts whatever its
 * database holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import {
  CreateFunctionCommand, DeleteFunctionCommand, GetAccountSettingsCommand, GetFunctionCommand, InvokeCommand, LambdaClient, ListFunctionsCommand,
  ListTagsCommand, ListVersionsByFunctionCommand, PublishVersionCommand, TagResourceCommand, UntagResourceCommand, UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand, CreateFunctionUrlConfigCommand, DeleteFunctionUrlConfigCommand, GetFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { createApp } from '../../src/api/server.js';
import { Cloud } from '../../src/cloud/index.js';
import { defaultLimits } from '../../src/cloud/config.js';
import { ZIP_MAX } from '../../src/cloud/functions/index.js';
import type { NginxDriver, FunctionRoute } from '../../src/host/nginx.js';
import { functions, functionVersions } from '../../src/db/schema.js';
import { fakeHost } from '../support/fake-host.js';
import { FakeFunctionHost } from '../support/fake-functions.js';
import { PackageRefused } from '../../src/host/code-package.js';
import { lambdaRole } from '../support/roles.js';

const ME = '111111111111';
const OTHER = '222222222222';
/** Each account's execution role (test/support/roles.ts), made through IAM. */
let ROLE = '';
let ROLE_OTHER = '';

let cloud: Cloud;
let fns: FakeFunctionHost;
let lambda: LambdaClient;
let lambdaOther: LambdaClient;
let close: () => Promise<void>;
/** What the fake nginx was last told to route. */
let routes: FunctionRoute[] = [];

beforeAll(async () => {
  const { host } = await fakeHost();
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-fn-api-'));
  fns = new FakeFunctionHost(dataDir);
  host.functions = fns;
  cloud = await Cloud.open({ dataDir, host });
  const key = await cloud.accounts.putKey({ accessKeyId: 'AKIDFNTEST', secretAccessKey: 'fn-secret', accountId: ME });
  const other = await cloud.accounts.putKey({ accessKeyId: 'AKIDFNOTHER', secretAccessKey: 'fn-other', accountId: OTHER });
  await cloud.start();
  cloud.functions.attachNginx({ baseUrl: 'http://nginx', sync: async (r: FunctionRoute[]) => { routes = r; }, close: () => undefined } as unknown as NginxDriver);
  const server = serve({ fetch: createApp(cloud).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = (k: { accessKeyId: string; secretAccessKey: string }) => new LambdaClient({
    endpoint, region: 'us-east-1', credentials: { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey }, maxAttempts: 1,
  });
  lambda = client(key);
  lambdaOther = client(other);
  ROLE = await lambdaRole(endpoint, key);
  ROLE_OTHER = await lambdaRole(endpoint, other);
  close = async () => {
    server.close();
    await cloud.close();
  };
});
afterAll(async () => { await close?.(); });

/** A "zip" of n bytes: the fake host does not unzip, the domain checks only the local file header's magic. */
const zip = (n = 64) => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(Math.max(0, n - 4), 1)]);

const create = (FunctionName: string, extra: { env?: Record<string, string>; size?: number; client?: LambdaClient } = {}) =>
  (extra.client ?? lambda).send(new CreateFunctionCommand({
    FunctionName, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: extra.client === lambdaOther ? ROLE_OTHER : ROLE, Code: { ZipFile: zip(extra.size) },
    ...(extra.env ? { Environment: { Variables: extra.env } } : {}),
  }));

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as Error).name, message: (e as Error).message };
  }
  return { code: 'no error', message: '' };
}

const names = async () => (await lambda.send(new ListFunctionsCommand({}))).Functions!.map((f) => f.FunctionName);

describe('function names as Lambda validates them', () => {
  it('an ARN or partial ARN of this account and region names the function; a qualifier, another account or region is refused', async () => {
    const byArn = await create(`arn:aws:lambda:us-east-1:${ME}:function:by-arn`);
    expect(byArn.FunctionName).toBe('by-arn');
    expect(byArn.FunctionArn).toBe(`arn:aws:lambda:us-east-1:${ME}:function:by-arn`);
    expect((await create(`${ME}:function:by-partial`)).FunctionName).toBe('by-partial');
    const unpacked = fns.unpacked.length;
    const refused = async (name: string) => (await errorOf(create(name))).code;
    expect(await refused(`arn:aws:lambda:us-east-1:${ME}:function:by-arn2:$LATEST`)).toBe('ValidationException');
    expect(await refused(`arn:aws:lambda:us-east-1:${ME}:function:q:1`)).toBe('ValidationException');
    expect(await refused('short:$LATEST')).toBe('ValidationException');
    expect(await refused(`arn:aws:lambda:us-east-1:${OTHER}:function:theirs`)).toBe('AccessDeniedException');
    expect(await refused(`${OTHER}:function:theirs`)).toBe('AccessDeniedException');
    expect(await refused(`arn:aws:lambda:eu-west-1:${ME}:function:elsewhere`)).toBe('ResourceNotFoundException');
    expect(await refused('x'.repeat(65))).toBe('InvalidParameterValueException');
    for (const bad of ['x'.repeat(200), 'has space', 'semi;colon', 'new\nline', 'nul\0', '$LATEST', '', `arn:aws:lambda:us-east-1:${ME}:function:`]) {
      expect([bad, await refused(bad)]).toEqual([bad, 'ValidationException']);
    }
    // Nothing of the refused ones was stored or unpacked.
    expect(fns.unpacked.length).toBe(unpacked);
    expect(await names()).toEqual(['by-arn', 'by-partial']);
    // Every form reaches it afterwards, and the qualified ARN deletes it.
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: `arn:aws:lambda:us-east-1:${ME}:function:by-arn:$LATEST` }));
    expect(got.Configuration?.FunctionName).toBe('by-arn');
    expect((await errorOf(lambdaOther.send(new GetFunctionCommand({ FunctionName: `arn:aws:lambda:us-east-1:${ME}:function:by-arn` })))).code).toBe('AccessDeniedException');
    await lambda.send(new DeleteFunctionCommand({ FunctionName: `arn:aws:lambda:us-east-1:${ME}:function:by-arn` }));
    await lambda.send(new DeleteFunctionCommand({ FunctionName: `${ME}:function:by-partial` }));
    expect(await names()).toEqual([]);
  });
});

describe('environments a process can be given', () => {
  it('4 KB of variables in all, measured as Lambda does; over it is refused with the string measured', async () => {
    // {"BIG":"..."}: 10 bytes around the value.
    const fits = { BIG: 'v'.repeat(4096 - 10) };
    expect(Buffer.byteLength(JSON.stringify(fits))).toBe(4096);
    await create('env-fits', { env: fits });
    const over = await errorOf(create('env-over', { env: { BIG: 'v'.repeat(4096 - 9) } }));
    expect(over.code).toBe('InvalidParameterValueException');
    expect(over.message).toContain('Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {"BIG":"vvv');
    // Multi-byte characters count in bytes.
    expect((await errorOf(create('env-utf8', { env: { U: 'é'.repeat(2100) } }))).code).toBe('InvalidParameterValueException');
    expect(await names()).toEqual(['env-fits']);
  });

  it('UpdateFunctionConfiguration refuses a NUL or 200 KB value (or a NUL in the handler) and keeps what runs; invoke still answers', async () => {
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'env-fits', Environment: { Variables: { AA: 'ok' } } }));
    // ...and the keys Lambda reserves for what it sets itself (AWS_REGION among them).
    const refused: Record<string, string>[] = [{ AA: 'nul\0here' }, { AA: 'x'.repeat(200 * 1024) }, { AA: 'lone \ud800 surrogate' }, { AWS_REGION: 'eu-west-1' }];
    for (const Variables of refused) {
      const err = await errorOf(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'env-fits', Environment: { Variables } })));
      expect(err.code).toBe('InvalidParameterValueException');
    }
    const handler = await errorOf(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'env-fits', Handler: 'index.\0handler' })));
    expect(handler.code).toBe('ValidationException');
    const conf = await lambda.send(new GetFunctionCommand({ FunctionName: 'env-fits' }));
    expect(conf.Configuration?.Environment?.Variables).toEqual({ AA: 'ok' });
    const res = await lambda.send(new InvokeCommand({ FunctionName: 'env-fits', Payload: Buffer.from('{}') }));
    expect(res.StatusCode).toBe(200);
    expect((JSON.parse(Buffer.from(res.Payload!).toString()) as { environment: unknown }).environment).toEqual({ AA: 'ok' });
  });

  it('a console function names an instance of its own account, by id', async () => {
    const code = async (v: string) => (await errorOf(lambda.send(new UpdateFunctionConfigurationCommand({
      FunctionName: 'env-fits', Environment: { Variables: { PCLOUD_CONSOLE_INSTANCE: v } },
    })))).code;
    expect(await code('../../../run/some.sock')).toBe('InvalidParameterValueException');
    expect(await code('i-0123456789abcdef0')).toBe('InvalidParameterValueException');
    const idle = await errorOf(lambda.send(new UpdateFunctionConfigurationCommand({
      FunctionName: 'env-fits', Environment: { Variables: { PCLOUD_CONSOLE_IDLE_SEC: '1e9' } },
    })));
    expect(idle.code).toBe('InvalidParameterValueException');
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'env-fits' }));
  });
});

describe('limits per account', () => {
  it('functions: as many as the operator allows, then ServiceQuotaExceededException; another account has its own', async () => {
    cloud.config.limits = { ...defaultLimits, functions: 2 };
    try {
      await create('f1');
      await create('f2');
      const over = await errorOf(create('f3'));
      expect(over.code).toBe('ServiceQuotaExceededException');
      expect(over.message).toContain('Delete functions you no longer need');
      await create('f1', { client: lambdaOther });
      await lambda.send(new DeleteFunctionCommand({ FunctionName: 'f2' }));
      await create('f3');
      expect(await names()).toEqual(['f1', 'f3']);
    } finally {
      cloud.config.limits = { ...defaultLimits };
      for (const n of ['f1', 'f3']) await lambda.send(new DeleteFunctionCommand({ FunctionName: n }));
      await lambdaOther.send(new DeleteFunctionCommand({ FunctionName: 'f1' }));
    }
  });

  it('code storage: every package an account keeps ($LATEST and published versions), CodeStorageExceededException past it', async () => {
    cloud.config.limits = { ...defaultLimits, codeStorageBytes: 1000 };
    try {
      await create('c1', { size: 600 });
      expect((await errorOf(create('c2', { size: 600 }))).code).toBe('CodeStorageExceededException');
      // A new package replaces $LATEST's when no version keeps that one.
      await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'c1', ZipFile: zip(900) }));
      await lambda.send(new PublishVersionCommand({ FunctionName: 'c1' }));
      const kept = await errorOf(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'c1', ZipFile: zip(200) })));
      expect(kept.code).toBe('CodeStorageExceededException');
      expect(kept.message).toContain('stores 900 bytes');
      expect((await lambda.send(new GetFunctionCommand({ FunctionName: 'c1' }))).Configuration?.CodeSize).toBe(900);
      expect(await cloud.functions.accountSettings(ME)).toMatchObject({ limits: { totalCodeSize: 1000 }, usage: { totalCodeSize: 900, functionCount: 1 } });
      // GetAccountSettings says the same to the SDK.
      const settings = await lambda.send(new GetAccountSettingsCommand({}));
      expect(settings.AccountLimit).toMatchObject({ TotalCodeSize: 1000, ConcurrentExecutions: defaultLimits.concurrentExecutions });
      expect(settings.AccountUsage).toEqual({ TotalCodeSize: 900, FunctionCount: 1 });
      await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'c1', ZipFile: zip(100) }));
    } finally {
      cloud.config.limits = { ...defaultLimits };
      await lambda.send(new DeleteFunctionCommand({ FunctionName: 'c1' }));
    }
  });

  it('a package past 50 MB zipped is refused as Lambda refuses it; the host refusing one (unzipped size) says so in its words', async () => {
    const input = { runtime: 'nodejs20.x', handler: 'index.handler', role: ROLE };
    await expect(cloud.functions.create(ME, 'big', input, zip(ZIP_MAX + 1), false)).rejects.toMatchObject({
      code: 'RequestEntityTooLargeException', message: 'Request must be smaller than 69905067 bytes for the CreateFunction operation',
    });
    await expect(cloud.functions.updateCode(ME, 'big', zip(ZIP_MAX + 1), false)).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
    fns.failNextUnpack = new PackageRefused('Unzipped size must be smaller than 262144000 bytes');
    const bomb = await errorOf(create('bomb'));
    expect(bomb).toEqual({ code: 'InvalidParameterValueException', message: 'Unzipped size must be smaller than 262144000 bytes' });
    fns.failNextUnpack = new Error('unzip: bad archive');
    expect((await errorOf(create('broken'))).message).toContain('Could not unzip uploaded file');
    expect(await names()).toEqual([]);
  });
});

describe('a server starts whatever its database holds', () => {
  it('a function stored under its own ARN, or with an environment no process can take, is reported and skipped', async () => {
    await create('good');
    const now = Date.now();
    const row = {
      accountId: ME, runtime: 'nodejs20.x', handler: 'index.handler', role: ROLE, memoryMiB: 128, timeoutSec: 3, mode: 'per-request' as const,
      codeSha256: 'x', codeSize: 64, revision: 'r1', createdAt: now, updatedAt: now,
    };
    const stored = `arn:aws:lambda:us-east-1:${ME}:function:x:$LATEST`;
    await cloud.db.insert(functions).values([
      { ...row, name: stored, environment: {} },
      { ...row, name: 'nul-env', environment: { A: 'a\0b' } },
    ]);
    await cloud.db.insert(functionVersions).values({ accountId: ME, name: stored, version: 1, config: { ...row, description: '', environment: {} }, createdAt: now });
    // The units such records got before names and environments were checked.
    fns.units.set(cloud.functions.key(ME, stored, '$LATEST'), fns.units.get(cloud.functions.key(ME, 'good', '$LATEST'))!);
    fns.units.set(cloud.functions.key(ME, 'nul-env', '$LATEST'), fns.units.get(cloud.functions.key(ME, 'good', '$LATEST'))!);
    expect(await cloud.functions.reconcile()).toBe(2);
    expect([...fns.units.keys()]).toEqual([cloud.functions.key(ME, 'good', '$LATEST')]);
    await cloud.functions.syncRoutes();
    expect(routes.map((r) => r.name)).toEqual(['good']);
    // The whole server again on this database: it starts, and serves the good function.
    const again = await Cloud.open({ dataDir: cloud.dataDir, host: cloud.host });
    try {
      await again.start();
      expect((await again.functions.get(ME, 'good')).name).toBe('good');
    } finally {
      again.db.$client.close();
    }
    // The one stored under its ARN can be deleted by that name, with its versions and units.
    expect(await names()).toContain(stored);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: stored }));
    expect(await names()).toEqual(['good', 'nul-env']);
    expect(await cloud.db.select().from(functionVersions)).toEqual([]);
  });
});

describe('tags of a function', () => {
  it('a TagResource of a function that does not exist is ResourceNotFoundException, whatever its tags', async () => {
    const missing = cloud.functions.arn(ME, 'no-such-function');
    expect((await errorOf(lambda.send(new TagResourceCommand({ Resource: missing, Tags: { ['k'.repeat(300)]: 'v' } })))).code).toBe('ResourceNotFoundException');
    expect((await errorOf(lambda.send(new TagResourceCommand({ Resource: missing, Tags: { team: 'a' } })))).code).toBe('ResourceNotFoundException');
  });

  it('a TagResource whose pcloud:invoke-mode is refused stores none of its tags; a good one stores them and switches the mode', async () => {
    const arn = (await create('tagged')).FunctionArn!;
    const tagsOf = async () => (await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags ?? {};
    const bad = await errorOf(lambda.send(new TagResourceCommand({ Resource: arn, Tags: { 'pcloud:invoke-mode': 'sometimes', team: 'a' } })));
    expect(bad.code).toBe('InvalidParameterValueException');
    expect(await tagsOf()).toEqual({});
    expect((await cloud.functions.get(ME, 'tagged')).mode).toBe('per-request');
    await lambda.send(new TagResourceCommand({ Resource: arn, Tags: { 'pcloud:invoke-mode': 'warm', team: 'a' } }));
    expect(await tagsOf()).toEqual({ 'pcloud:invoke-mode': 'warm', team: 'a' });
    expect((await cloud.functions.get(ME, 'tagged')).mode).toBe('warm');
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'tagged' }));
  });

  it('a function created with the invoke-mode tag is warm; untagging it makes it per-request; deleting it deletes its tags', async () => {
    const created = await lambda.send(new CreateFunctionCommand({
      FunctionName: 'born-warm', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip() },
      Tags: { 'pcloud:invoke-mode': 'warm', team: 'a' },
    }));
    const arn = created.FunctionArn!;
    expect((await cloud.functions.get(ME, 'born-warm')).mode).toBe('warm');
    expect((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags).toEqual({ 'pcloud:invoke-mode': 'warm', team: 'a' });
    await lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['pcloud:invoke-mode'] }));
    expect((await cloud.functions.get(ME, 'born-warm')).mode).toBe('per-request');
    expect((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags).toEqual({ team: 'a' });
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'born-warm', Qualifier: '$LATEST' }));
    await create('born-warm');
    expect((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags ?? {}).toEqual({});
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'born-warm' }));
  });

  it('a refused invoke mode at create stores neither the function nor its tags', async () => {
    const bad = await errorOf(lambda.send(new CreateFunctionCommand({
      FunctionName: 'born-odd', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip() }, Tags: { 'pcloud:invoke-mode': 'sometimes' },
    })));
    expect(bad.code).toBe('InvalidParameterValueException');
    expect(await names()).not.toContain('born-odd');
    expect((await cloud.tags.of([cloud.functions.arn(ME, 'born-odd')])).size).toBe(0);
  });
});

describe('paging', () => {
  it('ListFunctions and ListVersionsByFunction hand out pages with a NextMarker that walks them all; a forged Marker is refused', async () => {
    for (const n of ['p1', 'p2', 'p3']) await create(n);
    const seen: string[] = [];
    let Marker: string | undefined;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ MaxItems: 2, Marker }));
      expect(page.Functions!.length).toBeLessThanOrEqual(2);
      seen.push(...page.Functions!.map((f) => f.FunctionName!));
      Marker = page.NextMarker;
    } while (Marker);
    // Every function once, in order (earlier tests leave some behind), over more than one page.
    expect(seen).toEqual(await names());
    expect(seen).toEqual(expect.arrayContaining(['p1', 'p2', 'p3']));
    expect(seen.length).toBeGreaterThan(2);

    await lambda.send(new PublishVersionCommand({ FunctionName: 'p1' }));
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'p1', ZipFile: zip(70), Publish: true }));
    const first = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'p1', MaxItems: 2 }));
    expect(first.Versions!.map((v) => v.Version)).toEqual(['$LATEST', '1']);
    const rest = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'p1', MaxItems: 2, Marker: first.NextMarker }));
    expect(rest.Versions!.map((v) => v.Version)).toEqual(['2']);
    expect(rest.NextMarker).toBeUndefined();

    for (const forged of ['2', 'eyJvIjotMX0', 'not a token']) {
      expect((await errorOf(lambda.send(new ListFunctionsCommand({ Marker: forged })))).code, forged).toBe('InvalidParameterValueException');
      expect((await errorOf(lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'p1', Marker: forged })))).code, forged).toBe('InvalidParameterValueException');
    }
    for (const n of ['p1', 'p2', 'p3']) await lambda.send(new DeleteFunctionCommand({ FunctionName: n }));
  });
});

describe('function URLs', () => {
  it('nginx routes a new URL before CreateFunctionUrlConfig answers, and stops routing it once deleted', async () => {
    await create('with-url');
    const made = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'with-url', AuthType: 'NONE' }));
    const urlId = /\/url\/([0-9a-f]{32})\/$/.exec(made.FunctionUrl!)?.[1];
    expect(urlId).toBeDefined();
    expect(routes.find((r) => r.name === 'with-url')).toMatchObject({ accountId: ME, urlId, urlAuth: 'NONE' });
    const got = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'with-url' }));
    expect(got).toMatchObject({ FunctionUrl: made.FunctionUrl, AuthType: 'NONE', FunctionArn: cloud.functions.arn(ME, 'with-url') });
    await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'with-url' }));
    expect(routes.find((r) => r.name === 'with-url')?.urlId).toBeUndefined();
    expect((await errorOf(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'with-url' })))).code).toBe('ResourceNotFoundException');
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'with-url' }));
  });
});

describe('GetFunction', () => {
  it('names the code by function and revision, never by a host path', async () => {
    await create('located');
    const v1 = await lambda.send(new GetFunctionCommand({ FunctionName: 'located' }));
    expect(v1.Code?.Location).toMatch(/^pcloud:functions\/located\/[^/]+$/);
    expect(v1.Code?.Location).not.toContain(cloud.dataDir);
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'located', ZipFile: zip(80) }));
    const v2 = await lambda.send(new GetFunctionCommand({ FunctionName: 'located' }));
    expect(v2.Code?.Location).not.toBe(v1.Code?.Location);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'located' }));
  });
});
