/**
 * Lambda layers through @aws-sdk/client-lambda over a fake host (no units, no unzip): layer versions published,
 * numbered, listed (latest per layer, filters, paging), fetched by name or ARN and deleted as Lambda does; a function's
 * Layers (limits, ARNs, other accounts, deleted versions kept by their users) and its FunctionConfiguration.Layers;
 * layer zips counted in the account's code storage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import {
  type Architecture, type Runtime, CreateFunctionCommand, DeleteFunctionCommand, DeleteLayerVersionCommand, GetAccountSettingsCommand, GetFunctionConfigurationCommand,
  GetLayerVersionByArnCommand, GetLayerVersionCommand, LambdaClient, ListLayersCommand, ListLayerVersionsCommand, PublishLayerVersionCommand,
  PublishVersionCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { createApp } from '../../src/api/server.js';
import { Cloud } from '../../src/cloud/index.js';
import { PackageRefused } from '../../src/host/code-package.js';
import type { FunctionUnitOptions } from '../../src/host/index.js';
import { fakeHost } from '../support/fake-host.js';
import { FakeFunctionHost } from '../support/fake-functions.js';
import { lambdaRole } from '../support/roles.js';

const ME = '111111111111';
const OTHER = '222222222222';
/** The account's execution role (test/support/roles.ts), made through IAM. */
let ROLE = '';

/** The fake function host, with layers: content "unpacked" as a record of digests (the zip's size, ten times, unzipped). */
class LayeredHost extends FakeFunctionHost {
  readonly layerContent = new Map<string, number>();
  removed: string[] = [];
  refuseNextLayer?: Error;
  async unpackLayer(digest: string, zip: Buffer): Promise<number> {
    if (this.refuseNextLayer) {
      const e = this.refuseNextLayer;
      this.refuseNextLayer = undefined;
      throw e;
    }
    this.layerContent.set(digest, zip.length * 10);
    return zip.length * 10;
  }
  async removeLayer(digest: string): Promise<void> {
    this.layerContent.delete(digest);
    this.removed.push(digest);
  }
  /** What every function's code unzipped to. */
  codeSize = 1000;
  async codeBytes(): Promise<number> {
    return this.codeSize;
  }
}

let cloud: Cloud;
let fns: LayeredHost;
let lambda: LambdaClient;
let lambdaOther: LambdaClient;
let close: () => Promise<void>;

beforeAll(async () => {
  const { host } = await fakeHost();
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-layers-api-'));
  fns = new LayeredHost(dataDir);
  host.functions = fns;
  cloud = await Cloud.open({ dataDir, host });
  const key = await cloud.accounts.putKey({ accessKeyId: 'AKIDLAYERS', secretAccessKey: 'layers-secret', accountId: ME });
  const other = await cloud.accounts.putKey({ accessKeyId: 'AKIDLAYOTHER', secretAccessKey: 'layers-other', accountId: OTHER });
  await cloud.start();
  const server = serve({ fetch: createApp(cloud).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ROLE = await lambdaRole(endpoint, key);
  const client = (k: { accessKeyId: string; secretAccessKey: string }) => new LambdaClient({
    endpoint, region: 'us-east-1', credentials: { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey }, maxAttempts: 1,
  });
  lambda = client(key);
  lambdaOther = client(other);
  close = async () => {
    server.close();
    await cloud.close();
  };
});
afterAll(async () => { await close?.(); });

/** A "zip" of n bytes with a distinct body: the fake host does not unzip. */
const zip = (n = 64, fill = 1) => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(Math.max(0, n - 4), fill)]);

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as Error).name, message: (e as Error).message, status: (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode };
  }
  return { code: 'no error', message: '' };
}

const publish = (LayerName: string, extra: { fill?: number; runtimes?: string[]; archs?: string[]; client?: LambdaClient } = {}) =>
  (extra.client ?? lambda).send(new PublishLayerVersionCommand({
    LayerName, Content: { ZipFile: zip(64, extra.fill ?? 1) }, CompatibleRuntimes: extra.runtimes as Runtime[] | undefined, CompatibleArchitectures: extra.archs as Architecture[] | undefined,
  }));

const fn = (FunctionName: string, Layers?: string[]) => lambda.send(new CreateFunctionCommand({
  FunctionName, Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: zip() }, Layers,
}));

