/**
 * Fat lambdas in the domain (src/cloud/functions/fat-lambda.ts) over the state files of src/host/fat-lambda-state.ts:
 * opening a console function's URL starts its VM and restarts the idle count; the sweep stops the VM once its console
 * has been idle past its idle time, never while a websocket is open. Times are given, never waited for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../src/db/index.js';
import { wakeupsOf } from '../../src/db/wakeups.js';
import { configFromEnv } from '../../src/cloud/config.js';
import { Functions, type ConsoleTargets } from '../../src/cloud/functions/index.js';
import { functionIdentity } from '../../src/cloud/functions/iam-bridge.js';
import { Accounts } from '../../src/cloud/accounts.js';
import { Iam } from '../../src/cloud/iam/index.js';
import { roleArn } from '../../src/cloud/iam/roles.js';
import { Tags } from '../../src/cloud/tags.js';
import { FatLambdaState } from '../../src/host/fat-lambda-state.js';
import type { FunctionRoute, NginxDriver } from '../../src/host/nginx.js';
import { FakeFunctionHost } from '../support/fake-functions.js';
import { LAMBDA_TRUST } from '../support/roles.js';

const ME = '111111111111';
const VM = 'i-0123456789abcdef0';
/** The account's execution role, a real one of its IAM (test/support/roles.ts' trust policy). */
let ROLE = '';
const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(60, 1)]);

/** The instances as fat lambdas see them: which run, which were started and stopped. */
class FakeConsoles implements ConsoleTargets {
  readonly running = new Set<string>();
  readonly started: string[] = [];
  readonly stopped: string[] = [];
  vncPath(_accountId: string, instanceId: string): string { return `/run/vnc/${instanceId}.sock`; }
  ensureRunning(_accountId: string, instanceId: string): Promise<void> {
    this.started.push(instanceId);
    this.running.add(instanceId);
    return Promise.resolve();
  }
  stop(_accountId: string, instanceId: string): Promise<void> {
    this.stopped.push(instanceId);
    this.running.delete(instanceId);
    return Promise.resolve();
  }
  isRunning(_accountId: string, instanceId: string): Promise<boolean> { return Promise.resolve(this.running.has(instanceId)); }
  owns(accountId: string, instanceId: string): Promise<boolean> { return Promise.resolve(accountId === ME && instanceId === VM); }
}

let dir: string;
let fns: Functions;
let host: FakeFunctionHost;
const consoles = new FakeConsoles();
const state = new FatLambdaState();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pcloud-fat-'));
  await mkdir(join(dir, 'run'));
  const db = openDb(':memory:');
  host = new FakeFunctionHost(dir);
  const config = configFromEnv({});
  const iam = new Iam(db, new Accounts(db), config, wakeupsOf(db));
  ROLE = roleArn(await iam.roles.create(ME, { name: 'lambda-role', assumeRolePolicy: LAMBDA_TRUST }));
  fns = new Functions(db, host, config, new Tags(db), consoles, state, functionIdentity(iam));
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('fat lambdas', () => {
  it('opening starts the VM; the sweep stops it once idle past its time, not while a websocket is open', async () => {
    await fns.create(ME, 'console', { runtime: 'nodejs20.x', handler: 'index.handler', role: ROLE, environment: { PCLOUD_CONSOLE_INSTANCE: VM, PCLOUD_CONSOLE_IDLE_SEC: '60' } }, zip, false);
    const file = state.fileFor(host.socketPath(fns.key(ME, 'console', '$LATEST')));
    expect(file).toMatch(/\.console\.json$/);

    await fns.opening(ME, 'console');
    expect(consoles.started).toEqual([VM]);
    const opened = await state.read(file);
    expect(opened).toMatchObject({ connections: 0 });
    const t0 = opened!.lastActive;

    await fns.sweepConsoles(t0 + 59_000);
    expect(consoles.stopped).toEqual([]);

    // The proxy reports an open websocket: never stopped, however long ago the last activity was.
    await writeFile(file, JSON.stringify({ pid: 1, connections: 1, lastActive: t0 }));
    await fns.sweepConsoles(t0 + 3_600_000);
    expect(consoles.stopped).toEqual([]);

    await writeFile(file, JSON.stringify({ pid: 1, connections: 0, lastActive: t0 }));
    await fns.sweepConsoles(t0 + 61_000);
    expect(consoles.stopped).toEqual([VM]);
    expect(existsSync(file)).toBe(false);

    // Nothing written since: nothing to stop.
    await fns.sweepConsoles(t0 + 3_600_000);
    expect(consoles.stopped).toEqual([VM]);
  });

  it('a console function may only name an instance of its own account', async () => {
    await expect(fns.create(ME, 'other-vm', { runtime: 'nodejs20.x', handler: 'index.handler', role: ROLE, environment: { PCLOUD_CONSOLE_INSTANCE: 'i-00000000000000000' } }, zip, false))
      .rejects.toMatchObject({ code: 'InvalidParameterValueException' });
  });
});

describe('a function becoming a console function', () => {
  it('UpdateFunctionConfiguration that adds or removes the console variable changes its route', async () => {
    let routes: FunctionRoute[] = [];
    fns.attachNginx({ sync: (r: FunctionRoute[]) => { routes = r; return Promise.resolve(); }, close: () => undefined } as unknown as NginxDriver);
    const route = () => routes.find((r) => r.name === 'becomes-console');
    await fns.create(ME, 'becomes-console', { runtime: 'nodejs20.x', handler: 'index.handler', role: ROLE }, zip, false);
    await fns.syncRoutes();
    expect(route()).toMatchObject({ console: false });
    await fns.updateConfiguration(ME, 'becomes-console', { environment: { PCLOUD_CONSOLE_INSTANCE: VM } });
    expect(route()).toMatchObject({ console: true });
    await fns.updateConfiguration(ME, 'becomes-console', { environment: {} });
    expect(route()).toMatchObject({ console: false });
    // A qualifier in the name (as before: the configuration is $LATEST's) changes the route too.
    await fns.updateConfiguration(ME, 'becomes-console:7', { environment: { PCLOUD_CONSOLE_INSTANCE: VM } });
    expect(route()).toMatchObject({ console: true });
    expect((await fns.get(ME, 'becomes-console')).environment).toEqual({ PCLOUD_CONSOLE_INSTANCE: VM });
  });
});

describe('fat lambda state files', () => {
  it('sit beside the socket; a missing, damaged or foreign file is no state', async () => {
    expect(state.fileFor('/run/lambda/a-b-latest.sock')).toBe('/run/lambda/a-b-latest.console.json');
    const file = join(dir, 'state.console.json');
    expect(await state.read(file)).toBeUndefined();
    for (const bad of ['{', 'null', '[]', '{"connections":"1","lastActive":2}', '{"connections":0}']) {
      await writeFile(file, bad);
      expect(await state.read(file), bad).toBeUndefined();
    }
    await state.opened(file, 1234);
    expect(await state.read(file)).toEqual({ connections: 0, lastActive: 1234 });
    await state.clear(file);
    await state.clear(file);
    expect(existsSync(file)).toBe(false);
  });
});
