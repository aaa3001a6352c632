/**
 * Lambda for real: functions in nodejs20.x, python3.12 and provided.al2023 (a shell bootstrap speaking the Runtime
 * API) created through the SDK, run by their socket units (systemd-socket-activate: a process per invoke with the
 * request on fd 3, or a warm worker that leaves when idle), invoked through pcloud's API and through pcloud's nginx
 * (auth_request to pcloud), with errors, timeouts, logs and environment as Lambda reports them. Handlers are tenants' code:
 * a hostile one (test/fixtures/hostile) proves it runs as a user of its own and reaches none of the host. Through nginx
 * an Invoke by name reaches the signer's own function, whatever other accounts name theirs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createConnection, createServer } from 'node:net';
import aws4 from 'aws4';
import {
  AddPermissionCommand, CreateAliasCommand, CreateFunctionCommand, CreateFunctionUrlConfigCommand, DeleteFunctionConcurrencyCommand, PutFunctionConcurrencyCommand, DeleteFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient,
  ListTagsCommand, ListVersionsByFunctionCommand, PublishVersionCommand, TagResourceCommand, UntagResourceCommand, UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CLI, CREDS, startReal, type RealServer } from '../support/real.js';
import { lambdaRole } from '../support/roles.js';
import { until } from '../support/api.js';
import { UNIT_MANAGER_ONLY } from '../support/tier.js';

let srv: RealServer;
let api: LambdaClient;
let viaNginx: LambdaClient;
let nginxBase: string;
/** The account's execution role (test/support/roles.ts), made through IAM. */
let ROLE = '';
const dir = mkdtempSync(join(tmpdir(), 'pcloud-fn-'));
const stamp = Date.now().toString(36);
const names: string[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

/** A deployment package from files (zip, as users make them). */
function zip(files: Record<string, string>, executable: string[] = []): Uint8Array {
  const d = mkdtempSync(join(dir, 'pkg-'));
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(d, name), text);
    if (executable.includes(name)) chmodSync(join(d, name), 0o755);
  }
  execFileSync('zip', ['-q', '-r', 'package.zip', ...Object.keys(files)], { cwd: d });
  return new Uint8Array(readFileSync(join(d, 'package.zip')));
}

// worker: one per process (a sandbox's PID namespace gives every process the same pid).
const NODE = `
const worker = crypto.randomUUID();
export const handler = async (event, context) => {
  console.log('node says', JSON.stringify(event));
  if (event.fail) throw new TypeError('node failed on purpose');
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  return { runtime: 'node', greeting: process.env.GREETING, event, requestId: context.awsRequestId, name: context.functionName,
    remaining: context.getRemainingTimeInMillis(), worker, version: 'v1' };
};`;
const PYTHON = `
import os
def handler(event, context):
    print("python says", event)
    if event.get("fail"):
        raise ValueError("python failed on purpose")
    if event.get("version") == "2.0":  # a function URL request
        return {"statusCode": 201, "headers": {"x-from": "python"}, "body": "path=" + event["rawPath"] + " body=" + event.get("body", "")}
    return {"runtime": "python", "greeting": os.environ.get("GREETING"), "event": event, "requestId": context.aws_request_id}
`;
const BOOTSTRAP = `#!/bin/sh
set -eu
while true; do
  H=$(mktemp)
  EVENT=$(curl -sS -D "$H" "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next")
  ID=$(grep -i lambda-runtime-aws-request-id "$H" | tr -d '\\r' | cut -d' ' -f2)
  echo "bootstrap handles $ID"
  case "$EVENT" in
    *fail*) curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/error" -d '{"errorMessage":"shell failed","errorType":"ShellError"}' >/dev/null ;;
    *) curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/response" -d "{\\"runtime\\":\\"provided\\",\\"greeting\\":\\"$GREETING\\",\\"event\\":$EVENT}" >/dev/null ;;
  esac
done
`;

async function create(name: string, runtime: string, handler: string, code: Uint8Array, extra: Record<string, unknown> = {}): Promise<string> {
  const full = `${name}-${stamp}`;
  names.push(full);
  await api.send(new CreateFunctionCommand({
    FunctionName: full, Runtime: runtime as never, Handler: handler, Role: ROLE, Code: { ZipFile: code },
    Environment: { Variables: { GREETING: `hello from ${name}` } }, ...extra,
  }));
  return full;
}

/** What a test handler answers (each sets the fields it knows), or Lambda's error object. */
type Answer = Record<string, unknown> & { event?: Record<string, unknown>; status?: Record<string, string>; requestId?: string };

async function invoke(client: LambdaClient, name: string, payload: unknown, extra: Record<string, unknown> = {}) {
  const r = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)), ...extra }));
  const text = r.Payload ? Buffer.from(r.Payload).toString() : '';
  return { ...r, text, json: (text ? JSON.parse(text) : {}) as Answer, log: r.LogResult ? Buffer.from(r.LogResult, 'base64').toString() : '' };
}