describe('layer versions', () => {
  it('publishes numbered versions with the ARNs, digest, size and date Lambda gives', async () => {
    const v1 = await lambda.send(new PublishLayerVersionCommand({
      LayerName: 'deps', Description: 'shared code', Content: { ZipFile: zip(64, 7) }, CompatibleRuntimes: ['python3.12'],
      CompatibleArchitectures: ['x86_64'], LicenseInfo: 'MIT',
    }));
    expect(v1.LayerArn).toBe(`arn:aws:lambda:us-east-1:${ME}:layer:deps`);
    expect(v1.LayerVersionArn).toBe(`arn:aws:lambda:us-east-1:${ME}:layer:deps:1`);
    expect(v1.Version).toBe(1);
    expect(v1.Content?.CodeSize).toBe(64);
    expect(v1.Content?.CodeSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(v1.CreatedDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    expect(v1).toMatchObject({ Description: 'shared code', CompatibleRuntimes: ['python3.12'], CompatibleArchitectures: ['x86_64'], LicenseInfo: 'MIT' });
    // By its ARN as LayerName too.
    const v2 = await publish(`arn:aws:lambda:us-east-1:${ME}:layer:deps`, { fill: 2 });
    expect(v2.Version).toBe(2);
    expect(v2.CompatibleRuntimes).toBeUndefined();
    expect(v2.LicenseInfo).toBeUndefined();
    const got = await lambda.send(new GetLayerVersionCommand({ LayerName: 'deps', VersionNumber: 1 }));
    expect(got).toMatchObject({ LayerVersionArn: v1.LayerVersionArn, Content: { CodeSha256: v1.Content?.CodeSha256, CodeSize: 64 } });
    const byArn = await lambda.send(new GetLayerVersionByArnCommand({ Arn: v2.LayerVersionArn }));
    expect(byArn.Version).toBe(2);
  });

  it('never reuses a deleted version\'s number; deleting is idempotent', async () => {
    await publish('counted');
    const v2 = await publish('counted', { fill: 3 });
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'counted', VersionNumber: 2 }));
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'counted', VersionNumber: 2 }));
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'never-was', VersionNumber: 9 }));
    expect((await errorOf(lambda.send(new GetLayerVersionByArnCommand({ Arn: v2.LayerVersionArn }))))).toMatchObject({ code: 'ResourceNotFoundException', status: 404 });
    expect((await publish('counted', { fill: 4 })).Version).toBe(3);
  });

  it('lists the latest matching version per layer, filtered and paged, and a layer\'s versions newest first', async () => {
    await publish('py', { runtimes: ['python3.11'], archs: ['x86_64'] });
    await publish('py', { runtimes: ['nodejs20.x'], archs: ['arm64'], fill: 5 });
    const all = await lambda.send(new ListLayersCommand({}));
    const py = all.Layers?.find((l) => l.LayerName === 'py');
    expect(py?.LayerArn).toBe(`arn:aws:lambda:us-east-1:${ME}:layer:py`);
    expect(py?.LatestMatchingVersion?.Version).toBe(2);
    const forPython = await lambda.send(new ListLayersCommand({ CompatibleRuntime: 'python3.11' }));
    expect(forPython.Layers?.map((l) => [l.LayerName, l.LatestMatchingVersion?.Version])).toEqual([['py', 1]]);
    const forArm = await lambda.send(new ListLayersCommand({ CompatibleArchitecture: 'arm64' }));
    expect(forArm.Layers?.map((l) => l.LayerName)).toEqual(['py']);
    const page = await lambda.send(new ListLayersCommand({ MaxItems: 1 }));
    expect(page.Layers).toHaveLength(1);
    expect(page.NextMarker).toBeTruthy();
    const next = await lambda.send(new ListLayersCommand({ MaxItems: 1, Marker: page.NextMarker }));
    expect(next.Layers?.[0]?.LayerName).not.toBe(page.Layers?.[0]?.LayerName);
    const versions = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'py' }));
    expect(versions.LayerVersions?.map((v) => v.Version)).toEqual([2, 1]);
    expect((await lambda.send(new ListLayerVersionsCommand({ LayerName: 'nothing-here' }))).LayerVersions).toEqual([]);
    // Another account sees none of them.
    expect((await lambdaOther.send(new ListLayersCommand({}))).Layers).toEqual([]);
  });

  it('refuses what Lambda refuses, in its words', async () => {
    expect(await errorOf(lambda.send(new PublishLayerVersionCommand({ LayerName: 'x', Content: { S3Bucket: 'b', S3Key: 'k' } }))))
      .toMatchObject({ code: 'InvalidParameterValueException', status: 400 });
    expect(await errorOf(lambda.send(new PublishLayerVersionCommand({ LayerName: 'x', Content: { ZipFile: Buffer.from('not a zip') } }))))
      .toMatchObject({ code: 'InvalidParameterValueException' });
    expect(await errorOf(publish('x', { archs: ['sparc'] }))).toMatchObject({ code: 'ValidationException' });
    expect(await errorOf(publish('bad name!'))).toMatchObject({ code: 'ValidationException' });
    expect(await errorOf(publish(`arn:aws:lambda:us-east-1:${OTHER}:layer:theirs`))).toMatchObject({ code: 'AccessDeniedException', status: 403 });
    fns.refuseNextLayer = new PackageRefused('Unzipped size must be smaller than 262144000 bytes');
    expect(await errorOf(publish('huge'))).toMatchObject({ code: 'InvalidParameterValueException', message: 'Unzipped size must be smaller than 262144000 bytes' });
    expect((await lambda.send(new ListLayerVersionsCommand({ LayerName: 'huge' }))).LayerVersions).toEqual([]);
  });

  it('counts layer zips in the account\'s code storage', async () => {
    const before = (await lambdaOther.send(new GetAccountSettingsCommand({}))).AccountUsage?.TotalCodeSize ?? 0;
    await publish('storage', { client: lambdaOther, fill: 9 });
    expect((await lambdaOther.send(new GetAccountSettingsCommand({}))).AccountUsage?.TotalCodeSize).toBe(before + 64);
  });
});

