/**
 * Lambda's long tail as real tools call it (the SDK over the API, a fake host): Environment left out where a function
 * has no variables; aliases (with routing, as Invoke's qualifier, in ListAliases' pages, gone with their function);
 * resource policies (GetPolicy's document, enforced for another account's Invoke); event source mappings (none here);
 * reserved concurrency (its limits, GetFunction's Concurrency, UnreservedConcurrentExecutions, enforced on Invoke).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import aws4 from 'aws4';
import {
  AddPermissionCommand, CreateAliasCommand, CreateEventSourceMappingCommand, CreateFunctionCommand, DeleteAliasCommand, DeleteEventSourceMappingCommand,
  DeleteFunctionCommand, DeleteFunctionConcurrencyCommand, GetAccountSettingsCommand, GetAliasCommand, GetEventSourceMappingCommand, GetFunctionCommand,
  GetFunctionConcurrencyCommand, GetFunctionConfigurationCommand, GetPolicyCommand, InvokeCommand, LambdaClient, ListAliasesCommand,
  ListEventSourceMappingsCommand, PublishVersionCommand, PutFunctionConcurrencyCommand, RemovePermissionCommand, UpdateAliasCommand,
  UpdateFunctionConfigurationCommand, DeleteFunctionCommand as DeleteVersionCommand,
} from '@aws-sdk/client-lambda';
import { createApp } from '../../src/api/server.js';
import { Cloud } from '../../src/cloud/index.js';
import { defaultLimits } from '../../src/cloud/config.js';
import type { NginxDriver } from '../../src/host/nginx.js';
import { fakeHost } from '../support/fake-host.js';
import { HeldFunctionHost } from '../support/fake-functions.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { lambdaRole } from '../support/roles.js';

const ME = '111111111111';
const OTHER = '222222222222';
const THIRD = '333333333333';
/** The account's execution role (test/support/roles.ts), made through IAM. */
let ROLE = '';
const ZIP = Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4]), Buffer.alloc(60, 1)]);

let cloud: Cloud;
let fns: HeldFunctionHost;
const clients = new Map<string, LambdaClient>();
let close: () => Promise<void>;
const me = () => clients.get(ME)!;
let endpoint: string;

/** A POST signed by the first account's key with the body exactly as given (what an SDK would not send); `STATUS body`. */
async function fetchRaw(path: string, body: string): Promise<string> {
  const signed = aws4.sign({ host: new URL(endpoint).host, path, method: 'POST', service: 'lambda', region: 'us-east-1', body, headers: { 'content-type': 'application/json' } },
    { accessKeyId: `AKIDTAIL${ME}`, secretAccessKey: `secret-${ME}` });
  const res = await fetch(`${endpoint}${path}`, { method: 'POST', body, headers: signed.headers as Record<string, string> });
  return `${res.status} ${await res.text()}`;
}

beforeAll(async () => {
  const { host } = await fakeHost();
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-fn-tail-'));
  fns = new HeldFunctionHost(dataDir);
  host.functions = fns;
  cloud = await Cloud.open({ dataDir, host });
  cloud.config.limits = { ...defaultLimits, concurrentExecutions: 20 };
  await cloud.start();
  cloud.functions.attachNginx({ baseUrl: 'http://nginx', sync: async () => undefined, close: () => undefined } as unknown as NginxDriver);
  const server = serve({ fetch: createApp(cloud).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const account of [ME, OTHER, THIRD]) {
    const key = await cloud.accounts.putKey({ accessKeyId: `AKIDTAIL${account}`, secretAccessKey: `secret-${account}`, accountId: account });
    clients.set(account, new LambdaClient({ endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1 }));
    if (account === ME) ROLE = await lambdaRole(endpoint, key);
  }
  close = async () => {
    server.close();
    await cloud.close();
  };
});
afterAll(async () => { await close?.(); });

const create = (name: string, env?: Record<string, string>) => me().send(new CreateFunctionCommand({
  FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: ZIP }, ...(env ? { Environment: { Variables: env } } : {}),
}));
const failure = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error & { $metadata?: { httpStatusCode?: number }; Reason?: string }) =>
  `${e.name} ${e.$metadata?.httpStatusCode}${e.Reason ? ` ${e.Reason}` : ''}`);
