/**
 * An account's Lambda invocations at once (ConcurrentExecutions; here PCLOUD_LIMIT_CONCURRENT_EXECUTIONS=3) for real:
 * through pcloud's nginx (limit_conn per account, after the authorizer named the account) and through pcloud's API
 * (the domain's counter), N+2 slow invokes at once run N, the rest are TooManyRequestsException 429 "Rate Exceeded."
 * as Lambda answers them; the other account is not held back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CLI, CREDS, freePort, startReal, type RealServer } from '../support/real.js';
import { lambdaRole } from '../support/roles.js';

const LIMIT = 3;
const OTHER = { accessKeyId: 'AKIDPCLOUDTEST00009', secretAccessKey: 'pcloud-test-secret-key-9' };
const name = `slow-${Date.now().toString(36)}`;
// Sleeps long past the moment every request of a burst has been answered or let through (a throttled one is answered at once).
const SLEEPER = 'export const handler = async (event) => { await new Promise((r) => setTimeout(r, event.sleep ?? 0)); return { slept: event.sleep ?? 0 }; };';

let srv: RealServer;
const clients: Record<'api' | 'nginx' | 'otherNginx', LambdaClient> = {} as never;

beforeAll(async () => {
  const port = await freePort();
  srv = await startReal({ env: { PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${port}`, PCLOUD_LIMIT_CONCURRENT_EXECUTIONS: String(LIMIT) } });
  execFileSync(process.execPath, [CLI, 'credentials', '--data', srv.dataDir], {
    env: { ...process.env, PCLOUD_ACCOUNT_ID: '111122223333', PCLOUD_ACCESS_KEY_ID: OTHER.accessKeyId, PCLOUD_SECRET_ACCESS_KEY: OTHER.secretAccessKey },
  });
  const client = (endpoint: string, credentials = CREDS) => new LambdaClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  clients.api = client(srv.endpoint);
  clients.nginx = client(`http://127.0.0.1:${port}`);
  clients.otherNginx = client(`http://127.0.0.1:${port}`, OTHER);
  const d = mkdtempSync(join(tmpdir(), 'pcloud-fn-limits-'));
  writeFileSync(join(d, 'index.mjs'), SLEEPER);
  execFileSync('zip', ['-q', 'package.zip', 'index.mjs'], { cwd: d });
  const ZipFile = new Uint8Array(readFileSync(join(d, 'package.zip')));
  for (const key of [CREDS, OTHER]) {
    // Each account's own execution role (test/support/roles.ts), made through IAM.
    const Role = await lambdaRole(srv.endpoint, key);
    await client(srv.endpoint, key).send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role, Timeout: 60, Code: { ZipFile } }));
  }
});
afterAll(async () => {
  await clients.api?.send(new DeleteFunctionCommand({ FunctionName: name })).catch(() => undefined);
  await srv?.stop();
});

const invoke = (client: LambdaClient, sleep: number) =>
  client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ sleep })) })).then(
    (r) => (r.FunctionError ? `error ${Buffer.from(r.Payload!).toString()}` : `ok ${(JSON.parse(Buffer.from(r.Payload!).toString()) as { slept: number }).slept}`),
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => `${e.name} ${e.$metadata?.httpStatusCode} ${e.message}`,
  );

describe('ConcurrentExecutions', () => {
  for (const path of ['nginx', 'api'] as const) {
    it(`through ${path === 'nginx' ? "pcloud's nginx" : "pcloud's API"}: ${LIMIT}+2 slow invokes at once run ${LIMIT}, the rest are 429 TooManyRequestsException`, async () => {
      const outcomes = await Promise.all(Array.from({ length: LIMIT + 2 }, () => invoke(clients[path], 8_000)));
      expect(outcomes.sort()).toEqual([...new Array<string>(2).fill('TooManyRequestsException 429 Rate Exceeded.'), ...new Array<string>(LIMIT).fill('ok 8000')].sort());
      // Slots come back once they end.
      expect(await invoke(clients[path], 0)).toBe('ok 0');
    }, 120_000);
  }

  it('one account at its limit does not hold back another', async () => {
    const busy = Array.from({ length: LIMIT }, () => invoke(clients.nginx, 8_000));
    // Sent while the first account's invokes sleep: the other account's own function answers.
    expect(await invoke(clients.otherNginx, 0)).toBe('ok 0');
    expect(await Promise.all(busy)).toEqual(Array(LIMIT).fill('ok 8000'));
  }, 120_000);
});
