/**
 * An account's Lambda invocations at once (ConcurrentExecutions, PCLOUD_LIMIT_CONCURRENT_EXECUTIONS) on the API's
 * Invoke: one more is TooManyRequestsException 429 "Rate Exceeded.", another account is not held back, a slot comes
 * back when its invoke ends however it ends; and where nginx sends an Invoke (invokeSocket): the signer's function of
 * that name, never another account's. Over a fake host whose invokes wait until the test lets them answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { CreateFunctionCommand, InvokeCommand, LambdaClient, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { createApp } from '../../src/api/server.js';
import { Cloud } from '../../src/cloud/index.js';
import { configFromEnv, defaultLimits } from '../../src/cloud/config.js';
import type { NginxDriver } from '../../src/host/nginx.js';
import { fakeHost } from '../support/fake-host.js';
import { HeldFunctionHost } from '../support/fake-functions.js';
import { lambdaRole } from '../support/roles.js';

const ME = '111111111111';
const OTHER = '222222222222';
const THIRD = '333333333333';

let cloud: Cloud;
let fns: HeldFunctionHost;
const clients = new Map<string, LambdaClient>();
const roles = new Map<string, string>();
let close: () => Promise<void>;

beforeAll(async () => {
  const { host } = await fakeHost();
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-fn-conc-'));
  fns = new HeldFunctionHost(dataDir);
  host.functions = fns;
  cloud = await Cloud.open({ dataDir, host });
  cloud.config.limits = { ...defaultLimits, concurrentExecutions: 2 };
  await cloud.start();
  cloud.functions.attachNginx({ baseUrl: 'http://nginx', sync: async () => undefined, close: () => undefined } as unknown as NginxDriver);
  const server = serve({ fetch: createApp(cloud).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const account of [ME, OTHER, THIRD]) {
    const key = await cloud.accounts.putKey({ accessKeyId: `AKIDCONC${account}`, secretAccessKey: `secret-${account}`, accountId: account });
    clients.set(account, new LambdaClient({ endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1 }));
    // Each account's own execution role (test/support/roles.ts), made through IAM.
    roles.set(account, await lambdaRole(endpoint, key));
  }
  for (const account of [ME, OTHER]) {
    await clients.get(account)!.send(new CreateFunctionCommand({
      FunctionName: 'same', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: roles.get(account), Code: { ZipFile: Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4]), Buffer.alloc(60, 1)]) },
    }));
  }
  close = async () => {
    server.close();
    await cloud.close();
  };
});
afterAll(async () => { await close?.(); });

const invoke = (account: string, type?: 'Event') =>
  clients.get(account)!.send(new InvokeCommand({ FunctionName: 'same', Payload: Buffer.from('{}'), InvocationType: type }))
    .then((r) => `ok ${r.StatusCode}`, (e: Error & { $metadata?: { httpStatusCode?: number } }) => `${e.name} ${e.$metadata?.httpStatusCode} ${e.message}`);

describe('ConcurrentExecutions on the API\'s Invoke', () => {
  it('refuses one more than the limit with TooManyRequestsException; another account goes on; slots come back', async () => {
    fns.hold = true;
    const running = [invoke(ME), invoke(ME, 'Event')];
    // The first answers when released; the Event one at once (it runs on in the background, counted).
    expect(await running[1]).toBe('ok 202');
    while (fns.waiting.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(await invoke(ME)).toBe('TooManyRequestsException 429 Rate Exceeded.');
    expect(await invoke(ME, 'Event')).toBe('TooManyRequestsException 429 Rate Exceeded.');
    fns.hold = false;
    expect(await invoke(OTHER)).toBe('ok 200');
    fns.release();
    expect(await running[0]).toBe('ok 200');
    expect(await invoke(ME)).toBe('ok 200');
  });

  it('gives the slot back when the invoke fails', async () => {
    for (let i = 0; i < 3; i++) {
      fns.failNext = true;
      expect(await invoke(ME)).toMatch(/^ServiceException 500/);
    }
    expect(await invoke(ME)).toBe('ok 200');
  });

  it('is reported by GetAccountSettings and set by PCLOUD_LIMIT_CONCURRENT_EXECUTIONS', async () => {
    expect((await cloud.functions.accountSettings(ME)).limits).toMatchObject({ concurrentExecutions: 2, unreservedConcurrentExecutions: 2 });
    expect(configFromEnv({}).limits.concurrentExecutions).toBe(100);
    expect(configFromEnv({ PCLOUD_LIMIT_CONCURRENT_EXECUTIONS: '7' }).limits.concurrentExecutions).toBe(7);
    expect(() => configFromEnv({ PCLOUD_LIMIT_CONCURRENT_EXECUTIONS: '0' })).toThrow(/^PCLOUD_LIMIT_CONCURRENT_EXECUTIONS must be a whole number/);
  });
});

describe('where nginx sends an Invoke (invokeSocket)', () => {
  const socketOf = (account: string) => fns.socketPath(cloud.functions.key(account, 'same', '$LATEST'));

  it('the signer\'s own function of that name, by name or by its ARN', async () => {
    expect((await cloud.functions.invokeSocket(ME, 'same', undefined))?.socket).toBe(socketOf(ME));
    expect(await cloud.functions.invokeSocket(OTHER, 'same', undefined)).toEqual({ socket: socketOf(OTHER), name: 'same', mode: 'per-request' });
    expect((await cloud.functions.invokeSocket(OTHER, `arn:aws:lambda:us-east-1:${OTHER}:function:same`, '$LATEST'))?.socket).toBe(socketOf(OTHER));
  });

  it('none (pcloud\'s API answers) for a name the account lacks, another account\'s ARN, a published version, a bad name', async () => {
    await clients.get(ME)!.send(new PublishVersionCommand({ FunctionName: 'same' }));
    for (const [account, ref, qualifier] of [
      [THIRD, 'same', undefined], [THIRD, 'missing', undefined], [THIRD, `arn:aws:lambda:us-east-1:${ME}:function:same`, undefined],
      [ME, `${OTHER}:function:same`, undefined], [ME, 'same', '1'], [ME, 'same:1', undefined], [ME, 'bad name', undefined],
    ] as const) {
      expect(await cloud.functions.invokeSocket(account, ref, qualifier), `${account} ${ref}`).toBeUndefined();
    }
  });

  it('the API answers a name the account lacks the same whether another account has it or not', async () => {
    const shown = (s: string) => s.replace(/missing|same/g, 'NAME');
    expect(shown(await invoke(THIRD))).toBe(shown(await clients.get(THIRD)!.send(new InvokeCommand({ FunctionName: 'missing' }))
      .then(() => 'ok', (e: Error & { $metadata?: { httpStatusCode?: number } }) => `${e.name} ${e.$metadata?.httpStatusCode} ${e.message}`)));
    expect(await invoke(THIRD)).toMatch(/^ResourceNotFoundException 404 /);
  });
});