const errorOf = (p: Promise<unknown>) => p.then(() => { throw new Error('no error'); }, (e: Error) => e);

describe('Environment', () => {
  it('is left out where the function has no variables, as AWS leaves it out (also after an update removes them all)', async () => {
    expect((await create('env-none')).Environment).toBeUndefined();
    expect((await me().send(new GetFunctionCommand({ FunctionName: 'env-none' }))).Configuration?.Environment).toBeUndefined();
    await me().send(new UpdateFunctionConfigurationCommand({ FunctionName: 'env-none', Environment: { Variables: { A1: 'x' } } }));
    expect((await me().send(new GetFunctionConfigurationCommand({ FunctionName: 'env-none' }))).Environment).toEqual({ Variables: { A1: 'x' } });
    await me().send(new UpdateFunctionConfigurationCommand({ FunctionName: 'env-none', Environment: { Variables: {} } }));
    expect((await me().send(new GetFunctionConfigurationCommand({ FunctionName: 'env-none' }))).Environment).toBeUndefined();
  });
});

describe('aliases', () => {
  beforeAll(async () => {
    await create('aliased');
    await me().send(new PublishVersionCommand({ FunctionName: 'aliased' }));
    await me().send(new UpdateFunctionConfigurationCommand({ FunctionName: 'aliased', Timeout: 5 }));
    await me().send(new PublishVersionCommand({ FunctionName: 'aliased' }));
  });

  it('are created, read, listed by version and page, updated with their revision, deleted', async () => {
    const live = await me().send(new CreateAliasCommand({ FunctionName: 'aliased', Name: 'live', FunctionVersion: '1', Description: 'prod' }));
    expect(live).toMatchObject({ AliasArn: `arn:aws:lambda:us-east-1:${ME}:function:aliased:live`, Name: 'live', FunctionVersion: '1', Description: 'prod' });
    expect(live.RoutingConfig).toBeUndefined();
    await me().send(new CreateAliasCommand({ FunctionName: 'aliased', Name: 'edge', FunctionVersion: '$LATEST' }));
    expect(await failure(me().send(new CreateAliasCommand({ FunctionName: 'aliased', Name: 'live', FunctionVersion: '2' })))).toBe('ResourceConflictException 409');
    expect(await failure(me().send(new CreateAliasCommand({ FunctionName: 'aliased', Name: 'x', FunctionVersion: '9' })))).toBe('ResourceNotFoundException 404');
    expect(await failure(me().send(new CreateAliasCommand({ FunctionName: 'aliased', Name: '12', FunctionVersion: '1' })))).toBe('ValidationException 400');
    expect(await failure(me().send(new CreateAliasCommand({ FunctionName: 'aliased', Name: 'x', FunctionVersion: '$LATEST', RoutingConfig: { AdditionalVersionWeights: { 1: 0.5 } } }))))
      .toBe('InvalidParameterValueException 400');
    expect(await failure(me().send(new CreateAliasCommand({ FunctionName: 'aliased', Name: 'x', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { 2: 1.5 } } }))))
      .toBe('ValidationException 400');
    expect((await me().send(new GetAliasCommand({ FunctionName: 'aliased', Name: 'live' }))).RevisionId).toBe(live.RevisionId);
    expect(await failure(me().send(new GetAliasCommand({ FunctionName: 'aliased', Name: 'nope' })))).toBe('ResourceNotFoundException 404');

    expect((await me().send(new ListAliasesCommand({ FunctionName: 'aliased' }))).Aliases?.map((a) => a.Name)).toEqual(['edge', 'live']);
    expect((await me().send(new ListAliasesCommand({ FunctionName: 'aliased', FunctionVersion: '1' }))).Aliases?.map((a) => a.Name)).toEqual(['live']);
    const first = await me().send(new ListAliasesCommand({ FunctionName: 'aliased', MaxItems: 1 }));
    expect(first.Aliases?.map((a) => a.Name)).toEqual(['edge']);
    const second = await me().send(new ListAliasesCommand({ FunctionName: 'aliased', MaxItems: 1, Marker: first.NextMarker }));
    expect([second.Aliases?.map((a) => a.Name), second.NextMarker]).toEqual([['live'], undefined]);

    expect(await failure(me().send(new UpdateAliasCommand({ FunctionName: 'aliased', Name: 'live', FunctionVersion: '2', RevisionId: 'stale' })))).toBe('PreconditionFailedException 412');
    const moved = await me().send(new UpdateAliasCommand({ FunctionName: 'aliased', Name: 'live', RoutingConfig: { AdditionalVersionWeights: { 2: 0.25 } }, RevisionId: live.RevisionId }));
    expect(moved).toMatchObject({ FunctionVersion: '1', Description: 'prod', RoutingConfig: { AdditionalVersionWeights: { 2: 0.25 } } });
    expect(moved.RevisionId).not.toBe(live.RevisionId);

    // A version an alias routes to stays.
    expect(await failure(me().send(new DeleteVersionCommand({ FunctionName: 'aliased', Qualifier: '2' })))).toBe('ResourceConflictException 409');
    await me().send(new DeleteAliasCommand({ FunctionName: 'aliased', Name: 'edge' }));
    expect(await failure(me().send(new GetAliasCommand({ FunctionName: 'aliased', Name: 'edge' })))).toBe('ResourceNotFoundException 404');
  });

  it('run their version on Invoke (as Qualifier or in the ARN), the routing config\'s by its weight', async () => {
    await me().send(new CreateAliasCommand({ FunctionName: 'aliased', Name: 'one', FunctionVersion: '1' }));
    const byQualifier = await me().send(new InvokeCommand({ FunctionName: 'aliased', Qualifier: 'one', Payload: Buffer.from('{}') }));
    expect(byQualifier.ExecutedVersion).toBe('1');
    const byArn = await me().send(new InvokeCommand({ FunctionName: `arn:aws:lambda:us-east-1:${ME}:function:aliased:one`, Payload: Buffer.from('{}') }));
    expect(byArn.ExecutedVersion).toBe('1');
    await me().send(new UpdateAliasCommand({ FunctionName: 'aliased', Name: 'one', RoutingConfig: { AdditionalVersionWeights: { 2: 1 } } }));
    expect((await me().send(new InvokeCommand({ FunctionName: 'aliased', Qualifier: 'one' }))).ExecutedVersion).toBe('2');
    await me().send(new UpdateAliasCommand({ FunctionName: 'aliased', Name: 'one', RoutingConfig: { AdditionalVersionWeights: { 2: 0 } } }));
    expect((await me().send(new InvokeCommand({ FunctionName: 'aliased', Qualifier: 'one' }))).ExecutedVersion).toBe('1');
    // An empty routing config is none.
    expect((await me().send(new UpdateAliasCommand({ FunctionName: 'aliased', Name: 'one', RoutingConfig: { AdditionalVersionWeights: {} } }))).RoutingConfig).toBeUndefined();
    expect((await me().send(new GetFunctionConfigurationCommand({ FunctionName: 'aliased', Qualifier: 'one' }))).Version).toBe('1');
  });

  it('go with their function', async () => {
    await me().send(new DeleteFunctionCommand({ FunctionName: 'aliased' }));
    await create('aliased');
    expect((await me().send(new ListAliasesCommand({ FunctionName: 'aliased' }))).Aliases).toEqual([]);
  });
});