const systemd = existsSync('/run/systemd/system');

/** Another account, made the way an operator would: `pcloud credentials` with the key in the environment; its clients. */
function account(accountId: string, n: number) {
  const key = { accessKeyId: `AKIDPCLOUDTEST0000${n}`, secretAccessKey: `pcloud-test-secret-key-${n}` };
  execFileSync(process.execPath, [CLI, 'credentials', '--data', srv.dataDir], {
    env: { ...process.env, PCLOUD_ACCOUNT_ID: accountId, PCLOUD_ACCESS_KEY_ID: key.accessKeyId, PCLOUD_SECRET_ACCESS_KEY: key.secretAccessKey },
  });
  const client = (endpoint: string) => new LambdaClient({ endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1 });
  return { key, api: client(srv.endpoint), nginx: client(nginxBase) };
}

/** A request to a function URL signed with `key` (the payload hash declared, as nginx wants). */
async function signedUrlFetch(url: string, body: string, key: { accessKeyId: string; secretAccessKey: string }): Promise<Response> {
  const u = new URL(url);
  const signed = aws4.sign({
    host: u.host, path: u.pathname, method: 'POST', service: 'lambda', region: 'us-east-1', body,
    headers: { 'content-type': 'application/json', 'x-amz-content-sha256': (await import('node:crypto')).createHash('sha256').update(body).digest('hex') },
  }, key);
  return fetch(url, { method: 'POST', body, headers: signed.headers as Record<string, string> });
}

/** A function's units: systemd socket (and service) units where PID 1 is systemd, the direct manager's otherwise. */
function functionUnits(name: string): string[] {
  if (systemd) {
    return execFileSync('systemctl', ['list-units', '--all', '--plain', '--no-legend', `pcloud-fn-*-${name}-*`]).toString().split('\n').filter(Boolean);
  }
  return execFileSync('ls', [join(srv.dataDir, 'run/units')]).toString().split('\n').filter((u) => u.includes(`-${name}-`));
}

/** Where pcloud unpacked a function's code (its current revision). */
const codeDirOf = (name: string) => execFileSync('sh', ['-c', 'ls -d "$0"/functions/*/"$1"/*/', srv.dataDir, name]).toString().trim().split('\n')[0]!.replace(/\/$/, '');

/** A hostile handler of test/fixtures/hostile. */
const hostileCode = (file: string) => readFileSync(join(import.meta.dirname, '../fixtures/hostile', file), 'utf8');

/** Runtime processes of a function (its shims; not the socket activator, whose command line names them too). */
const shims = (name: string) => execFileSync('sh', ['-c', `pgrep -f -- '^[^ ]*(node|python3) .*--function=${name} ' || true`]).toString().trim().split('\n').filter(Boolean);

