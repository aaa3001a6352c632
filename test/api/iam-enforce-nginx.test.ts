/**
 * Through nginx (its auth_request to pcloud): an IAM user's Invoke gets the function's socket only when its policies
 * allow lambda:InvokeFunction on that function (else no socket: the API answers it, AccessDeniedException); an
 * AWS_IAM function URL lets a user through only with lambda:InvokeFunctionUrl; the client's address (nginx's
 * X-Pcloud-Client-IP) is aws:SourceIp.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import aws4 from 'aws4';
import { startApi, type TestApi } from '../support/api.js';
import { NginxDriver } from '../../src/host/nginx.js';
import { doc, userWithKey, type TestKey } from '../support/iam-access.js';

const SECRET = 'c'.repeat(64);
const ACCOUNT = '111111111111';
let api: TestApi;
const looked: string[] = [];

beforeAll(async () => {
  api = await startApi();
  api.cloud.functions.attachNginx(new NginxDriver(api.units, mkdtempSync(join(tmpdir(), 'pcloud-nginx-')), '127.0.0.1:9', api.endpoint, SECRET));
  api.cloud.functions.invokeSocket = async (account: string, ref: string) => {
    looked.push(`${account} ${ref}`);
    return { socket: `/run/${account}-${ref}.sock`, name: ref, mode: 'per-request' as const };
  };
  api.cloud.functions.opening = async () => {};
});
afterAll(() => api.close());

/** nginx's auth subrequest for a client's signed request of `path` (method, URI, headers; no body). */
async function authorize(what: string, path: string, key: TestKey, client = '127.0.0.1') {
  const body = '{}';
  const signed = aws4.sign({
    host: new URL(api.endpoint).host, path, method: 'POST', service: 'lambda', region: 'us-east-1', body,
    headers: { 'content-type': 'application/json', 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') },
  }, key);
  const headers = {
    ...(signed.headers as Record<string, string>), 'x-original-method': 'POST', 'x-original-uri': path, 'x-original-content-length': '2',
    'x-pcloud-authorizer': SECRET, 'x-pcloud-client-ip': client,
  };
  const res = await fetch(`${api.endpoint}/pcloud/lambda/authorize/${what}`, { headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-length')) });
  return { status: res.status, socket: res.headers.get('x-pcloud-socket') };
}

async function policy(user: string, name: string, document: string) {
  const arn = (await api.cloud.iam.policies.create(ACCOUNT, { name, path: '/', document })).arn;
  await api.cloud.iam.policies.attach(ACCOUNT, 'user', user, arn);
}

describe('nginx: Invoke by an IAM user', () => {
  it('gets the socket only for a function its policies let it invoke (from an address they allow)', async () => {
    const u = await userWithKey(api.cloud, ACCOUNT, 'invoker');
    await policy('invoker', 'invoke-a', doc([{ Action: 'lambda:InvokeFunction', Resource: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:a`, Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }]));
    expect(await authorize('invoke', '/2015-03-31/functions/a/invocations', u)).toEqual({ status: 204, socket: `/run/${ACCOUNT}-a.sock` });
    const n = looked.length;
    expect(await authorize('invoke', '/2015-03-31/functions/b/invocations', u)).toEqual({ status: 204, socket: null });
    expect(await authorize('invoke', '/2015-03-31/functions/a/invocations', u, '192.0.2.1')).toEqual({ status: 204, socket: null });
    // Refused: nothing looked up (the API answers the request, AccessDeniedException).
    expect(looked).toHaveLength(n);
    expect(await authorize('invoke', '/2015-03-31/functions/a/invocations', api.key, '192.0.2.1')).toEqual({ status: 204, socket: `/run/${ACCOUNT}-a.sock` });
  });
});

describe('nginx: an AWS_IAM function URL', () => {
  const url = `/url/${'0'.repeat(32)}/`;
  it('lets a user through only with lambda:InvokeFunctionUrl on the function; root always', async () => {
    const u = await userWithKey(api.cloud, ACCOUNT, 'url-user');
    expect((await authorize(`url/${ACCOUNT}/fn/AWS_IAM`, url, u)).status).toBe(401);
    await policy('url-user', 'url-fn', doc([{ Action: 'lambda:InvokeFunctionUrl', Resource: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:fn`, Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } } }]));
    expect((await authorize(`url/${ACCOUNT}/fn/AWS_IAM`, url, u)).status).toBe(204);
    expect((await authorize(`url/${ACCOUNT}/other/AWS_IAM`, url, u)).status).toBe(401);
    expect((await authorize(`url/${ACCOUNT}/other/AWS_IAM`, url, api.key)).status).toBe(204);
  });
});
