import { afterEach, describe, expect, it } from 'vitest';
import aws4 from 'aws4';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthError, verify } from '../../src/api/auth/sigv4.js';
import { openDb, type Db } from '../../src/db/index.js';
import { stsSessions } from '../../src/db/schema.js';
import { CloudError } from '../../src/cloud/errors.js';
import { Sessions, tokenHash, type Credentials } from '../../src/cloud/iam/sessions.js';
import { iamId } from '../../src/cloud/iam/names.js';
import { dropRole, dropUser, putRole, putUser } from '../support/iam-rows.js';

const ACCOUNT = '111111111111';
const dirs: string[] = [];
const open: Sessions[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(start = Date.UTC(2026, 0, 1)): { db: Db; sessions: Sessions; clock: { now: number } } {
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-sts-'));
  dirs.push(dir);
  const db = openDb(join(dir, 'pcloud.db'));
  const clock = { now: start };
  const sessions = new Sessions(db, () => clock.now);
  open.push(sessions);
  return { db, sessions, clock };
}

/** A request signed with the credentials, carrying `token` as X-Amz-Security-Token (the SDKs' way). */
function signed(c: Credentials, token: string | undefined, date: Date) {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Amz-Date': date.toISOString().replace(/[:-]|\.\d{3}/g, '') };
  if (token !== undefined) headers['X-Amz-Security-Token'] = token;
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const req = aws4.sign({ host: 'localhost', method: 'POST', path: '/', body, service: 'sts', region: 'us-east-1', headers },
    { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
  const h = new Headers();
  for (const [k, v] of Object.entries(req.headers ?? {})) h.set(k, String(v));
  return { method: 'POST', url: '/', headers: h, body: Buffer.from(body) };
}

const authCode = async (fn: () => unknown) => {
  try { await fn(); } catch (e) { return e instanceof AuthError ? e.code : String(e); }
  return undefined;
};

describe('temporary credentials', () => {
  it('are ASIA keys with a long token of which only the SHA-256 is stored, expiring after the duration', async () => {
    const { db, sessions, clock } = setup();
    const { roleId } = await putRole(db, { accountId: ACCOUNT, name: 'app', path: '/svc/' });
    const c = await sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 'i-0123', durationSeconds: 900, source: 'instance:i-0123' });
    expect(c.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(c.secretAccessKey).toHaveLength(40);
    expect(c.sessionToken.length).toBeGreaterThanOrEqual(100);
    expect(c.expiration.getTime()).toBe(clock.now + 900_000);
    const row = (await db.select().from(stsSessions).limit(1))[0]!;
    expect(row.tokenHash).toBe(tokenHash(c.sessionToken));
    expect(JSON.stringify(row)).not.toContain(c.sessionToken);
    const key = (await sessions.findKey(c.accessKeyId))!;
    expect(key.identity).toEqual({ kind: 'assumed-role', accountId: ACCOUNT, roleName: 'app', roleId, path: '/svc/', sessionName: 'i-0123' });
    expect(key.session).toEqual({ tokenHash: tokenHash(c.sessionToken), expiresAt: c.expiration.getTime() });
  });

  it('sign with their own token only, until they expire (SigV4 with a clock)', async () => {
    const { db, sessions, clock } = setup(Date.now());
    await putRole(db, { accountId: ACCOUNT, name: 'app' });
    const c = await sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 's1', durationSeconds: 900 });
    const lookup = async (id: string) => await sessions.findKey(id);
    const at = new Date(clock.now);
    expect(await verify(signed(c, c.sessionToken, at), lookup, clock.now)).toMatchObject({ accountId: ACCOUNT, temporary: true, identity: { kind: 'assumed-role', sessionName: 's1' } });
    expect(await authCode(() => verify(signed(c, undefined, at), lookup, clock.now))).toBe('InvalidClientTokenId');
    expect(await authCode(() => verify(signed(c, c.sessionToken + 'x', at), lookup, clock.now))).toBe('InvalidClientTokenId');
    const late = clock.now + 900_000;
    expect(await authCode(() => verify(signed(c, c.sessionToken, new Date(late)), lookup, late))).toBe('ExpiredToken');
    expect(await authCode(() => verify(signed(c, c.sessionToken, new Date(late - 1000)), lookup, late - 1000))).toBeUndefined();
  });

  it('end with their role: deleted, or deleted and made again under the same name', async () => {
    const { db, sessions } = setup();
    await putRole(db, { accountId: ACCOUNT, name: 'app' });
    const c = await sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 's', durationSeconds: 900 });
    expect(await sessions.findKey(c.accessKeyId)).toBeDefined();
    await dropRole(db, ACCOUNT, 'app');
    sessions.forget(c.accessKeyId);
    expect(await sessions.findKey(c.accessKeyId)).toBeUndefined();
    await putRole(db, { accountId: ACCOUNT, name: 'app' });
    expect(await sessions.findKey(c.accessKeyId)).toBeUndefined();
    await expect(sessions.mint({ accountId: ACCOUNT, roleName: 'nope', sessionName: 's', durationSeconds: 900 })).rejects.toThrow(/cannot be found/);
    await expect(sessions.mint({ accountId: '222222222222', roleName: 'app', sessionName: 's', durationSeconds: 900 })).rejects.toThrow(CloudError);
  });

  it('for a service (an instance: EC2): only a role whose trust policy allows that service sts:AssumeRole', async () => {
    const { db, sessions } = setup();
    const people = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] });
    await putRole(db, { accountId: ACCOUNT, name: 'people-only', trust: people });
    await putRole(db, { accountId: ACCOUNT, name: 'unreadable', trust: '{' });
    await putRole(db, { accountId: ACCOUNT, name: 'for-ec2' });
    const req = { accountId: ACCOUNT, sessionName: 'i-0123', durationSeconds: 900, source: 'instance:i-0123', service: 'ec2.amazonaws.com' };
    for (const roleName of ['people-only', 'unreadable']) {
      await expect(sessions.mint({ ...req, roleName })).rejects.toThrow(`ec2.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/${roleName}`);
    }
    expect(await db.select().from(stsSessions)).toEqual([]);
    expect((await sessions.mint({ ...req, roleName: 'for-ec2' })).accessKeyId).toMatch(/^ASIA/);
    // Not for lambda.amazonaws.com: the role trusts EC2 only.
    await expect(sessions.mint({ ...req, roleName: 'for-ec2', service: 'lambda.amazonaws.com' })).rejects.toThrow(/not authorized/);
  });

  it('GetSessionToken: as the user (ended with the user) or root, within their bounds; never from a role session', async () => {
    const { db, sessions } = setup();
    const { userId } = await putUser(db, { accountId: ACCOUNT, name: 'alice' });
    const u = await sessions.mintFor({ kind: 'user', accountId: ACCOUNT, name: 'alice', id: userId, path: '/' }, 129_600);
    expect((await sessions.findKey(u.accessKeyId))?.identity).toEqual({ kind: 'user', accountId: ACCOUNT, name: 'alice', id: userId, path: '/' });
    const r = await sessions.mintFor({ kind: 'root', accountId: ACCOUNT }, 3600);
    expect((await sessions.findKey(r.accessKeyId))?.identity).toEqual({ kind: 'root', accountId: ACCOUNT });
    await expect(sessions.mintFor({ kind: 'root', accountId: ACCOUNT }, 3601)).rejects.toThrow(/between 900 and 3600/);
    await expect(sessions.mintFor({ kind: 'user', accountId: ACCOUNT, name: 'alice', id: userId, path: '/' }, 129_601)).rejects.toThrow(/between 900 and 129600/);
    await expect(sessions.mintFor({ kind: 'root', accountId: ACCOUNT }, 899)).rejects.toThrow(/between 900/);
    await expect(sessions.mintFor({ kind: 'assumed-role', accountId: ACCOUNT, roleName: 'x', roleId: 'AROAX', path: '/', sessionName: 's' }, 900)).rejects
      .toThrow('Cannot call GetSessionToken with session credentials');
    await dropUser(db, ACCOUNT, 'alice');
    sessions.forget(u.accessKeyId);
    expect(await sessions.findKey(u.accessKeyId)).toBeUndefined();
  });

  it('durations: 900 s to 12 h for a role session, whole seconds', async () => {
    const { db, sessions } = setup(Date.UTC(2026, 0, 1) + 400);
    await putRole(db, { accountId: ACCOUNT, name: 'app' });
    const mint = async (d: number) => await sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 's', durationSeconds: d });
    await expect(mint(899)).rejects.toThrow(/between 900 and 43200/);
    await expect(mint(43_201)).rejects.toThrow(/between 900 and 43200/);
    await expect(mint(1000.5)).rejects.toThrow(/between/);
    expect((await mint(43_200)).expiration.getTime() % 1000).toBe(0);
  });

  it('carry their session policies and tags in the identity', async () => {
    const { db, sessions } = setup();
    await putRole(db, { accountId: ACCOUNT, name: 'app' });
    const policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}';
    const c = await sessions.mint({
      accountId: ACCOUNT, roleName: 'app', sessionName: 's', durationSeconds: 900, policy,
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], tags: new Map([['team', 'a;b\n{}']]),
    });
    expect((await sessions.findKey(c.accessKeyId))?.identity).toMatchObject({
      scope: { policy, policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], tags: new Map([['team', 'a;b\n{}']]) },
    });
    const plain = await sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 's', durationSeconds: 900 });
    expect((await sessions.findKey(plain.accessKeyId))?.identity).not.toHaveProperty('scope');
  });

  it('an unknown or long-term key id is not a session; the sweep drops what expired over an hour ago; endFor ends a source', async () => {
    const { db, sessions, clock } = setup();
    await putRole(db, { accountId: ACCOUNT, name: 'app' });
    expect(await sessions.findKey(iamId('ASIA'))).toBeUndefined();
    expect(await sessions.findKey('AKIDAPITEST')).toBeUndefined();
    const a = await sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 'a', durationSeconds: 900, source: 'instance:i-1' });
    const b = await sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 'b', durationSeconds: 3600, source: 'function:f' });
    clock.now += 900_000 + 3_600_000 + 1;
    expect(await sessions.sweep()).toBe(1);
    sessions.forget(a.accessKeyId);
    expect(await sessions.findKey(a.accessKeyId)).toBeUndefined();
    expect(await sessions.findKey(b.accessKeyId)).toBeDefined();
    expect(await sessions.endFor(ACCOUNT, 'function:f')).toBe(1);
    expect(await sessions.findKey(b.accessKeyId)).toBeUndefined();
  });
});