beforeAll(async () => {
  const port = await freePort();
  srv = await startReal({ env: { PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${port}`, PCLOUD_LAMBDA_IDLE_SEC: '2' } });
  nginxBase = `http://127.0.0.1:${port}`;
  const client = (endpoint: string, creds = CREDS) => new LambdaClient({ endpoint, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
  api = client(srv.endpoint);
  viaNginx = client(nginxBase);
  ROLE = await lambdaRole(srv.endpoint, CREDS);
  console.log(`Lambda: functions run as ${systemd ? 'systemd socket units' : 'systemd-socket-activate under the direct unit manager'}`);
});
afterAll(async () => {
  for (const n of names) await api?.send(new DeleteFunctionCommand({ FunctionName: n })).catch(() => undefined);
  await srv?.stop();
});

/**
 * Inside the systemd test node (test/host/node.test.ts) only what the unit manager changes runs again: the units, their
 * sandbox, scale to zero. What is the API's and nginx's alone (errors, routing, policies, counting, reloads, packages)
 * ran on the host.
 */
const onHostOnly = it.skipIf(UNIT_MANAGER_ONLY);

describe('Lambda', () => {
  let node: string;
  let py: string;
  let sh: string;

  it('creates functions in each runtime and invokes them through the API and through nginx', async () => {
    node = await create('node', 'nodejs20.x', 'index.handler', zip({ 'index.mjs': NODE }));
    py = await create('py', 'python3.12', 'app.handler', zip({ 'app.py': PYTHON }));
    sh = await create('sh', 'provided.al2023', 'unused', zip({ bootstrap: BOOTSTRAP }, ['bootstrap']));
    const f = await api.send(new GetFunctionCommand({ FunctionName: node }));
    expect([f.Configuration!.State, f.Configuration!.Runtime, f.Configuration!.Handler]).toEqual(['Active', 'nodejs20.x', 'index.handler']);
    for (const client of [api, viaNginx]) {
      const a = await invoke(client, node, { n: 1 });
      expect([a.StatusCode, a.FunctionError, a.ExecutedVersion]).toEqual([200, undefined, '$LATEST']);
      expect(a.json).toMatchObject({ runtime: 'node', greeting: 'hello from node', event: { n: 1 }, name: node });
      expect(a.json.remaining).toBeGreaterThan(0);
      const b = await invoke(client, py, { n: 2 });
      expect(b.json).toMatchObject({ runtime: 'python', greeting: 'hello from py', event: { n: 2 } });
      const c = await invoke(client, sh, { n: 3 });
      expect(c.json).toEqual({ runtime: 'provided', greeting: 'hello from sh', event: { n: 3 } });
    }
  }, 60_000);

  it('a function with a 64-character name (its socket path longer than sun_path takes) is invoked', async () => {
    const long = await create('l'.repeat(63 - stamp.length), 'nodejs20.x', 'index.handler', zip({ 'index.mjs': NODE }));
    expect(long).toHaveLength(64);
    for (const client of [api, viaNginx]) expect((await invoke(client, long, { n: 4 })).json).toMatchObject({ runtime: 'node', event: { n: 4 }, name: long });
  }, 60_000);

  it('reports handler errors, timeouts and logs as Lambda does', async () => {
    const n = await invoke(api, node, { fail: true });
    expect([n.StatusCode, n.FunctionError]).toEqual([200, 'Unhandled']);
    expect(n.json).toMatchObject({ errorType: 'TypeError', errorMessage: 'node failed on purpose' });
    const p = await invoke(viaNginx, py, { fail: true });
    expect(p.FunctionError).toBe('Unhandled');
    expect(p.json).toMatchObject({ errorType: 'ValueError', errorMessage: 'python failed on purpose' });
    const s = await invoke(api, sh, { fail: true });
    expect([s.FunctionError, s.json.errorType]).toEqual(['Unhandled', 'ShellError']);
    // LogType Tail: the invocation's own log, START to REPORT, with what the handler printed.
    const t = await invoke(api, node, { hello: 'log' }, { LogType: 'Tail' });
    expect(t.log).toMatch(new RegExp(`^START RequestId: ${t.json.requestId} Version: \\$LATEST\\n`));
    expect(t.log).toContain(`${t.json.requestId}\tINFO\tnode says {"hello":"log"}`);
    expect(t.log).toMatch(/REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB/);
    const tp = await invoke(viaNginx, py, { hello: 'log' }, { LogType: 'Tail' });
    expect(tp.log).toContain("python says {'hello': 'log'}");
    // A timeout: 1 s, a handler sleeping 3 s.
    await api.send(new UpdateFunctionConfigurationCommand({ FunctionName: node, Timeout: 1 }));
    const slow = await invoke(api, node, { sleep: 3000 });
    expect(slow.FunctionError).toBe('Unhandled');
    expect(slow.json.errorMessage).toMatch(/Task timed out after 1\.00 seconds/);
    await api.send(new UpdateFunctionConfigurationCommand({ FunctionName: node, Timeout: 3 }));
  }, 60_000);

  onHostOnly('answers Event, DryRun and bad requests in Lambda\'s own form', async () => {
    expect((await invoke(api, node, { n: 'event' }, { InvocationType: 'Event' })).StatusCode).toBe(202);
    expect((await invoke(api, node, {}, { InvocationType: 'DryRun' })).StatusCode).toBe(204);
    const err = (p: Promise<unknown>) => p.then(() => 'ok', (e: { name: string; $metadata?: { httpStatusCode?: number } }) => `${e.name} ${e.$metadata?.httpStatusCode}`);
    expect(await err(api.send(new GetFunctionCommand({ FunctionName: `missing-${stamp}` })))).toBe('ResourceNotFoundException 404');
    expect(await err(api.send(new CreateFunctionCommand({ FunctionName: node, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip({ 'index.mjs': NODE }) } })))).toBe('ResourceConflictException 409');
    expect(await err(api.send(new CreateFunctionCommand({ FunctionName: `bad-${stamp}`, Runtime: 'cobol85' as never, Handler: 'x', Role: ROLE, Code: { ZipFile: zip({ 'a.txt': 'x' }) } })))).toBe('ValidationException 400');
    expect(await err(api.send(new CreateFunctionCommand({ FunctionName: `bad-${stamp}`, Runtime: 'nodejs20.x', Handler: 'x', Role: ROLE, Code: { ZipFile: new Uint8Array([1, 2, 3]) } })))).toBe('InvalidParameterValueException 400');
    expect(await err(api.send(new InvokeCommand({ FunctionName: node, Payload: Buffer.alloc(6 * 1024 * 1024 + 10, 0x20) })))).toBe('RequestTooLargeException 413');
    expect(await err(api.send(new InvokeCommand({ FunctionName: node, Payload: Buffer.from('{not json') })))).toBe('InvalidRequestContentException 400');
    // Through nginx, a wrong signature stops at the proxy, in Lambda's form.
    const bad = new LambdaClient({ endpoint: nginxBase, region: 'us-east-1', credentials: { ...CREDS, secretAccessKey: 'wrong' }, maxAttempts: 1 });
    expect(await err(bad.send(new InvokeCommand({ FunctionName: node, Payload: Buffer.from('{}') })))).toBe('UnrecognizedClientException 403');
  }, 60_000);

  onHostOnly('through nginx, a name reaches the signer\'s own function: two accounts with the same name each get theirs, a third is answered as for a missing name', async () => {
    const second = account('111122223333', 2);
    const third = account('444455556666', 3);
    const twin = await create('twin', 'nodejs20.x', 'index.handler', zip({ 'index.mjs': NODE }));
    await second.api.send(new CreateFunctionCommand({
      FunctionName: twin, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: await lambdaRole(srv.endpoint, second.key), Code: { ZipFile: zip({ 'index.mjs': NODE }) },
      Environment: { Variables: { GREETING: 'hello from the second account' } },
    }));
    try {
      expect((await invoke(viaNginx, twin, { n: 1 })).json).toMatchObject({ greeting: 'hello from twin', event: { n: 1 } });
      expect((await invoke(second.nginx, twin, { n: 2 })).json).toMatchObject({ greeting: 'hello from the second account', event: { n: 2 } });
      expect((await invoke(second.nginx, `arn:aws:lambda:us-east-1:111122223333:function:${twin}`, { n: 3 })).json).toMatchObject({ greeting: 'hello from the second account' });
      // A third account: the name it does not have is not found, exactly as a name nobody has, and as on the API.
      const outcome = (p: Promise<unknown>) => p.then(() => 'invoked', (e: Error & { $metadata?: { httpStatusCode?: number } }) =>
        `${e.name} ${e.$metadata?.httpStatusCode} ${e.message.replace(twin, 'NAME').replace(`missing-${stamp}`, 'NAME')}`);
      const taken = await outcome(invoke(third.nginx, twin, {}));
      expect(taken).toBe('ResourceNotFoundException 404 Function not found: arn:aws:lambda:us-east-1:444455556666:function:NAME');
      expect(await outcome(invoke(third.nginx, `missing-${stamp}`, {}))).toBe(taken);
      expect(await outcome(invoke(third.api, twin, {}))).toBe(taken);
      // Another account's ARN: refused as the API refuses it, whether the function exists or not.
      const theirs = await outcome(invoke(third.nginx, `arn:aws:lambda:us-east-1:111122223333:function:${twin}`, {}));
      expect(theirs).toMatch(/^AccessDeniedException 403 /);
      expect(await outcome(invoke(third.api, `arn:aws:lambda:us-east-1:111122223333:function:${twin}`, {}))).toBe(theirs);
      expect(await outcome(invoke(third.nginx, `arn:aws:lambda:us-east-1:111122223333:function:missing-${stamp}`, {}))).toBe(theirs);
    } finally {
      await second.api.send(new DeleteFunctionCommand({ FunctionName: twin }));
    }
    // The first account's function stays reachable by name when the other's goes.
    expect((await invoke(viaNginx, twin, { n: 4 })).json).toMatchObject({ greeting: 'hello from twin', event: { n: 4 } });
  }, 60_000);

  onHostOnly('another account invokes a function and calls its AWS_IAM URL only where the resource policy allows it; aliases and reserved concurrency through nginx', async () => {
    const other = account('555566667777', 4);
    const owner = await create('shared', 'nodejs20.x', 'index.handler', zip({ 'index.mjs': NODE }));
    const arn = (await api.send(new GetFunctionCommand({ FunctionName: owner }))).Configuration!.FunctionArn!;
    const outcome = (p: Promise<unknown>) => p.then(() => 'invoked', (e: Error & { $metadata?: { httpStatusCode?: number } }) => `${e.name} ${e.$metadata?.httpStatusCode}`);
    for (const client of [other.nginx, other.api]) expect(await outcome(invoke(client, arn, {}))).toBe('AccessDeniedException 403');
    await api.send(new AddPermissionCommand({ FunctionName: owner, StatementId: 'other', Action: 'lambda:InvokeFunction', Principal: '555566667777' }));
    for (const client of [other.nginx, other.api]) expect((await invoke(client, arn, { from: 'other' })).json).toMatchObject({ greeting: 'hello from shared', event: { from: 'other' } });

    const { FunctionUrl } = await api.send(new CreateFunctionUrlConfigCommand({ FunctionName: owner, AuthType: 'AWS_IAM' }));
    expect((await signedUrlFetch(FunctionUrl!, '{}', CREDS)).status).toBe(200);
    expect((await signedUrlFetch(FunctionUrl!, '{}', other.key)).status).toBe(403);
    await api.send(new AddPermissionCommand({ FunctionName: owner, StatementId: 'url', Action: 'lambda:InvokeFunctionUrl', Principal: '555566667777', FunctionUrlAuthType: 'AWS_IAM' }));
    expect((await signedUrlFetch(FunctionUrl!, '{}', other.key)).status).toBe(200);

    // An alias, through nginx: its version runs (the API runs published versions).
    await api.send(new PublishVersionCommand({ FunctionName: owner }));
    await api.send(new CreateAliasCommand({ FunctionName: owner, Name: 'live', FunctionVersion: '1' }));
    expect((await invoke(viaNginx, owner, {}, { Qualifier: 'live' })).ExecutedVersion).toBe('1');
    expect((await invoke(viaNginx, `${arn}:live`, {})).ExecutedVersion).toBe('1');

    // Reserved concurrency 0: throttled through nginx as through the API.
    await api.send(new PutFunctionConcurrencyCommand({ FunctionName: owner, ReservedConcurrentExecutions: 0 }));
    for (const client of [viaNginx, api]) expect(await outcome(invoke(client, owner, {}))).toBe('TooManyRequestsException 429');
    await api.send(new DeleteFunctionConcurrencyCommand({ FunctionName: owner }));
    expect((await invoke(viaNginx, owner, { n: 1 })).json).toMatchObject({ event: { n: 1 } });
  }, 90_000);

  onHostOnly('a function with a reserved concurrency counts its URL requests with its Invokes (pcloud\'s API counts both): one running by URL throttles an Invoke and another URL request', async () => {
    const SLEEPER = `export const handler = async (event) => {
      const ms = Number(event.queryStringParameters?.sleep ?? event.sleep ?? 0);
      await new Promise((r) => setTimeout(r, ms));
      return event.rawPath === undefined ? { slept: ms } : { statusCode: 200, headers: { 'x-slept': String(ms) }, body: 'slept at ' + event.rawPath + ' ' + (event.body ?? '') };
    };`;
    const name = await create('counted', 'nodejs20.x', 'index.handler', zip({ 'index.mjs': SLEEPER }), { Timeout: 30 });
    await api.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 1 }));
    const { FunctionUrl } = await api.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }));
    const outcome = (p: Promise<unknown>) => p.then(() => 'invoked', (e: Error & { Reason?: string }) => `${e.name} ${e.Reason}`);
    // Through pcloud's API to the function, as nginx would pass it: the path and query under the URL, the body, the answer's headers.
    const quick = await fetch(`${FunctionUrl}a/b?sleep=0`, { method: 'POST', body: 'hi' });
    expect([quick.status, await quick.text(), quick.headers.get('x-slept')]).toEqual([200, 'slept at /a/b hi', '0']);
    // A long one holds the function's one slot; a quick one is throttled while it runs (had the quick one held the
    // slot just as the long one came, the long one was throttled instead: it is sent again).
    let long: Response | undefined;
    for (let attempt = 0; attempt < 5 && !long; attempt++) {
      const sent = fetch(`${FunctionUrl}long?sleep=6000`);
      let settled: Response | undefined;
      void sent.then((r) => { settled = r; }, () => undefined);
      let throttled: Response | undefined;
      await until(async () => {
        const r = await fetch(`${FunctionUrl}quick`);
        if (r.status === 429) throttled = r;
        else await r.arrayBuffer();
        return throttled !== undefined || settled !== undefined;
      }, 10_000, 50);
      if (!throttled || settled?.status === 429) {
        await (await sent).arrayBuffer();
        continue;
      }
      expect([throttled.headers.get('x-amzn-errortype'), (await throttled.json() as { Reason?: string }).Reason])
        .toEqual(['TooManyRequestsException', 'ReservedFunctionConcurrentInvocationLimitExceeded']);
      // An Invoke, through the API and through nginx, counts in the same slot.
      for (const client of [api, viaNginx]) expect(await outcome(invoke(client, name, {}))).toBe('TooManyRequestsException ReservedFunctionConcurrentInvocationLimitExceeded');
      long = await sent;
    }
    expect([long?.status, await long?.text()]).toEqual([200, 'slept at /long ']);
    // Once it has answered, the slot is free again: an Invoke runs.
    expect((await invoke(api, name, { sleep: 0 })).json).toEqual({ slept: 0 });
    await api.send(new DeleteFunctionCommand({ FunctionName: name }));
  }, 90_000);

  it('per-request functions leave no process; warm ones keep one worker until idle, then none (scale to zero)', async () => {
    // Earlier invokes (an Event one among them) have ended: nothing of the per-request function runs.
    await until(() => shims(node).length === 0, 5_000, 50);
    const warm = await create('warm', 'nodejs20.x', 'index.handler', zip({ 'index.mjs': NODE }), { Tags: { 'pcloud:invoke-mode': 'warm' } });
    const a = await invoke(api, warm, {});
    const b = await invoke(viaNginx, warm, {});
    expect(b.json.worker).toBe(a.json.worker);
    expect(shims(warm)).toHaveLength(1);
    // PCLOUD_LAMBDA_IDLE_SEC=2 here: the worker leaves, the socket stays.
    await until(() => shims(warm).length === 0, 15_000, 200);
    const c = await invoke(api, warm, {});
    expect(c.json.worker).not.toBe(a.json.worker);
    // A per-request function: a new process each time, none after.
    const x = await invoke(api, node, {});
    const y = await invoke(api, node, {});
    expect(x.json.worker).not.toBe(y.json.worker);
    await until(() => shims(node).length === 0, 5_000, 50);
  }, 60_000);

  it('per request, nothing of one invoke reaches another: module state and /tmp as the handler\'s load left them (Node, Python)', async () => {
    // A counter at module level, a file the load writes to /tmp, and one more written by every invoke.
    const counterNode = await create('count', 'nodejs20.x', 'index.handler', zip({ 'index.mjs': `
import { readdirSync, writeFileSync } from 'node:fs';
writeFileSync('/tmp/init', 'loaded');
let count = 0;
export const handler = async (event) => {
  count++;
  const tmp = readdirSync('/tmp').sort();
  writeFileSync('/tmp/req-' + Math.random(), 'x');
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  return { count, tmp };
};` }), { Timeout: 1 });
    const counterPy = await create('countpy', 'python3.12', 'app.handler', zip({ 'app.py': `
import os, random, time
open("/tmp/init", "w").write("loaded")
count = 0
def handler(event, context):
    global count
    count += 1
    tmp = sorted(os.listdir("/tmp"))
    open("/tmp/req-%f" % random.random(), "w").write("x")
    if event.get("sleep"):
        time.sleep(event["sleep"] / 1000)
    return {"count": count, "tmp": tmp}
` }), { Timeout: 1 });
    for (const name of [counterNode, counterPy]) {
      const one = async (client: LambdaClient) => (await invoke(client, name, {})).json;
      const seen = [await one(api), await one(viaNginx), await one(api), await one(viaNginx)];
      expect(seen, name).toEqual(Array(4).fill({ count: 1, tmp: ['init'] }));
      // At once too: each its own copy of the module.
      const many = await Promise.all(Array.from({ length: 6 }, () => invoke(viaNginx, name, {})));
      expect(many.map((r) => r.json.count), name).toEqual(Array(6).fill(1));
      // A request past its timeout is ended; the function's next requests are not held back by it.
      const [slow, fast] = await Promise.all([invoke(api, name, { sleep: 3000 }), invoke(api, name, {})]);
      expect(slow.json.errorMessage, name).toMatch(/Task timed out after 1\.00 seconds/);
      expect(fast.json.count, name).toBe(1);
      expect((await one(api)).count, name).toBe(1);
    }
  }, 60_000);

  it('code and configuration updates, versions and qualifiers', async () => {
    await api.send(new UpdateFunctionConfigurationCommand({ FunctionName: node, Environment: { Variables: { GREETING: 'changed' } } }));
    expect((await invoke(api, node, {})).json.greeting).toBe('changed');
    const v1 = await api.send(new PublishVersionCommand({ FunctionName: node }));
    expect(v1.Version).toBe('1');
    await api.send(new UpdateFunctionCodeCommand({ FunctionName: node, ZipFile: zip({ 'index.mjs': NODE.replace("version: 'v1'", "version: 'v2'") }) }));
    expect((await invoke(api, node, {})).json.version).toBe('v2');
    const old = await invoke(viaNginx, node, {}, { Qualifier: '1' });
    expect([old.json.version, old.ExecutedVersion]).toEqual(['v1', '1']);
    const versions = (await api.send(new ListVersionsByFunctionCommand({ FunctionName: node }))).Versions!.map((v) => v.Version);
    expect(versions).toEqual(['$LATEST', '1']);
  }, 60_000);

  it('tags: TagResource and UntagResource, the invoke-mode tag switching a function warm and back', async () => {
    const arn = (await api.send(new GetFunctionCommand({ FunctionName: node }))).Configuration!.FunctionArn!;
    await api.send(new TagResourceCommand({ Resource: arn, Tags: { team: 'a', 'pcloud:invoke-mode': 'warm' } }));
    expect((await api.send(new ListTagsCommand({ Resource: arn }))).Tags).toEqual({ team: 'a', 'pcloud:invoke-mode': 'warm' });
    const [a, b] = [await invoke(api, node, {}), await invoke(api, node, {})];
    expect(b.json.worker).toBe(a.json.worker);
    await api.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['pcloud:invoke-mode'] }));
    expect((await api.send(new ListTagsCommand({ Resource: arn }))).Tags).toEqual({ team: 'a' });
    const [c, d] = [await invoke(api, node, {}), await invoke(api, node, {})];
    expect(d.json.worker).not.toBe(c.json.worker);
  }, 60_000);

  onHostOnly('function URLs through nginx: NONE is open, AWS_IAM wants a signature', async () => {
    const open = await api.send(new CreateFunctionUrlConfigCommand({ FunctionName: py, AuthType: 'NONE' }));
    const res = await fetch(`${open.FunctionUrl}some/path?q=1`, { method: 'POST', body: '{"url":true}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-from')).toBe('python');
    expect(await res.text()).toBe('path=/some/path body={"url":true}');
    const closed = await api.send(new CreateFunctionUrlConfigCommand({ FunctionName: node, AuthType: 'AWS_IAM' }));
    expect((await fetch(closed.FunctionUrl!, { method: 'POST', body: '{}' })).status).toBe(403);
    const u = new URL(closed.FunctionUrl!);
    const body = '{"signed":true}';
    const signed = aws4.sign({
      host: u.host, path: u.pathname, method: 'POST', service: 'lambda', region: 'us-east-1', body,
      headers: { 'content-type': 'application/json', 'x-amz-content-sha256': (await import('node:crypto')).createHash('sha256').update(body).digest('hex') },
    }, CREDS);
    const ok = await fetch(closed.FunctionUrl!, { method: 'POST', body, headers: signed.headers as Record<string, string> });
    expect(ok.status).toBe(200);
    expect((JSON.parse(await ok.text()) as Answer).event?.body).toBe(body);
  }, 60_000);

  onHostOnly('nginx reloads on every change without dropping requests in flight', async () => {
    // Invokes keep going through nginx while functions come and go (each change rewrites the routes and reloads).
    // A reload closes idle keep-alive connections; a client that sends on one at that instant gets a reset before
    // the request reached anyone, which SDK clients retry (as against AWS): this client retries as the SDK does.
    const retrying = new LambdaClient({ endpoint: nginxBase, region: 'us-east-1', credentials: CREDS });
    let stop = false;
    const outcomes: string[] = [];
    const load = Promise.all(Array.from({ length: 4 }, async () => {
      while (!stop) outcomes.push(await invoke(retrying, py, {}).then((r) => (r.StatusCode === 200 && !r.FunctionError ? 'ok' : 'bad'), (e: Error) => e.name));
    }));
    // Each change (two reloads) waits for invokes answered since the one before, so requests are in flight around
    // every reload however fast this host answers them.
    const answered = (n: number) => until(() => outcomes.length >= n, 60_000, 20);
    for (let i = 0; i < 3; i++) {
      await answered(outcomes.length + 4);
      const extra = await create(`reload${i}`, 'python3.12', 'app.handler', zip({ 'app.py': PYTHON }));
      await answered(outcomes.length + 4);
      await api.send(new DeleteFunctionCommand({ FunctionName: extra }));
    }
    await answered(outcomes.length + 4);
    stop = true;
    await load;
    expect(outcomes.length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
  }, 120_000);

  it('a burst of 100 concurrent invokes through nginx all succeed', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => invoke(viaNginx, py, { i })));
    expect(results.filter((r) => r.StatusCode === 200 && !r.FunctionError && r.json.event?.i !== undefined)).toHaveLength(100);
    expect(new Set(results.map((r) => r.json.requestId)).size).toBe(100);
  }, 120_000);

  it('a hostile handler runs as a user of its own and can read or write none of the host, per request and warm', async () => {
    const pyHostile = await create('hostile', 'python3.12', 'app.handler', zip({ 'app.py': hostileCode('app.py') }));
    const nodeHostile = await create('hostilenode', 'nodejs20.x', 'index.handler', zip({ 'index.mjs': hostileCode('index.mjs') }));
    const probe = {
      // The host's secrets, pcloud's database (every account's keys), the data dir, another function's code, host dirs.
      read: ['/etc/shadow', join(srv.dataDir, 'pcloud.db'), srv.dataDir, join(srv.dataDir, 'functions'), codeDirOf(py), join(codeDirOf(py), 'app.py'),
        join(srv.dataDir, 'run'), '/root', '/run/pcloud', '/home'],
      write: ['/', '/etc', '/root', '/usr', '/usr/local/bin', srv.dataDir, join(srv.dataDir, 'functions'), dirname(codeDirOf(pyHostile)), '/var/task'],
    };
    const check = (r: Record<string, unknown>, what: string) => {
      const report = JSON.stringify(r);
      expect(r.uid, `${what}: ${report}`).toBeGreaterThanOrEqual(61184);
      expect(r.uid, `${what}: ${report}`).toBeLessThanOrEqual(65519);
      // No supplementary group (Node's getgroups() lists the effective one too).
      expect([r.gid, (r.groups as number[]).filter((g) => g !== r.uid)], what).toEqual([r.uid, []]);
      expect(r.read, what).toEqual(Object.fromEntries(probe.read.map((p) => [p, 'denied'])));
      expect(r.write, what).toEqual(Object.fromEntries(probe.write.map((p) => [p, 'denied'])));
      expect(r.tmp, what).toBe('WROTE');
      expect(r.status, what).toMatchObject({ NoNewPrivs: '1', Seccomp: '2', CapEff: '0000000000000000' });
    };
    for (const mode of ['per-request', 'warm']) {
      if (mode === 'warm') {
        for (const n of [pyHostile, nodeHostile]) {
          const arn = (await api.send(new GetFunctionCommand({ FunctionName: n }))).Configuration!.FunctionArn!;
          await api.send(new TagResourceCommand({ Resource: arn, Tags: { 'pcloud:invoke-mode': 'warm' } }));
        }
      }
      for (const client of [api, viaNginx]) {
        const p = await invoke(client, pyHostile, probe);
        expect(p.FunctionError, p.text).toBeUndefined();
        check(p.json, `python, ${mode}`);
        expect([p.json.mount, p.json.unshare, p.json.chroot, p.json.setuid0, p.json.ptrace, p.json.netlink], `python, ${mode}`).toEqual(Array(6).fill('denied'));
        expect(p.json.status?.CapBnd).toBe('0000000000000000');
        const n = await invoke(client, nodeHostile, probe);
        expect(n.FunctionError, n.text).toBeUndefined();
        check(n.json, `node, ${mode}`);
      }
    }
    // Two functions never share a user.
    expect((await invoke(api, pyHostile, {})).json.uid).not.toBe((await invoke(api, nodeHostile, {})).json.uid);
    // And the ordinary functions still work beside them.
    expect((await invoke(api, py, { n: 5 })).json).toMatchObject({ runtime: 'python', event: { n: 5 } });
  }, 120_000);

  it("a handler reaches none of the host's own services (its loopback, its main address), only DNS, pcloud's API and its nginx", async () => {
    // A service of the host's, listening on every address (a database, a daemon's control port would).
    const service = createServer((c) => { c.on('error', () => undefined); c.end(); });
    await new Promise<void>((r) => service.listen(0, '0.0.0.0', r));
    const port = (service.address() as { port: number }).port;
    try {
      const route = execFileSync('sh', ['-c', 'ip -o route get 192.0.2.1 2>/dev/null || true']).toString();
      const main = / src (\S+)/.exec(route)?.[1];
      const nginxPort = Number(new URL(nginxBase).port);
      const targets: [string, number][] = [['127.0.0.1', port], ...(main ? [[main, port] as [string, number]] : []), ['127.0.0.1', srv.port],
        ['127.0.0.1', nginxPort]];
      const fn = await create('netprobe', 'python3.12', 'app.handler', zip({ 'app.py': hostileCode('app.py') }));
      const r = await invoke(api, fn, { connect: targets });
      expect(r.FunctionError, r.text).toBeUndefined();
      expect(r.json.connect).toEqual({
        [`127.0.0.1:${port}`]: 'refused', ...(main ? { [`${main}:${port}`]: 'refused' } : {}), [`127.0.0.1:${srv.port}`]: 'open',
        [`127.0.0.1:${nginxPort}`]: 'open',
      });
      // The host itself (root) reaches its service as before.
      await new Promise<void>((resolve, reject) => {
        const c = createConnection({ host: '127.0.0.1', port }, () => { c.destroy(); resolve(); });
        c.on('error', reject);
      });
    } finally {
      service.close();
    }
  }, 120_000);

  onHostOnly('a zip bomb (over Lambda\'s 262144000 unzipped bytes) is refused as AWS does, and no upload leaves anything behind', async () => {
    // 270 MB of zeros, deflated to a few hundred KB.
    const bomb = new Uint8Array(execFileSync('sh', ['-c', 'head -c 270000000 /dev/zero | zip -q - -'], { maxBuffer: 64 * 2 ** 20 }));
    expect(bomb.length).toBeLessThan(2 * 2 ** 20);
    const err = await api.send(new CreateFunctionCommand({ FunctionName: `bomb-${stamp}`, Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: bomb } }))
      .then(() => undefined, (e: { name: string; message: string }) => e);
    expect(err?.name).toBe('InvalidParameterValueException');
    expect(err?.message).toContain('Unzipped size must be smaller than 262144000 bytes');
    const err2 = await api.send(new UpdateFunctionCodeCommand({ FunctionName: py, ZipFile: bomb })).then(() => undefined, (e: { name: string }) => e.name);
    expect(err2).toBe('InvalidParameterValueException');
    expect((await invoke(api, py, { n: 6 })).json).toMatchObject({ runtime: 'python', event: { n: 6 } });
    // Only finished code dirs are left: no temporary directory or zip of any upload.
    expect(execFileSync('sh', ['-c', 'find "$0"/functions -mindepth 3 -maxdepth 3 -name "*.tmp*"', srv.dataDir]).toString()).toBe('');
  }, 120_000);

  it('deleting a function removes its unit, socket and code', async () => {
    const gone = await create('gone', 'python3.12', 'app.handler', zip({ 'app.py': PYTHON }));
    await invoke(api, gone, {});
    expect(functionUnits(gone).length).toBeGreaterThanOrEqual(1);
    await api.send(new DeleteFunctionCommand({ FunctionName: gone }));
    expect(functionUnits(gone)).toEqual([]);
    expect(execFileSync('sh', ['-c', `ls ${join(srv.dataDir, 'run/lambda')} | grep -c -- '-${gone}-' || true`]).toString().trim()).toBe('0');
    expect(execFileSync('sh', ['-c', `find ${join(srv.dataDir, 'functions')} -maxdepth 2 -name '${gone}' | wc -l`]).toString().trim()).toBe('0');
  }, 60_000);
});