describe('a function\'s layers', () => {
  it('takes up to five layer versions in order, shows them as Layers, and runs with their contents in that order', async () => {
    const a = await publish('fa', { fill: 11 });
    const b = await publish('fb', { fill: 12 });
    const none = await fn('no-layers');
    expect(none.Layers).toBeUndefined();
    const f = await fn('layered', [b.LayerVersionArn!, a.LayerVersionArn!]);
    expect(f.Layers).toEqual([{ Arn: b.LayerVersionArn, CodeSize: 64 }, { Arn: a.LayerVersionArn, CodeSize: 64 }]);
    await lambda.send(new PublishVersionCommand({ FunctionName: 'layered' }));
    const conf = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'layered', Qualifier: '1' }));
    expect(conf.Layers?.map((l) => l.Arn)).toEqual([b.LayerVersionArn, a.LayerVersionArn]);
    // The unit is told the contents, in order.
    await cloud.functions.invoke(ME, 'layered', undefined, Buffer.from('{}'), { type: 'RequestResponse', tail: false });
    const unit = [...fns.units.values()].find((o: FunctionUnitOptions) => o.functionName === 'layered');
    expect(unit?.layers).toHaveLength(2);
    expect(unit?.layers?.every((d) => fns.layerContent.has(d))).toBe(true);
    // Removed by an empty list.
    const cleared = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'layered', Layers: [] }));
    expect(cleared.Layers).toBeUndefined();
  });

  it('refuses more than five, malformed ARNs, two versions of one layer, missing ones and other accounts\' layers', async () => {
    const v = await publish('lim', { fill: 21 });
    const six = Array.from({ length: 6 }, () => v.LayerVersionArn!);
    expect(await errorOf(fn('six', six))).toMatchObject({ code: 'InvalidParameterValueException', message: 'Cannot reference more than 5 layers.' });
    expect(await errorOf(fn('malformed', ['arn:aws:lambda:us-east-1:111111111111:layer:lim']))).toMatchObject({ code: 'ValidationException' });
    const v2 = await publish('lim', { fill: 22 });
    expect((await errorOf(fn('twice', [v.LayerVersionArn!, v2.LayerVersionArn!]))).message).toMatch(/^Two different versions of the same layer/);
    expect(await errorOf(fn('missing', [`arn:aws:lambda:us-east-1:${ME}:layer:lim:99`])))
      .toMatchObject({ code: 'InvalidParameterValueException', message: `Layer version arn:aws:lambda:us-east-1:${ME}:layer:lim:99 does not exist.` });
    const theirs = await publish('theirs', { client: lambdaOther, fill: 23 });
    expect(await errorOf(fn('borrowing', [theirs.LayerVersionArn!]))).toMatchObject({ code: 'AccessDeniedException', status: 403 });
    for (const name of ['six', 'malformed', 'twice', 'missing', 'borrowing']) {
      expect(await errorOf(lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name })))).toMatchObject({ code: 'ResourceNotFoundException' });
    }
  });

  it('refuses layers that with the function\'s code pass 250 MB unzipped, as Lambda says it', async () => {
    const v = await publish('big', { fill: 41 });
    await fn('tight');
    fns.codeSize = 262_144_000 - 100;
    try {
      expect(await errorOf(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'tight', Layers: [v.LayerVersionArn!] })))).toEqual({
        code: 'InvalidParameterValueException', status: 400,
        message: `Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is ${262_144_000 - 100 + 640} bytes.`,
      });
      expect((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'tight' }))).Layers).toBeUndefined();
    } finally {
      fns.codeSize = 1000;
    }
  });

  it('keeps a deleted layer version\'s content for the functions that use it, and lets it go with the last of them', async () => {
    const v = await publish('kept', { fill: 31 });
    await fn('keeper', [v.LayerVersionArn!]);
    const digest = [...fns.layerContent.keys()].at(-1)!;
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'kept', VersionNumber: 1 }));
    expect(fns.layerContent.has(digest)).toBe(true);
    const still = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'keeper' }));
    expect(still.Layers).toEqual([{ Arn: v.LayerVersionArn, CodeSize: 64 }]);
    // A new function cannot take a deleted version.
    expect((await errorOf(fn('late', [v.LayerVersionArn!]))).code).toBe('InvalidParameterValueException');
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'keeper' }));
    expect(fns.removed).toContain(digest);
  });
});
