/**
 * Lambda layers for real: layer zips published through the SDK, unpacked once on the host, and a function's layers
 * merged in order at /opt in its sandbox (read-only), with the runtimes' paths into it: a Python function imports a
 * module from /opt/python, a Node function requires one from /opt/nodejs/node_modules, per request and warm. A deleted
 * layer version keeps working for the functions that use it; a hostile layer zip is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CreateFunctionCommand, DeleteFunctionCommand, DeleteLayerVersionCommand, InvokeCommand, LambdaClient, PublishLayerVersionCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CREDS, freePort, startReal, type RealServer } from '../support/real.js';
import { lambdaRole } from '../support/roles.js';

let srv: RealServer;
let api: LambdaClient;
/** The account's execution role (test/support/roles.ts), made through IAM. */
let ROLE = '';
const dir = mkdtempSync(join(tmpdir(), 'pcloud-layers-'));
const stamp = Date.now().toString(36);
const names: string[] = [];

/** A zip from files (a value starting with '->' is a symbolic link to the rest). */
function zip(files: Record<string, string>): Uint8Array {
  const d = mkdtempSync(join(dir, 'pkg-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(d, name)), { recursive: true });
    if (text.startsWith('->')) symlinkSync(text.slice(2), join(d, name));
    else writeFileSync(join(d, name), text);
  }
  execFileSync('zip', ['-q', '-r', '-y', 'p.zip', ...Object.keys(files)], { cwd: d });
  return new Uint8Array(readFileSync(join(d, 'p.zip')));
}

const PYTHON = `
import mod, only_a
def handler(event, context):
    try:
        open("/opt/python/mod.py", "a")
        wrote = "wrote"
    except OSError:
        wrote = "denied"
    return {"x": mod.X, "a": only_a.A, "write": wrote}
`;

const NODE = `
const greet = require('greet');
const fs = require('node:fs');
exports.handler = async () => {
  let write = 'wrote';
  try { fs.writeFileSync('/opt/nodejs/node_modules/greet/index.js', 'x'); } catch { write = 'denied'; }
  return { greeting: greet('layers'), write };
};`;

async function invoke(name: string): Promise<Record<string, unknown>> {
  const r = await api.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{}') }));
  const text = Buffer.from(r.Payload ?? []).toString();
  if (r.FunctionError) throw new Error(`${name}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

async function create(name: string, runtime: string, handler: string, code: Uint8Array, layers: string[], warm: boolean): Promise<string> {
  const full = `${name}-${stamp}`;
  names.push(full);
  await api.send(new CreateFunctionCommand({
    FunctionName: full, Runtime: runtime as never, Handler: handler, Role: ROLE, Code: { ZipFile: code }, Layers: layers,
    ...(warm ? { Tags: { 'pcloud:invoke-mode': 'warm' } } : {}),
  }));
  return full;
}

beforeAll(async () => {
  const port = await freePort();
  srv = await startReal({ env: { PCLOUD_LAMBDA_LISTEN: process.env.PCLOUD_LAMBDA_LISTEN ?? `127.0.0.1:${port}`, PCLOUD_LAMBDA_IDLE_SEC: '2' } });
  api = new LambdaClient({ endpoint: srv.endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  ROLE = await lambdaRole(srv.endpoint, CREDS);
});
afterAll(async () => {
  for (const n of names) await api?.send(new DeleteFunctionCommand({ FunctionName: n })).catch(() => undefined);
  await srv?.stop();
});

describe('Lambda layers', () => {
  let a: string;
  let b: string;
  let nodeLayer: string;

  it('publishes layers from zips', async () => {
    a = (await api.send(new PublishLayerVersionCommand({ LayerName: `a-${stamp}`, Content: { ZipFile: zip({ 'python/mod.py': 'X = "a"\n', 'python/only_a.py': 'A = "only in a"\n' }) } }))).LayerVersionArn!;
    b = (await api.send(new PublishLayerVersionCommand({ LayerName: `b-${stamp}`, Content: { ZipFile: zip({ 'python/mod.py': 'X = "b"\n' }) } }))).LayerVersionArn!;
    nodeLayer = (await api.send(new PublishLayerVersionCommand({
      LayerName: `node-${stamp}`, Content: { ZipFile: zip({ 'nodejs/node_modules/greet/index.js': 'module.exports = (n) => `hello ${n} from a layer`;\n' }) },
    }))).LayerVersionArn!;
    expect(b).toMatch(/:layer:b-.*:1$/);
  });

  for (const warm of [false, true]) {
    const mode = warm ? 'warm' : 'per-request';
    it(`a Python function imports from its layers at /opt, later layers first, and cannot write there (${mode})`, async () => {
      const fn = await create(`py-${mode}`, 'python3.12', 'app.handler', zip({ 'app.py': PYTHON }), [a, b], warm);
      expect(await invoke(fn)).toEqual({ x: 'b', a: 'only in a', write: 'denied' });
      expect(await invoke(fn)).toEqual({ x: 'b', a: 'only in a', write: 'denied' });
    }, 60_000);

    it(`a Node function requires a module from /opt/nodejs/node_modules, read-only (${mode})`, async () => {
      const fn = await create(`node-${mode}`, 'nodejs20.x', 'index.handler', zip({ 'index.js': NODE }), [nodeLayer], warm);
      expect(await invoke(fn)).toEqual({ greeting: 'hello layers from a layer', write: 'denied' });
    }, 60_000);
  }

  it('a deleted layer version keeps working for the functions that use it (started again too)', async () => {
    const fn = `py-per-request-${stamp}`;
    await api.send(new DeleteLayerVersionCommand({ LayerName: `b-${stamp}`, VersionNumber: 1 }));
    await api.send(new DeleteLayerVersionCommand({ LayerName: `a-${stamp}`, VersionNumber: 1 }));
    // A configuration change starts its unit again.
    await api.send(new UpdateFunctionConfigurationCommand({ FunctionName: fn, Description: 'after its layers were deleted' }));
    expect(await invoke(fn)).toEqual({ x: 'b', a: 'only in a', write: 'denied' });
  }, 60_000);

  it('a hostile layer zip (a link out of it) is refused as AWS refuses a bad package', async () => {
    const err = await api.send(new PublishLayerVersionCommand({ LayerName: `evil-${stamp}`, Content: { ZipFile: zip({ 'python/x': '->/etc/shadow' }) } }))
      .then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe('InvalidParameterValueException');
    expect(err?.message).toMatch(/symbolic link out of the package/);
    expect(err?.message).not.toContain(srv.dataDir);
  });
});
