/**
 * nginx's authorization of an Invoke (/pcloud/lambda/authorize/invoke): the function is looked up in the SIGNER's
 * account, from the URI the client sent (name, ARN, qualifier), and its socket and account go back to nginx; a request
 * no key signed stops there (401) and nothing is looked up; a URI the API cannot read goes on to the API (no socket).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import aws4 from 'aws4';
import { startApi, type TestApi } from '../support/api.js';
import { NginxDriver } from '../../src/host/nginx.js';

const SECRET = 'b'.repeat(64);
let api: TestApi;
const looked: string[] = [];

beforeAll(async () => {
  api = await startApi();
  api.cloud.functions.attachNginx(new NginxDriver(api.units, mkdtempSync(join(tmpdir(), 'pcloud-nginx-')), '127.0.0.1:9', api.endpoint, SECRET));
  // The domain's answer (tested in lambda-concurrency.test.ts): here, each account has one function, `same`.
  api.cloud.functions.invokeSocket = async (account: string, ref: string, qualifier?: string) => {
    looked.push(`${account} ${ref} ${qualifier ?? '-'}`);
    return ref === 'same' && qualifier === undefined ? { socket: `/run/${account}-same.sock`, name: 'same', mode: 'warm' as const } : undefined;
  };
});
afterAll(() => api.close());

/** nginx's auth subrequest for a client's signed Invoke of `path` (as nginx passes it: method, URI, headers, no body; Host as the client sent it, here the API's). */
async function authorize(path: string, key: { accessKeyId: string; secretAccessKey: string }) {
  const body = '{}';
  const signed = aws4.sign({
    host: new URL(api.endpoint).host, path, method: 'POST', service: 'lambda', region: 'us-east-1', body,
    headers: { 'content-type': 'application/json', 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') },
  }, key);
  const headers = { ...(signed.headers as Record<string, string>), 'x-original-method': 'POST', 'x-original-uri': path, 'x-original-content-length': '2', 'x-pcloud-authorizer': SECRET };
  const res = await fetch(`${api.endpoint}/pcloud/lambda/authorize/invoke`, { headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-length')) });
  return { status: res.status, socket: res.headers.get('x-pcloud-socket'), account: res.headers.get('x-pcloud-account'), fn: res.headers.get('x-pcloud-function') };
}

describe('/pcloud/lambda/authorize/invoke', () => {
  it('names the signer\'s function: each account its own, by name or encoded ARN and qualifier', async () => {
    expect(await authorize('/2015-03-31/functions/same/invocations', api.key)).toEqual({ status: 204, socket: '/run/111111111111-same.sock', account: '111111111111', fn: '111111111111/same/warm' });
    const other = { accessKeyId: 'AKIDOTHER', secretAccessKey: 'other-secret' };
    expect(await authorize('/2015-03-31/functions/same/invocations', other)).toEqual({ status: 204, socket: '/run/222222222222-same.sock', account: '222222222222', fn: '222222222222/same/warm' });
    expect(await authorize('/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A111111111111%3Afunction%3Asame/invocations?Qualifier=%24LATEST', other))
      .toEqual({ status: 204, socket: null, account: null, fn: null });
    expect(looked.slice(-3)).toEqual(['111111111111 same -', '222222222222 same -', '222222222222 arn:aws:lambda:us-east-1:111111111111:function:same $LATEST']);
  });

  it('stops a request no key signed, looking nothing up; hands an unreadable URI to the API', async () => {
    const n = looked.length;
    expect(await authorize('/2015-03-31/functions/same/invocations', { ...api.key, secretAccessKey: 'wrong' })).toEqual({ status: 401, socket: null, account: null, fn: null });
    expect(looked).toHaveLength(n);
    expect(await authorize('/2015-03-31/functions/%E0%A4%A/invocations', api.key)).toEqual({ status: 204, socket: null, account: null, fn: null });
    expect(looked).toHaveLength(n);
  });
});