describe('resource policies', () => {
  const arn = `arn:aws:lambda:us-east-1:${ME}:function:shared`;
  beforeAll(async () => { await create('shared'); });

  it('let another account invoke only where a statement allows it', async () => {
    expect(await failure(me().send(new GetPolicyCommand({ FunctionName: 'shared' })))).toBe('ResourceNotFoundException 404');
    const denied = await errorOf(clients.get(OTHER)!.send(new InvokeCommand({ FunctionName: arn, Payload: Buffer.from('{}') })));
    expect([denied.name, denied.message]).toEqual(['AccessDeniedException',
      `User: arn:aws:iam::${OTHER}:root is not authorized to perform: lambda:InvokeFunction on resource: ${arn} because no resource-based policy allows the lambda:InvokeFunction action`]);

    const added = await me().send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'other', Action: 'lambda:InvokeFunction', Principal: OTHER }));
    expect(JSON.parse(added.Statement!)).toEqual({ Sid: 'other', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: 'lambda:InvokeFunction', Resource: arn });
    await me().send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 's3', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', SourceAccount: ME, SourceArn: 'arn:aws:s3:::bucket' }));
    expect(await failure(me().send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'other', Action: 'lambda:InvokeFunction', Principal: THIRD }))))
      .toBe('ResourceConflictException 409');
    expect(await failure(me().send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'bad', Action: 'lambda:InvokeFunction', Principal: 'someone' }))))
      .toBe('InvalidParameterValueException 400');

    const policy = await me().send(new GetPolicyCommand({ FunctionName: 'shared' }));
    expect(JSON.parse(policy.Policy!)).toEqual({
      Version: '2012-10-17', Id: 'default', Statement: [
        { Sid: 'other', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: 'lambda:InvokeFunction', Resource: arn },
        { Sid: 's3', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'lambda:InvokeFunction', Resource: arn,
          Condition: { StringEquals: { 'AWS:SourceAccount': ME }, ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::bucket' } } },
      ],
    });
    expect(policy.RevisionId).toMatch(/^[0-9a-f-]{36}$/);

    expect((await clients.get(OTHER)!.send(new InvokeCommand({ FunctionName: arn, Payload: Buffer.from('{}') }))).StatusCode).toBe(200);
    expect(await failure(clients.get(THIRD)!.send(new InvokeCommand({ FunctionName: arn })))).toBe('AccessDeniedException 403');
    // A function the owner does not have: refused as one it has (another account learns nothing of its names).
    const missing = await errorOf(clients.get(THIRD)!.send(new InvokeCommand({ FunctionName: `${arn}-missing` })));
    expect([missing.name, missing.message]).toEqual(['AccessDeniedException', `User: arn:aws:iam::${THIRD}:root is not authorized to perform: lambda:InvokeFunction on resource: ${arn}-missing because no resource-based policy allows the lambda:InvokeFunction action`]);
    // The name alone is the caller's own function (it has none of that name).
    expect(await failure(clients.get(OTHER)!.send(new InvokeCommand({ FunctionName: 'shared' })))).toBe('ResourceNotFoundException 404');

    expect(await failure(me().send(new RemovePermissionCommand({ FunctionName: 'shared', StatementId: 'other', RevisionId: 'stale' })))).toBe('PreconditionFailedException 412');
    await me().send(new RemovePermissionCommand({ FunctionName: 'shared', StatementId: 'other' }));
    expect(await failure(me().send(new RemovePermissionCommand({ FunctionName: 'shared', StatementId: 'other' })))).toBe('ResourceNotFoundException 404');
    expect(await failure(clients.get(OTHER)!.send(new InvokeCommand({ FunctionName: arn })))).toBe('AccessDeniedException 403');
    await me().send(new RemovePermissionCommand({ FunctionName: 'shared', StatementId: 's3' }));
    expect(await failure(me().send(new GetPolicyCommand({ FunctionName: 'shared' })))).toBe('ResourceNotFoundException 404');
  });

  it('allow `*` and lambda:*; another account\'s own calls are never the owner\'s', async () => {
    await me().send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'all', Action: 'lambda:*', Principal: '*' }));
    expect((await clients.get(THIRD)!.send(new InvokeCommand({ FunctionName: arn }))).StatusCode).toBe(200);
    // Invoking is all another account may: not reading the configuration.
    expect(await failure(clients.get(THIRD)!.send(new GetFunctionCommand({ FunctionName: arn })))).toBe('AccessDeniedException 403');
    await me().send(new RemovePermissionCommand({ FunctionName: 'shared', StatementId: 'all' }));
  });

  it('admit no direct call where a condition cannot hold of one: an organization (none here), a source account (a service\'s)', async () => {
    await me().send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'org', Action: 'lambda:InvokeFunction', Principal: '*', PrincipalOrgID: 'o-abcdefghij' }));
    await me().send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'src', Action: 'lambda:InvokeFunction', Principal: OTHER, SourceAccount: OTHER }));
    const policy = JSON.parse((await me().send(new GetPolicyCommand({ FunctionName: 'shared' }))).Policy!) as { Statement: { Sid: string; Condition?: unknown }[] };
    expect(policy.Statement.find((x) => x.Sid === 'org')?.Condition).toEqual({ StringEquals: { 'aws:PrincipalOrgID': 'o-abcdefghij' } });
    for (const account of [OTHER, THIRD]) expect(await failure(clients.get(account)!.send(new InvokeCommand({ FunctionName: arn })))).toBe('AccessDeniedException 403');
    await me().send(new RemovePermissionCommand({ FunctionName: 'shared', StatementId: 'org' }));
    await me().send(new RemovePermissionCommand({ FunctionName: 'shared', StatementId: 'src' }));
  });
});

