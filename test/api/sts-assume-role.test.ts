/**
 * STS AssumeRole end to end over HTTP: trust policies (the account, another account, a user, a service principal, a
 * Deny), the caller's own policies, ExternalId, durations (the role's MaxSessionDuration, role chaining), session
 * names and role ARNs as STS validates them, session tags and policies; GetCallerIdentity with what it returns.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApi, type TestApi } from '../support/api.js';
import { putRole, putUser, trustAccount } from '../support/iam-rows.js';
import { codeOf, credsOf, el, query, type Creds } from '../support/sts.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { accessKeys, stsSessions } from '../../src/db/schema.js';

const ME = '111111111111';
const OTHER = '222222222222';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api.close(); });

const sts = (params: Record<string, string>, key?: Creds, service = 'sts') => query(api, params, key, service);

async function assume(roleArn: string, extra: Record<string, string> = {}, key?: Creds) {
  return sts({ Action: 'AssumeRole', RoleArn: roleArn, RoleSessionName: 'sess-1', ...extra }, key);
}

describe('AssumeRole', () => {
  it('as root, for a role trusting the account: credentials acting as the role session', async () => {
    const { roleId, arn } = await putRole(api.cloud.db, { accountId: ME, name: 'deployer', path: '/ci/' });
    const res = await assume(arn);
    expect(res.status, res.text).toBe(200);
    const c = credsOf(res.text);
    expect(c.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(c.sessionToken.length).toBeGreaterThan(100);
    expect(Math.abs(Date.parse(c.expiration) - Date.now() - 3600_000)).toBeLessThan(60_000);
    expect(el(res.text, 'AssumedRoleId')).toBe(`${roleId}:sess-1`);
    expect(el(res.text, 'Arn')).toBe(`arn:aws:sts::${ME}:assumed-role/deployer/sess-1`);
    const who = await sts({ Action: 'GetCallerIdentity' }, c);
    expect(who.status, who.text).toBe(200);
    expect([el(who.text, 'Arn'), el(who.text, 'UserId'), el(who.text, 'Account')])
      .toEqual([`arn:aws:sts::${ME}:assumed-role/deployer/sess-1`, `${roleId}:sess-1`, ME]);
  });

  it('across pcloud accounts, when the role trusts the other account', async () => {
    const { arn } = await putRole(api.cloud.db, { accountId: ME, name: 'shared', trust: trustAccount(OTHER) });
    const res = await assume(arn, {}, api.keyOther);
    expect(res.status, res.text).toBe(200);
    const who = await sts({ Action: 'GetCallerIdentity' }, credsOf(res.text));
    expect(el(who.text, 'Arn')).toBe(`arn:aws:sts::${ME}:assumed-role/shared/sess-1`);
    // Not the account it trusts: refused, in AWS's words, exactly as a role that does not exist.
    const mine = await assume((await putRole(api.cloud.db, { accountId: OTHER, name: 'private' })).arn);
    expect(mine.status).toBe(403);
    expect(codeOf(mine.text)).toBe('AccessDenied');
    expect(el(mine.text, 'Message')).toBe(`User: arn:aws:iam::${ME}:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${OTHER}:role/private`);
    const none = await assume(`arn:aws:iam::${OTHER}:role/nothing-here`);
    expect([none.status, el(none.text, 'Message')]).toEqual([403, `User: arn:aws:iam::${ME}:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${OTHER}:role/nothing-here`]);
    // The right name under another path is not the role.
    expect((await assume(`arn:aws:iam::${ME}:role/x/shared`, {}, api.keyOther)).status).toBe(403);
  });

  it('refuses callers the trust policy does not name: a service principal, another user', async () => {
    const service = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const r1 = await assume((await putRole(api.cloud.db, { accountId: ME, name: 'fn-role', trust: service })).arn);
    expect([r1.status, codeOf(r1.text)]).toEqual([403, 'AccessDenied']);
    const user = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ME}:user/bob` }, Action: 'sts:AssumeRole' }] });
    const r2 = await assume((await putRole(api.cloud.db, { accountId: ME, name: 'bob-role', trust: user })).arn);
    expect([r2.status, codeOf(r2.text)]).toEqual([403, 'AccessDenied']);
    const deny = JSON.stringify({ Version: '2012-10-17', Statement: [
      { Effect: 'Allow', Principal: { AWS: ME }, Action: 'sts:AssumeRole' },
      { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' },
    ] });
    expect((await assume((await putRole(api.cloud.db, { accountId: ME, name: 'denied', trust: deny })).arn)).status).toBe(403);
  });

  it('a user the trust policy names still needs its own policies to allow sts:AssumeRole', async () => {
    const { userId } = await putUser(api.cloud.db, { accountId: ME, name: 'carol' });
    await api.cloud.db.insert(accessKeys).values({ accessKeyId: 'AKIACAROLTEST0000001', secretAccessKey: 'carol-secret', accountId: ME, userName: 'carol', createdAt: Date.now() });
    const carol = { accessKeyId: 'AKIACAROLTEST0000001', secretAccessKey: 'carol-secret' };
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ME}:user/carol` }, Action: 'sts:AssumeRole' }] });
    const { arn } = await putRole(api.cloud.db, { accountId: ME, name: 'carol-role', trust });
    const res = await assume(arn, {}, carol);
    expect([res.status, el(res.text, 'Message')]).toEqual([403, `User: arn:aws:iam::${ME}:user/carol is not authorized to perform: sts:AssumeRole on resource: ${arn}`]);
    const who = await sts({ Action: 'GetCallerIdentity' }, carol);
    expect([el(who.text, 'Arn'), el(who.text, 'UserId')]).toEqual([`arn:aws:iam::${ME}:user/carol`, userId]);
    // Her policies allowing it (what "enforce" decides; stood in for here), the trust policy lets her in, and no one else.
    const allow = vi.spyOn(api.cloud.iam, 'authorize').mockResolvedValue({ allowed: true });
    try {
      const ok = await assume(arn, {}, carol);
      expect(ok.status, ok.text).toBe(200);
      expect(allow).toHaveBeenCalledWith(expect.objectContaining({ kind: 'user', name: 'carol' }), expect.objectContaining({ action: 'sts:AssumeRole', resources: [{ arn }] }));
      await putUser(api.cloud.db, { accountId: ME, name: 'eve' });
      await api.cloud.db.insert(accessKeys).values({ accessKeyId: 'AKIAEVETEST000000001', secretAccessKey: 'eve-secret', accountId: ME, userName: 'eve', createdAt: Date.now() });
      expect((await assume(arn, {}, { accessKeyId: 'AKIAEVETEST000000001', secretAccessKey: 'eve-secret' })).status).toBe(403);
    } finally {
      allow.mockRestore();
    }
  });

  it('checks sts:ExternalId when the trust policy asks for it', async () => {
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{
      Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ME}:root` }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'ext-42' } },
    }] });
    const { arn } = await putRole(api.cloud.db, { accountId: ME, name: 'vendor', trust });
    expect((await assume(arn)).status).toBe(403);
    expect((await assume(arn, { ExternalId: 'ext-41' })).status).toBe(403);
    expect((await assume(arn, { ExternalId: 'ext-42' })).status).toBe(200);
    const bad = await assume(arn, { ExternalId: 'a b' });
    expect([bad.status, codeOf(bad.text)]).toEqual([400, 'ValidationError']);
  });

  it('durations: 900 s up to the role\'s MaxSessionDuration (an hour when chained), default an hour', async () => {
    const { arn } = await putRole(api.cloud.db, { accountId: ME, name: 'long', maxSessionDuration: 7200 });
    const low = await assume(arn, { DurationSeconds: '899' });
    expect([low.status, codeOf(low.text), el(low.text, 'Message')]).toEqual([400, 'ValidationError',
      "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"]);
    const high = await assume(arn, { DurationSeconds: '43201' });
    expect(el(high.text, 'Message')).toContain('Member must have value less than or equal to 43200');
    const over = await assume(arn, { DurationSeconds: '7201' });
    expect([over.status, el(over.text, 'Message')]).toEqual([400, 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.']);
    const ok = await assume(arn, { DurationSeconds: '7200' });
    expect(ok.status).toBe(200);
    expect(Math.abs(Date.parse(credsOf(ok.text).expiration) - Date.now() - 7200_000)).toBeLessThan(60_000);
    // A role session assuming a role (its policies allowing it): an hour at most.
    const allow = vi.spyOn(api.cloud.iam, 'authorize').mockResolvedValue({ allowed: true });
    try {
      const chained = await assume(arn, { DurationSeconds: '3601' }, credsOf(ok.text));
      expect([chained.status, el(chained.text, 'Message')]).toEqual([400, 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.']);
      const hour = await assume(arn, { DurationSeconds: '3600' }, credsOf(ok.text));
      expect(el((await sts({ Action: 'GetCallerIdentity' }, credsOf(hour.text))).text, 'Arn')).toBe(`arn:aws:sts::${ME}:assumed-role/long/sess-1`);
    } finally {
      allow.mockRestore();
    }
    const notInt = await assume(arn, { DurationSeconds: 'soon' });
    expect([notInt.status, codeOf(notInt.text)]).toEqual([400, 'ValidationError']);
  });

  it('session names and role ARNs as STS validates them', async () => {
    const { arn } = await putRole(api.cloud.db, { accountId: ME, name: 'names' });
    for (const name of ['a', 'x'.repeat(65), NUL, ...Object.values(HOSTILE)]) {
      const res = await sts({ Action: 'AssumeRole', RoleArn: arn, RoleSessionName: name });
      expect([res.status, codeOf(res.text)], name.slice(0, 40)).toEqual([400, 'ValidationError']);
      // Hostile values are refused, never echoed whole.
      expect(res.text.length).toBeLessThan(2000);
    }
    for (const [what, v] of Object.entries(HOSTILE)) {
      const res = await assume(arn, { ExternalId: v, 'Tags.member.1.Key': v, 'Tags.member.1.Value': v });
      expect([res.status, codeOf(res.text)], what).toEqual([400, 'ValidationError']);
    }
    expect((await sts({ Action: 'AssumeRole', RoleArn: arn, RoleSessionName: 'a.b@c=d,e+f-g_h' })).status).toBe(200);
    const short = await sts({ Action: 'AssumeRole', RoleArn: 'arn:aws:iam::1:role', RoleSessionName: 'ok' });
    expect(el(short.text, 'Message')).toContain("at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20");
    for (const bad of [`arn:aws:iam::${ME}:user/names`, `arn:aws:iam::12345:role/names`, `arn:aws:iam:us-east-1:${ME}:role/names`, `arn:aws:iam::${ME}:role/`]) {
      const res = await sts({ Action: 'AssumeRole', RoleArn: bad, RoleSessionName: 'ok' });
      expect([res.status, el(res.text, 'Message')], bad).toEqual([400, 'Request ARN is invalid']);
    }
    const missing = await sts({ Action: 'AssumeRole', RoleArn: arn });
    expect(el(missing.text, 'Message')).toContain("'roleSessionName' failed to satisfy constraint: Member must not be null");
  });

  it('session tags need sts:TagSession in the trust policy and stay with the session, as session policies do', async () => {
    const { arn } = await putRole(api.cloud.db, { accountId: ME, name: 'tagged' });
    const tags = { 'Tags.member.1.Key': 'team', 'Tags.member.1.Value': 'blue' };
    const noTag = await assume(arn, tags);
    expect([noTag.status, el(noTag.text, 'Message')]).toEqual([403, `User: arn:aws:iam::${ME}:root is not authorized to perform: sts:TagSession on resource: ${arn}`]);
    const both = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ME }, Action: ['sts:AssumeRole', 'sts:TagSession'] }] });
    const { arn: arn2 } = await putRole(api.cloud.db, { accountId: ME, name: 'tagged2', trust: both });
    const ok = await assume(arn2, tags);
    expect(ok.status, ok.text).toBe(200);
    expect(Number(el(ok.text, 'PackedPolicySize'))).toBeGreaterThan(0);
    expect((await api.cloud.iam.findKey(credsOf(ok.text).accessKeyId))?.identity).toMatchObject({ scope: { policyArns: [], tags: new Map([['team', 'blue']]) } });
    // Session policies are kept with the session (the decision intersects them with the role's: iam-enforce.test.ts).
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }] });
    for (const limit of [{ Policy: policy }, { 'PolicyArns.member.1.arn': 'arn:aws:iam::aws:policy/ReadOnlyAccess' }] as Record<string, string>[]) {
      const limited = await assume(arn2, limit);
      expect(limited.status, limited.text).toBe(200);
      expect((await api.cloud.iam.findKey(credsOf(limited.text).accessKeyId))?.identity).toHaveProperty('scope');
    }
    const dup = await assume(arn2, { ...tags, 'Tags.member.2.Key': 'TEAM', 'Tags.member.2.Value': 'red' });
    expect(dup.status).toBe(400);
    const badTag = await assume(arn2, { 'Tags.member.1.Key': 'a{b}', 'Tags.member.1.Value': 'v' });
    expect([badTag.status, codeOf(badTag.text)]).toEqual([400, 'ValidationError']);
    const malformed = await assume(arn2, { Policy: '{"Statement":' });
    expect([malformed.status, codeOf(malformed.text)]).toEqual([400, 'MalformedPolicyDocument']);
    const badArn = await assume(arn2, { 'PolicyArns.member.1.arn': `arn:aws:iam::${ME}:role/not-a-policy` });
    expect([badArn.status, codeOf(badArn.text)]).toEqual([400, 'ValidationError']);
    // Nothing half-made: the refused requests minted nothing (the three sessions are the tagged one and the two limited ones).
    expect((await api.cloud.db.select().from(stsSessions)).filter((s) => s.name === 'tagged2')).toHaveLength(3);
    const mfa = await assume(arn2, { SerialNumber: 'arn:aws:iam::111111111111:mfa/me', TokenCode: '123456' });
    expect([mfa.status, codeOf(mfa.text)]).toEqual([403, 'AccessDenied']);
  });
});
