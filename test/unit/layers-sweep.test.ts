/**
 * A host's sweep of layer contents (issue 17: a layer's last user may be deleted through another host's server, which
 * removes the content from its own disk only): what nothing names any more goes from this host, by the layers' digest
 * members only (a digest in a tenant's text names nothing); what a layer version or a function's layers name stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { functions, lambdaLayerVersions } from '../../src/db/tables.js';
import { startApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(() => api?.close());

const digestOf = (text: string) => createHash('sha256').update(text).digest('hex');

describe("a host's layer contents", () => {
  it('are removed when nothing names them; kept while a layer version or a function\'s layers do', async () => {
    const [byVersion, byFunction, byText, byNothing] = ['version', 'function', 'text', 'nothing'].map(digestOf) as [string, string, string, string];
    const now = Date.now();
    await api.cloud.db.insert(lambdaLayerVersions).values({
      accountId: '111111111111', name: 'kept', version: 1, compatibleRuntimes: [], compatibleArchitectures: [],
      codeSha256: Buffer.from(byVersion, 'hex').toString('base64'), digest: byVersion, codeSize: 1, unzippedSize: 1, createdAt: now,
    });
    await api.cloud.db.insert(functions).values({
      accountId: '111111111111', name: 'uses', runtime: 'nodejs20.x', handler: 'index.handler', role: 'arn:aws:iam::111111111111:role/r',
      description: byText, memoryMiB: 128, timeoutSec: 3, environment: { TEXT: byText }, mode: 'per-request', codeSha256: 'x', codeSize: 1,
      revision: 'r', layers: [{ arn: 'arn:aws:lambda:us-east-1:111111111111:layer:gone:1', codeSize: 1, digest: byFunction, unzippedSize: 1 }],
      createdAt: now, updatedAt: now,
    });
    const here = new Set([byVersion, byFunction, byText, byNothing]);
    api.functions.layerDigests = () => Promise.resolve([...here]);
    api.functions.removeLayer = (digest: string) => { here.delete(digest); return Promise.resolve(); };
    await api.cloud.functions.layers.sweep();
    expect([...here].sort()).toEqual([byVersion, byFunction].sort());
  });
});