describe('event source mappings', () => {
  it('are none: listed empty, not found, and a source to map does not exist here', async () => {
    const list = await me().send(new ListEventSourceMappingsCommand({ FunctionName: 'shared' }));
    expect([list.EventSourceMappings, list.NextMarker]).toEqual([[], undefined]);
    expect(await failure(me().send(new GetEventSourceMappingCommand({ UUID: '5e3f1c52-5b4c-4b63-a1d0-9e1f4c1a0c01' })))).toBe('ResourceNotFoundException 404');
    expect(await failure(me().send(new DeleteEventSourceMappingCommand({ UUID: '5e3f1c52-5b4c-4b63-a1d0-9e1f4c1a0c01' })))).toBe('ResourceNotFoundException 404');
    const err = await errorOf(me().send(new CreateEventSourceMappingCommand({ FunctionName: 'shared', EventSourceArn: 'arn:aws:sqs:us-east-1:111111111111:q' })));
    expect(err.name).toBe('InvalidParameterValueException');
    expect(err.message).toContain('arn:aws:sqs:us-east-1:111111111111:q does not exist in this cloud');
  });
});

describe('reserved concurrency', () => {
  beforeAll(async () => { await create('reserved'); });

  it('is set within what the account must leave unreserved, shown by GetFunction and GetAccountSettings, deleted', async () => {
    expect(await me().send(new GetFunctionConcurrencyCommand({ FunctionName: 'reserved' }))).not.toHaveProperty('ReservedConcurrentExecutions');
    expect((await me().send(new GetFunctionCommand({ FunctionName: 'reserved' }))).Concurrency).toBeUndefined();
    // 20 at once, 2 of them left unreserved at least.
    const over = await errorOf(me().send(new PutFunctionConcurrencyCommand({ FunctionName: 'reserved', ReservedConcurrentExecutions: 19 })));
    expect([over.name, over.message]).toEqual(['InvalidParameterValueException', "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [2]."]);
    expect(await failure(me().send(new PutFunctionConcurrencyCommand({ FunctionName: 'reserved', ReservedConcurrentExecutions: -1 })))).toBe('ValidationException 400');
    expect((await me().send(new PutFunctionConcurrencyCommand({ FunctionName: 'reserved', ReservedConcurrentExecutions: 3 }))).ReservedConcurrentExecutions).toBe(3);
    expect((await me().send(new GetFunctionConcurrencyCommand({ FunctionName: 'reserved' }))).ReservedConcurrentExecutions).toBe(3);
    expect((await me().send(new GetFunctionCommand({ FunctionName: 'reserved' }))).Concurrency).toEqual({ ReservedConcurrentExecutions: 3 });
    expect((await me().send(new GetAccountSettingsCommand({}))).AccountLimit).toMatchObject({ ConcurrentExecutions: 20, UnreservedConcurrentExecutions: 17 });
    expect((await clients.get(OTHER)!.send(new GetAccountSettingsCommand({}))).AccountLimit?.UnreservedConcurrentExecutions).toBe(20);
    await me().send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'reserved' }));
    expect((await me().send(new GetAccountSettingsCommand({}))).AccountLimit?.UnreservedConcurrentExecutions).toBe(20);
  });

  it('throttles the function past it (0: always), with Lambda\'s Reason; a slot comes back when an invoke ends', async () => {
    await me().send(new PutFunctionConcurrencyCommand({ FunctionName: 'reserved', ReservedConcurrentExecutions: 0 }));
    expect(await failure(me().send(new InvokeCommand({ FunctionName: 'reserved' })))).toBe('TooManyRequestsException 429 ReservedFunctionConcurrentInvocationLimitExceeded');
    expect((await me().send(new InvokeCommand({ FunctionName: 'shared' }))).StatusCode).toBe(200);
    await me().send(new PutFunctionConcurrencyCommand({ FunctionName: 'reserved', ReservedConcurrentExecutions: 1 }));
    fns.hold = true;
    const running = me().send(new InvokeCommand({ FunctionName: 'reserved' }));
    await expect.poll(() => fns.waiting.length).toBe(1);
    expect(await failure(me().send(new InvokeCommand({ FunctionName: 'reserved' })))).toBe('TooManyRequestsException 429 ReservedFunctionConcurrentInvocationLimitExceeded');
    // Other functions are not held back by it.
    const other = me().send(new InvokeCommand({ FunctionName: 'shared' }));
    await expect.poll(() => fns.waiting.length).toBe(2);
    fns.hold = false;
    fns.release();
    expect([(await running).StatusCode, (await other).StatusCode]).toEqual([200, 200]);
    expect((await me().send(new InvokeCommand({ FunctionName: 'reserved' }))).StatusCode).toBe(200);
  });
});

