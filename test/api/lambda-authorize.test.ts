/**
 * nginx's authorization endpoint answers nginx only: called directly (as any client can reach pcloud's API), it is not
 * there, with or without a guessed secret, whether the function exists or not, and it starts nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type TestApi } from '../support/api.js';
import { NginxDriver } from '../../src/host/nginx.js';
import { CloudError } from '../../src/cloud/errors.js';

const SECRET = 'a'.repeat(64);
let api: TestApi;
const opened: string[] = [];

beforeAll(async () => {
  api = await startApi();
  api.cloud.functions.attachNginx(new NginxDriver(api.units, mkdtempSync(join(tmpdir(), 'pcloud-nginx-')), '127.0.0.1:9', api.endpoint, SECRET));
  // Opening a URL is what starts a fat lambda's VM: recorded here, and a missing function is refused as the domain does.
  api.cloud.functions.opening = async (_account: string, name: string) => {
    opened.push(name);
    if (name !== 'exists') throw new CloudError('ResourceNotFoundException', `Function not found: ${name}`);
  };
});
afterAll(() => api.close());

/** An answer, its request id left out (each answer has its own). */
const answer = async (res: Response) => ({ status: res.status, body: (await res.text()).replace(/<RequestID>[^<]*<\/RequestID>/, '') });
const ask = async (name: string, headers: Record<string, string> = {}) =>
  answer(await fetch(`${api.endpoint}/pcloud/lambda/authorize/url/111111111111/${name}/NONE`, { headers }));

describe('/pcloud/lambda/authorize', () => {
  it('is not there for a client: the same answer for an existing and a missing function, nothing opened', async () => {
    const wrong: Record<string, string>[] = [{}, { 'x-pcloud-authorizer': 'guess' }, { 'x-pcloud-authorizer': SECRET.slice(1) }, { 'x-pcloud-authorizer': '' }];
    for (const headers of wrong) {
      const existing = await ask('exists', headers);
      const missing = await ask('missing', headers);
      expect(existing).toEqual(missing);
      expect(existing.status).not.toBe(204);
      // As for any path nobody may call unsigned.
      const other = await fetch(`${api.endpoint}/pcloud/no-such-path/url/111111111111/exists/NONE`, { headers });
      expect(existing).toEqual(await answer(other));
    }
    expect(opened).toEqual([]);
  });

  it('answers nginx (the secret) and opens the function', async () => {
    expect((await ask('exists', { 'x-pcloud-authorizer': SECRET })).status).toBe(204);
    expect((await ask('missing', { 'x-pcloud-authorizer': SECRET })).status).toBe(403);
    expect(opened).toEqual(['exists', 'missing']);
  });

  it('the URL relay (nginx/function-url-relayed.conf) is not there for a client either: answered as an unknown path, nothing relayed', async () => {
    const relayed: string[] = [];
    const relayUrl = api.cloud.functions.relayUrl.bind(api.cloud.functions);
    api.cloud.functions.relayUrl = async (...args) => { relayed.push(args[1]); return await relayUrl(...args); };
    try {
      const headers = { 'x-pcloud-function': '111111111111/exists', 'x-pcloud-url': 'ab'.repeat(16), 'x-original-uri': `/url/${'ab'.repeat(16)}/` };
      for (const guess of [{}, { 'x-pcloud-authorizer': 'guess' }, { 'x-pcloud-authorizer': SECRET.slice(1) }] as Record<string, string>[]) {
        const relay = await answer(await fetch(`${api.endpoint}/pcloud/lambda/url-relay`, { method: 'POST', body: 'x', headers: { ...headers, ...guess } }));
        expect(relay).toEqual(await answer(await fetch(`${api.endpoint}/pcloud/no-such-path`, { method: 'POST', body: 'x', headers: { ...headers, ...guess } })));
      }
      expect(relayed).toEqual([]);
      // nginx (the secret) naming a URL the function does not have: Not Found, as nginx answers an unknown URL.
      const res = await fetch(`${api.endpoint}/pcloud/lambda/url-relay`, { method: 'POST', body: 'x', headers: { ...headers, 'x-pcloud-authorizer': SECRET } });
      expect([res.status, await res.json()]).toEqual([404, { Message: 'Not Found' }]);
      expect(relayed).toEqual(['exists']);
    } finally {
      api.cloud.functions.relayUrl = relayUrl;
    }
  });
});
