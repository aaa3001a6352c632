/**
 * A function's execution role through the API: CreateFunction and UpdateFunctionConfiguration take only a role of the
 * account that Lambda may assume (InvalidParameterValueException, Lambda's words, and nothing stored otherwise); the
 * function's units get credentials of a session of that role (its identity the assumed role, named for the function),
 * which end when the function is deleted or its role changes; reserved variables cannot be set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import aws4 from 'aws4';
import type { FunctionUnitOptions, SessionCredentials } from '../../src/host/index.js';
import { startApi, type TestApi } from '../support/api.js';
import { LAMBDA_TRUST, lambdaRole } from '../support/roles.js';

const ME = '111111111111';
const ZIP = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(60, 1)]).toString('base64');
const EC2_TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });

let api: TestApi;
let ROLE = '';
/** The options each function unit was last ensured with, by its key. */
const ensured = new Map<string, FunctionUnitOptions>();

beforeAll(async () => {
  api = await startApi();
  ROLE = await lambdaRole(api.endpoint, api.key);
  const ensure = api.functions.ensure.bind(api.functions);
  api.functions.ensure = async (o: FunctionUnitOptions) => {
    ensured.set(o.key, o);
    await ensure(o);
  };
});
afterAll(() => api.close());

const lambda = async (method: string, path: string, body?: unknown) => {
  const res = await api.send({ method, path, service: 'lambda', body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('x-amzn-errortype')?.split(':')[0], json: (res.text ? JSON.parse(res.text) : {}) as Record<string, unknown> };
};
const create = (name: string, over: Record<string, unknown> = {}) =>
  lambda('POST', '/2015-03-31/functions', { FunctionName: name, Runtime: 'python3.12', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: ZIP }, ...over });
const invoke = (name: string) => lambda('POST', `/2015-03-31/functions/${name}/invocations`, {});
const credentialsOf = (name: string) => ensured.get(`${ME}-${name}-latest`)?.credentials;

/** STS GetCallerIdentity signed with the credentials: the caller's ARN, or the error code. */
async function whoAmI(c: SessionCredentials): Promise<string> {
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const url = new URL(api.endpoint);
  const req = aws4.sign({ host: url.host, method: 'POST', path: '/', body, service: 'sts', region: 'us-east-1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
    { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken });
  const text = await (await fetch(`${api.endpoint}/`, { method: 'POST', headers: req.headers as Record<string, string>, body })).text();
  return /<Arn>([^<]+)<\/Arn>/.exec(text)?.[1] ?? /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? text;
}

const NOT_ASSUMABLE = { status: 400, type: 'InvalidParameterValueException', message: 'The role defined for the function cannot be assumed by Lambda.' };
/** A key no longer known (its session ended), as the signature check refuses it. */
const REFUSED = /^(InvalidClientTokenId|AuthFailure)$/;

describe("a function's role", () => {
  it('is refused at CreateFunction unless it is a role of the account that Lambda may assume; nothing is stored', async () => {
    const ec2Role = await lambdaRole(api.endpoint, api.key, 'ec2-only', EC2_TRUST);
    for (const Role of [`arn:aws:iam::${ME}:role/missing`, ec2Role, `arn:aws:iam::${ME}:role/other-path/lambda-role`, 'arn:aws:iam::222222222222:role/lambda-role']) {
      const res = await create('refused', { Role });
      expect({ status: res.status, type: res.type, message: res.json.message }, Role).toEqual(NOT_ASSUMABLE);
    }
    expect((await lambda('GET', '/2015-03-31/functions/refused')).status).toBe(404);
  });

  it("is checked at UpdateFunctionConfiguration, which keeps the role it had when refused", async () => {
    expect((await create('keeps')).status).toBe(201);
    const res = await lambda('PUT', '/2015-03-31/functions/keeps/configuration', { Role: `arn:aws:iam::${ME}:role/missing` });
    expect({ status: res.status, type: res.type, message: res.json.message }).toEqual(NOT_ASSUMABLE);
    expect((await lambda('GET', '/2015-03-31/functions/keeps/configuration')).json.Role).toBe(ROLE);
    await lambda('DELETE', '/2015-03-31/functions/keeps');
  });

  it('reserved variables cannot be set (the credentials, the region, the endpoint)', async () => {
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_ENDPOINT_URL']) {
      const res = await create('reserved', { Environment: { Variables: { [key]: 'x' } } });
      expect([res.status, res.type, res.json.message]).toEqual([400, 'InvalidParameterValueException',
        `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${key}`]);
    }
  });
});

describe("a function's credentials", () => {
  it("are a session of its role named for the function, given to its unit, ended when it is deleted", async () => {
    expect((await create('creds')).status).toBe(201);
    expect((await invoke('creds')).status).toBe(200);
    const c = credentialsOf('creds')!;
    expect(c.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(c.expiration.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(await whoAmI(c)).toBe(`arn:aws:sts::${ME}:assumed-role/lambda-role/creds`);
    // The same while they have time left.
    await invoke('creds');
    expect(credentialsOf('creds')!.accessKeyId).toBe(c.accessKeyId);
    await lambda('DELETE', '/2015-03-31/functions/creds');
    expect(await whoAmI(c)).toMatch(REFUSED);
  });

  it('end when its role changes; the next unit has the new role', async () => {
    const other = await lambdaRole(api.endpoint, api.key, 'second-role', LAMBDA_TRUST);
    expect((await create('switch')).status).toBe(201);
    await invoke('switch');
    const before = credentialsOf('switch')!;
    expect((await lambda('PUT', '/2015-03-31/functions/switch/configuration', { Role: other })).status).toBe(200);
    expect(await whoAmI(before)).toMatch(REFUSED);
    await invoke('switch');
    expect(await whoAmI(credentialsOf('switch')!)).toBe(`arn:aws:sts::${ME}:assumed-role/second-role/switch`);
    await lambda('DELETE', '/2015-03-31/functions/switch');
  });
});