describe('hostile members', () => {
  beforeAll(async () => { await create('target'); });

  it('are refused in Lambda\'s words, and nothing of them is stored', async () => {
    for (const v of [...Object.values(HOSTILE).filter((x) => x !== ''), NUL]) {
      for (const p of [
        me().send(new CreateAliasCommand({ FunctionName: 'target', Name: v, FunctionVersion: '$LATEST' })),
        me().send(new CreateAliasCommand({ FunctionName: 'target', Name: 'ok', FunctionVersion: v })),
        me().send(new AddPermissionCommand({ FunctionName: 'target', StatementId: v, Action: 'lambda:InvokeFunction', Principal: OTHER })),
        me().send(new AddPermissionCommand({ FunctionName: 'target', StatementId: 'ok', Action: v, Principal: OTHER })),
        me().send(new AddPermissionCommand({ FunctionName: 'target', StatementId: 'ok', Action: 'lambda:InvokeFunction', Principal: v })),
        me().send(new AddPermissionCommand({ FunctionName: 'target', StatementId: 'ok', Action: 'lambda:InvokeFunction', Principal: OTHER, SourceAccount: v })),
      ]) expect(await failure(p)).toMatch(/^(ValidationException|InvalidParameterValueException) 400$/);
    }
    // A description with a NUL, a routing config keyed `__proto__`: refused; the weights are a map, never a prototype.
    expect(await failure(me().send(new CreateAliasCommand({ FunctionName: 'target', Name: 'ok', FunctionVersion: '$LATEST', Description: NUL })))).toBe('ValidationException 400');
    const proto = await fetchRaw('/2015-03-31/functions/target/aliases', JSON.stringify({ Name: 'ok', FunctionVersion: '$LATEST', RoutingConfig: JSON.parse('{"AdditionalVersionWeights":{"__proto__":0.5}}') as unknown }));
    expect(proto).toMatch(/^400 /);
    expect((await me().send(new ListAliasesCommand({ FunctionName: 'target' }))).Aliases).toEqual([]);
    expect(await failure(me().send(new GetPolicyCommand({ FunctionName: 'target' })))).toBe('ResourceNotFoundException 404');
  });
});
