/**
 * Temporary credentials over HTTP: GetSessionToken for root and users, GetCallerIdentity with them; temporary
 * credentials (a session token's, a role session's) accepted by EC2, Lambda, IAM and STS with their session token,
 * and refused in each service's words when expired, when the token is not theirs, and when their role is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { startApi, type TestApi } from '../support/api.js';
import { dropRole, putRole, putUser } from '../support/iam-rows.js';
import { codeOf, credsOf, el, keysOf, query, type Creds } from '../support/sts.js';
import { accessKeys, stsSessions } from '../../src/db/schema.js';

const ME = '111111111111';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api.close(); });

const sts = (params: Record<string, string>, key?: Creds, service = 'sts') => query(api, params, key, service);

/** A session of the account's role, as pcloud mints them (for an instance, a function). */
async function roleSession(roleName: string): Promise<Creds> {
  return await api.cloud.iam.sessions.mint({ accountId: ME, roleName, sessionName: 'minted', durationSeconds: 900 });
}

describe('GetSessionToken', () => {
  it('root: an hour at most; a user: up to 36 hours, acting as the user; never from session credentials', async () => {
    const root = await sts({ Action: 'GetSessionToken', DurationSeconds: '7200' });
    expect(root.status, root.text).toBe(200);
    const rc = credsOf(root.text);
    expect(Math.abs(Date.parse(rc.expiration) - Date.now() - 3600_000)).toBeLessThan(60_000);
    expect(el((await sts({ Action: 'GetCallerIdentity' }, rc)).text, 'Arn')).toBe(`arn:aws:iam::${ME}:root`);
    const again = await sts({ Action: 'GetSessionToken' }, rc);
    expect([again.status, codeOf(again.text), el(again.text, 'Message')]).toEqual([403, 'AccessDenied', 'Cannot call GetSessionToken with session credentials']);

    await putUser(api.cloud.db, { accountId: ME, name: 'dave', path: '/ops/' });
    await api.cloud.db.insert(accessKeys).values({ accessKeyId: 'AKIADAVETEST00000001', secretAccessKey: 'dave-secret', accountId: ME, userName: 'dave', createdAt: Date.now() });
    const dave = { accessKeyId: 'AKIADAVETEST00000001', secretAccessKey: 'dave-secret' };
    const long = await sts({ Action: 'GetSessionToken', DurationSeconds: '129600' }, dave);
    expect(long.status, long.text).toBe(200);
    expect(Math.abs(Date.parse(credsOf(long.text).expiration) - Date.now() - 129_600_000)).toBeLessThan(60_000);
    const deflt = await sts({ Action: 'GetSessionToken' }, dave);
    expect(Math.abs(Date.parse(credsOf(deflt.text).expiration) - Date.now() - 43_200_000)).toBeLessThan(60_000);
    expect(el((await sts({ Action: 'GetCallerIdentity' }, credsOf(long.text))).text, 'Arn')).toBe(`arn:aws:iam::${ME}:user/ops/dave`);
    const tooLong = await sts({ Action: 'GetSessionToken', DurationSeconds: '129601' }, dave);
    expect(el(tooLong.text, 'Message')).toContain('Member must have value less than or equal to 129600');

    await putRole(api.cloud.db, { accountId: ME, name: 'no-tokens' });
    const role = await roleSession('no-tokens');
    expect(codeOf((await sts({ Action: 'GetSessionToken' }, role)).text)).toBe('AccessDenied');
  });
});

