/**
 * Function URLs with AWS_IAM across accounts, as nginx asks (/pcloud/lambda/authorize/url/…): the function's own
 * account may call it; another only where the function's resource policy (or its alias', for an alias' URL) allows
 * it lambda:InvokeFunctionUrl; and an alias has a URL of its own, gone with the alias.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aws4 from 'aws4';
import {
  AddPermissionCommand, CreateAliasCommand, CreateFunctionCommand, CreateFunctionUrlConfigCommand, DeleteAliasCommand, GetFunctionUrlConfigCommand,
  LambdaClient, PublishVersionCommand, RemovePermissionCommand,
} from '@aws-sdk/client-lambda';
import { startApi, type TestApi } from '../support/api.js';
import { NginxDriver } from '../../src/host/nginx.js';
import { lambdaRole } from '../support/roles.js';

const SECRET = 'c'.repeat(64);
const ME = '111111111111';
const OTHER = '222222222222';
let api: TestApi;
let lambda: LambdaClient;
let prefix: string;

beforeAll(async () => {
  api = await startApi();
  prefix = mkdtempSync(join(tmpdir(), 'pcloud-nginx-'));
  api.cloud.functions.attachNginx(new NginxDriver(api.units, prefix, '127.0.0.1:9', api.endpoint, SECRET));
  api.cloud.functions.opening = async () => undefined;
  lambda = new LambdaClient({ endpoint: api.endpoint, region: 'us-east-1', credentials: api.key, maxAttempts: 1 });
  await lambda.send(new CreateFunctionCommand({
    FunctionName: 'web', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: await lambdaRole(api.endpoint, api.key),
    Code: { ZipFile: Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4]), Buffer.alloc(60, 1)]) },
  }));
  await lambda.send(new PublishVersionCommand({ FunctionName: 'web' }));
});
afterAll(() => api.close());

/** nginx's auth subrequest for a GET of the URL signed by `key` (as nginx passes it: the original method and URI). */
async function authorize(url: string, key: { accessKeyId: string; secretAccessKey: string }): Promise<number> {
  const u = new URL(url);
  // Signed for the Host the request reaches here (the API's): nginx passes the client's on.
  const signed = aws4.sign({ host: new URL(api.endpoint).host, path: u.pathname, method: 'GET', service: 'lambda', region: 'us-east-1' }, key);
  const headers = { ...(signed.headers as Record<string, string>), 'x-original-method': 'GET', 'x-original-uri': u.pathname, 'x-pcloud-authorizer': SECRET };
  // The URL id as nginx names it (its location's), not as the client's URI has it.
  const urlId = /^\/url\/([0-9a-f]{32})\//.exec(u.pathname)?.[1] ?? 'none';
  return (await fetch(`${api.endpoint}/pcloud/lambda/authorize/url/${ME}/web/AWS_IAM/${urlId}`, { headers })).status;
}

describe('AWS_IAM function URLs across accounts', () => {
  it('let the owner in, another account only by a statement allowing lambda:InvokeFunctionUrl', async () => {
    const { FunctionUrl } = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'AWS_IAM' }));
    expect(await authorize(FunctionUrl!, api.key)).toBe(204);
    expect(await authorize(FunctionUrl!, api.keyOther)).toBe(401);
    // Invoking the function is not calling its URL.
    await lambda.send(new AddPermissionCommand({ FunctionName: 'web', StatementId: 'invoke', Action: 'lambda:InvokeFunction', Principal: OTHER }));
    expect(await authorize(FunctionUrl!, api.keyOther)).toBe(401);
    await lambda.send(new AddPermissionCommand({ FunctionName: 'web', StatementId: 'url', Action: 'lambda:InvokeFunctionUrl', Principal: OTHER, FunctionUrlAuthType: 'AWS_IAM' }));
    expect(await authorize(FunctionUrl!, api.keyOther)).toBe(204);
    await lambda.send(new RemovePermissionCommand({ FunctionName: 'web', StatementId: 'url' }));
    expect(await authorize(FunctionUrl!, api.keyOther)).toBe(401);
  });

  it('of an alias: its own URL, by its own policy, gone with the alias', async () => {
    await lambda.send(new CreateAliasCommand({ FunctionName: 'web', Name: 'live', FunctionVersion: '1' }));
    const created = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live', AuthType: 'AWS_IAM' }));
    expect(created.FunctionArn).toBe(`arn:aws:lambda:us-east-1:${ME}:function:web:live`);
    const fn = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web' }));
    expect(created.FunctionUrl).not.toBe(fn.FunctionUrl);
    expect((await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live' }))).FunctionUrl).toBe(created.FunctionUrl);
    // nginx routes it to the alias' version's socket (started for it).
    expect(api.functions.started.has(`${ME}-web-1`)).toBe(true);
    const routes = readFileSync(join(prefix, 'functions.conf'), 'utf8');
    const id = new URL(created.FunctionUrl!).pathname.split('/')[2];
    expect(routes).toContain(`location /url/${id}/ {`);
    expect(routes.slice(routes.indexOf(`location /url/${id}/ {`)).split('}')[0]).toContain(`${ME}-web-1.sock`);

    await lambda.send(new AddPermissionCommand({ FunctionName: 'web', StatementId: 'url', Action: 'lambda:InvokeFunctionUrl', Principal: OTHER }));
    expect(await authorize(created.FunctionUrl!, api.keyOther)).toBe(401);
    await lambda.send(new AddPermissionCommand({ FunctionName: 'web', Qualifier: 'live', StatementId: 'url', Action: 'lambda:InvokeFunctionUrl', Principal: OTHER }));
    expect(await authorize(created.FunctionUrl!, api.keyOther)).toBe(204);

    await lambda.send(new DeleteAliasCommand({ FunctionName: 'web', Name: 'live' }));
    expect(await authorize(created.FunctionUrl!, api.keyOther)).toBe(401);
    await lambda.send(new CreateAliasCommand({ FunctionName: 'web', Name: 'live', FunctionVersion: '1' }));
    await expect(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live' }))).rejects.toThrow('The resource you requested does not exist.');
  });
});
