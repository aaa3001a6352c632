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

const authCode = (fn: () => unknown) => {
  try { fn(); } catch (e) { return e instanceof AuthError ? e.code : String(e); }
  return undefined;
};

describe('temporary credentials', () => {
  it('are ASIA keys with a long token of which only the SHA-256 is stored, expiring after the duration', () => {
    const { db, sessions, clock } = setup();
    const { roleId } = putRole(db, { accountId: ACCOUNT, name: 'app', path: '/svc/' });
    const c = sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 'i-0123', durationSeconds: 900, source: 'instance:i-0123' });
    expect(c.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(c.secretAccessKey).toHaveLength(40);
    expect(c.sessionToken.length).toBeGreaterThanOrEqual(100);
    expect(c.expiration.getTime()).toBe(clock.now + 900_000);
    const row = db.select().from(stsSessions).get()!;
    expect(row.tokenHash).toBe(tokenHash(c.sessionToken));
    expect(JSON.stringify(row)).not.toContain(c.sessionToken);
    const key = sessions.findKey(c.accessKeyId)!;
    expect(key.identity).toEqual({ kind: 'assumed-role', accountId: ACCOUNT, roleName: 'app', roleId, path: '/svc/', sessionName: 'i-0123' });
    expect(key.session).toEqual({ tokenHash: tokenHash(c.sessionToken), expiresAt: c.expiration.getTime() });
  });

  it('sign with their own token only, until they expire (SigV4 with a clock)', () => {
    const { db, sessions, clock } = setup(Date.now());
    putRole(db, { accountId: ACCOUNT, name: 'app' });
    const c = sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 's1', durationSeconds: 900 });
    const lookup = (id: string) => sessions.findKey(id);
    const at = new Date(clock.now);
    expect(verify(signed(c, c.sessionToken, at), lookup, clock.now)).toMatchObject({ accountId: ACCOUNT, temporary: true, identity: { kind: 'assumed-role', sessionName: 's1' } });
    expect(authCode(() => verify(signed(c, undefined, at), lookup, clock.now))).toBe('InvalidClientTokenId');
    expect(authCode(() => verify(signed(c, c.sessionToken + 'x', at), lookup, clock.now))).toBe('InvalidClientTokenId');
    const late = clock.now + 900_000;
    expect(authCode(() => verify(signed(c, c.sessionToken, new Date(late)), lookup, late))).toBe('ExpiredToken');
    expect(authCode(() => verify(signed(c, c.sessionToken, new Date(late - 1000)), lookup, late - 1000))).toBeUndefined();
  });

  it('end with their role: deleted, or deleted and made again under the same name', () => {
    const { db, sessions } = setup();
    putRole(db, { accountId: ACCOUNT, name: 'app' });
    const c = sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 's', durationSeconds: 900 });
    expect(sessions.findKey(c.accessKeyId)).toBeDefined();
    dropRole(db, ACCOUNT, 'app');
    sessions.forget(c.accessKeyId);
    expect(sessions.findKey(c.accessKeyId)).toBeUndefined();
    putRole(db, { accountId: ACCOUNT, name: 'app' });
    expect(sessions.findKey(c.accessKeyId)).toBeUndefined();
    expect(() => sessions.mint({ accountId: ACCOUNT, roleName: 'nope', sessionName: 's', durationSeconds: 900 })).toThrow(/cannot be found/);
    expect(() => sessions.mint({ accountId: '222222222222', roleName: 'app', sessionName: 's', durationSeconds: 900 })).toThrow(CloudError);
  });

  it('for a service (an instance: EC2): only a role whose trust policy allows that service sts:AssumeRole', () => {
    const { db, sessions } = setup();
    const people = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] });
    putRole(db, { accountId: ACCOUNT, name: 'people-only', trust: people });
    putRole(db, { accountId: ACCOUNT, name: 'unreadable', trust: '{' });
    putRole(db, { accountId: ACCOUNT, name: 'for-ec2' });
    const req = { accountId: ACCOUNT, sessionName: 'i-0123', durationSeconds: 900, source: 'instance:i-0123', service: 'ec2.amazonaws.com' };
    for (const roleName of ['people-only', 'unreadable']) {
      expect(() => sessions.mint({ ...req, roleName })).toThrow(`ec2.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/${roleName}`);
    }
    expect(db.select().from(stsSessions).all()).toEqual([]);
    expect(sessions.mint({ ...req, roleName: 'for-ec2' }).accessKeyId).toMatch(/^ASIA/);
    // Not for lambda.amazonaws.com: the role trusts EC2 only.
    expect(() => sessions.mint({ ...req, roleName: 'for-ec2', service: 'lambda.amazonaws.com' })).toThrow(/not authorized/);
  });

  it('GetSessionToken: as the user (ended with the user) or root, within their bounds; never from a role session', () => {
    const { db, sessions } = setup();
    const { userId } = putUser(db, { accountId: ACCOUNT, name: 'alice' });
    const u = sessions.mintFor({ kind: 'user', accountId: ACCOUNT, name: 'alice', id: userId, path: '/' }, 129_600);
    expect(sessions.findKey(u.accessKeyId)?.identity).toEqual({ kind: 'user', accountId: ACCOUNT, name: 'alice', id: userId, path: '/' });
    const r = sessions.mintFor({ kind: 'root', accountId: ACCOUNT }, 3600);
    expect(sessions.findKey(r.accessKeyId)?.identity).toEqual({ kind: 'root', accountId: ACCOUNT });
    expect(() => sessions.mintFor({ kind: 'root', accountId: ACCOUNT }, 3601)).toThrow(/between 900 and 3600/);
    expect(() => sessions.mintFor({ kind: 'user', accountId: ACCOUNT, name: 'alice', id: userId, path: '/' }, 129_601)).toThrow(/between 900 and 129600/);
    expect(() => sessions.mintFor({ kind: 'root', accountId: ACCOUNT }, 899)).toThrow(/between 900/);
    expect(() => sessions.mintFor({ kind: 'assumed-role', accountId: ACCOUNT, roleName: 'x', roleId: 'AROAX', path: '/', sessionName: 's' }, 900))
      .toThrow('Cannot call GetSessionToken with session credentials');
    dropUser(db, ACCOUNT, 'alice');
    sessions.forget(u.accessKeyId);
    expect(sessions.findKey(u.accessKeyId)).toBeUndefined();
  });

  it('durations: 900 s to 12 h for a role session, whole seconds', () => {
    const { db, sessions } = setup(Date.UTC(2026, 0, 1) + 400);
    putRole(db, { accountId: ACCOUNT, name: 'app' });
    const mint = (d: number) => sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 's', durationSeconds: d });
    expect(() => mint(899)).toThrow(/between 900 and 43200/);
    expect(() => mint(43_201)).toThrow(/between 900 and 43200/);
    expect(() => mint(1000.5)).toThrow(/between/);
    expect(mint(43_200).expiration.getTime() % 1000).toBe(0);
  });

  it('carry their session policies and tags in the identity', () => {
    const { db, sessions } = setup();
    putRole(db, { accountId: ACCOUNT, name: 'app' });
    const policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}';
    const c = sessions.mint({
      accountId: ACCOUNT, roleName: 'app', sessionName: 's', durationSeconds: 900, policy,
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], tags: new Map([['team', 'a;b\n{}']]),
    });
    expect(sessions.findKey(c.accessKeyId)?.identity).toMatchObject({
      scope: { policy, policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], tags: new Map([['team', 'a;b\n{}']]) },
    });
    const plain = sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 's', durationSeconds: 900 });
    expect(sessions.findKey(plain.accessKeyId)?.identity).not.toHaveProperty('scope');
  });

  it('an unknown or long-term key id is not a session; the sweep drops what expired over an hour ago; endFor ends a source', () => {
    const { db, sessions, clock } = setup();
    putRole(db, { accountId: ACCOUNT, name: 'app' });
    expect(sessions.findKey(iamId('ASIA'))).toBeUndefined();
    expect(sessions.findKey('AKIDAPITEST')).toBeUndefined();
    const a = sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 'a', durationSeconds: 900, source: 'instance:i-1' });
    const b = sessions.mint({ accountId: ACCOUNT, roleName: 'app', sessionName: 'b', durationSeconds: 3600, source: 'function:f' });
    clock.now += 900_000 + 3_600_000 + 1;
    expect(sessions.sweep()).toBe(1);
    sessions.forget(a.accessKeyId);
    expect(sessions.findKey(a.accessKeyId)).toBeUndefined();
    expect(sessions.findKey(b.accessKeyId)).toBeDefined();
    expect(sessions.endFor(ACCOUNT, 'function:f')).toBe(1);
    expect(sessions.findKey(b.accessKeyId)).toBeUndefined();
  });
});