describe('temporary credentials on every service', () => {
  const ec2With = (c: Creds) => new EC2Client({ endpoint: api.endpoint, region: 'us-east-1', credentials: keysOf(c), maxAttempts: 1 });
  const lambdaWith = (c: Creds) => new LambdaClient({ endpoint: api.endpoint, region: 'us-east-1', credentials: keysOf(c), maxAttempts: 1 });
  const failure = async (p: Promise<unknown>) => {
    try { await p; } catch (e) { return { name: (e as Error).name, status: (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, message: (e as Error).message }; }
    return undefined;
  };
  const rootSession = async () => credsOf((await sts({ Action: 'GetSessionToken', DurationSeconds: '900' })).text);

  it('are accepted by EC2, Lambda, IAM and STS with their session token', async () => {
    const c = await rootSession();
    expect((await ec2With(c).send(new DescribeRegionsCommand({}))).Regions?.length).toBeGreaterThan(0);
    expect((await lambdaWith(c).send(new ListFunctionsCommand({}))).Functions).toBeDefined();
    expect((await sts({ Action: 'GetCallerIdentity' }, c)).status).toBe(200);
    // IAM lets a role session in (a session token it refuses: below): what it answers is IAM's, not an authentication error.
    await putRole(api.cloud.db, { accountId: ME, name: 'iam-reader' });
    await api.cloud.iam.policies.attach(ME, 'role', 'iam-reader', 'arn:aws:iam::aws:policy/IAMReadOnlyAccess');
    const iam = await sts({ Action: 'GetAccountSummary' }, await roleSession('iam-reader'), 'iam');
    expect(['InvalidAction', undefined]).toContain(codeOf(iam.text));
    expect(iam.status).not.toBe(403);
  });

  it('expired: EC2 RequestExpired, Lambda ExpiredTokenException, STS and IAM ExpiredToken', async () => {
    const c = await rootSession();
    await api.cloud.db.update(stsSessions).set({ expiresAt: Date.now() - 1000 }).where(eq(stsSessions.accessKeyId, c.accessKeyId));
    api.cloud.iam.sessions.forget(c.accessKeyId);
    expect(await failure(ec2With(c).send(new DescribeRegionsCommand({})))).toEqual({ name: 'RequestExpired', status: 400, message: 'Request has expired.' });
    expect(await failure(lambdaWith(c).send(new ListFunctionsCommand({})))).toMatchObject({ name: 'ExpiredTokenException', status: 403 });
    const s = await sts({ Action: 'GetCallerIdentity' }, c);
    expect([s.status, codeOf(s.text), el(s.text, 'Message')]).toEqual([403, 'ExpiredToken', 'The security token included in the request is expired']);
    const i = await sts({ Action: 'GetAccountSummary' }, c, 'iam');
    expect([i.status, codeOf(i.text)]).toEqual([403, 'ExpiredToken']);
  });

  it('with a token not theirs (or none): EC2 AuthFailure, Lambda UnrecognizedClientException, STS InvalidClientTokenId', async () => {
    const c = await rootSession();
    const other = await rootSession();
    const wrong = { ...c, sessionToken: other.sessionToken };
    expect(await failure(ec2With(wrong).send(new DescribeRegionsCommand({})))).toMatchObject({ name: 'AuthFailure', status: 401 });
    expect(await failure(lambdaWith(wrong).send(new ListFunctionsCommand({})))).toMatchObject({ name: 'UnrecognizedClientException', status: 403 });
    const s = await sts({ Action: 'GetCallerIdentity' }, wrong);
    expect([s.status, codeOf(s.text), el(s.text, 'Message')]).toEqual([403, 'InvalidClientTokenId', 'The security token included in the request is invalid.']);
    const none = await sts({ Action: 'GetCallerIdentity' }, { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
    expect([none.status, codeOf(none.text)]).toEqual([403, 'InvalidClientTokenId']);
  });

  it('end with their role', async () => {
    const { roleId } = await putRole(api.cloud.db, { accountId: ME, name: 'short-lived' });
    const c = await roleSession('short-lived');
    const who = await sts({ Action: 'GetCallerIdentity' }, c);
    expect([el(who.text, 'Arn'), el(who.text, 'UserId')]).toEqual([`arn:aws:sts::${ME}:assumed-role/short-lived/minted`, `${roleId}:minted`]);
    await dropRole(api.cloud.db, ME, 'short-lived');
    api.cloud.iam.sessions.forget(c.accessKeyId);
    const res = await sts({ Action: 'GetCallerIdentity' }, c);
    expect(res.status).toBe(401);
    expect(codeOf(res.text)).toBe('AuthFailure');
  });

  it('a session token (GetSessionToken, no MFA) calls no IAM action: InvalidClientTokenId, as AWS; a role session does', async () => {
    await putUser(api.cloud.db, { accountId: ME, name: 'grace' });
    await api.cloud.db.insert(accessKeys).values({ accessKeyId: 'AKIAGRACETEST0000001', secretAccessKey: 'grace-secret', accountId: ME, userName: 'grace', createdAt: Date.now() });
    await api.cloud.iam.policies.attach(ME, 'user', 'grace', 'arn:aws:iam::aws:policy/IAMFullAccess');
    const grace = { accessKeyId: 'AKIAGRACETEST0000001', secretAccessKey: 'grace-secret' };
    const token = credsOf((await sts({ Action: 'GetSessionToken' }, grace)).text);
    const made = await sts({ Action: 'CreateAccessKey' }, token, 'iam');
    expect([made.status, codeOf(made.text), el(made.text, 'Message')]).toEqual([403, 'InvalidClientTokenId', 'The security token included in the request is invalid']);
    expect(await api.cloud.iam.keys.list(ME, 'grace')).toHaveLength(1);
    const root = credsOf((await sts({ Action: 'GetSessionToken' }, undefined)).text);
    expect(codeOf((await sts({ Action: 'ListUsers' }, root, 'iam')).text)).toBe('InvalidClientTokenId');
    expect((await sts({ Action: 'GetCallerIdentity' }, token)).status).toBe(200);
    expect((await sts({ Action: 'ListUsers' }, grace, 'iam')).status).toBe(200);
    await putRole(api.cloud.db, { accountId: ME, name: 'iam-admin' });
    await api.cloud.iam.policies.attach(ME, 'role', 'iam-admin', 'arn:aws:iam::aws:policy/IAMFullAccess');
    expect((await sts({ Action: 'ListUsers' }, await roleSession('iam-admin'), 'iam')).status).toBe(200);
  });

  it('a role deleted through IAM ends its sessions at once, even one just used', async () => {
    await putRole(api.cloud.db, { accountId: ME, name: 'deleted-now' });
    const c = await roleSession('deleted-now');
    expect((await sts({ Action: 'GetCallerIdentity' }, c)).status).toBe(200);
    const del = await sts({ Action: 'DeleteRole', RoleName: 'deleted-now' }, undefined, 'iam');
    expect(del.status, del.text).toBe(200);
    const res = await sts({ Action: 'GetCallerIdentity' }, c);
    expect([res.status, codeOf(res.text)]).toEqual([401, 'AuthFailure']);
  });
});
