/**
 * An instance's role credentials (issue 16): reused while they have more than 15 minutes left, minted anew after that
 * (Expiration moves forward), anew at once for another role or association, and ended with the association.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InstanceCredentials, RENEW_BEFORE_MS, SESSION_SECONDS, type RoleCredentials, type RoleSessions } from '../../src/cloud/instance-credentials.js';
import type { Association, IamAssociations } from '../../src/cloud/iam-associations.js';

/** STS as far as instance credentials use it: mints on the given clock, records what it ended. */
class FakeSessions implements RoleSessions {
  minted: { roleName: string; sessionName: string; source?: string; service?: string; durationSeconds: number }[] = [];
  ended: string[] = [];
  constructor(private readonly now: () => number) {}
  mint(req: { accountId: string; roleName: string; sessionName: string; durationSeconds: number; source?: string; service?: string }): Promise<RoleCredentials> {
    this.minted.push(req);
    return Promise.resolve({ accessKeyId: `ASIA${this.minted.length}`, secretAccessKey: 's', sessionToken: 't', expiration: new Date(this.now() + req.durationSeconds * 1000) });
  }
  endFor(_accountId: string, source: string): Promise<number> {
    this.ended.push(source);
    return Promise.resolve(1);
  }
}

/** The associations as far as credentials read them: one instance's, settable. */
function fakeAssociations() {
  let current: Association | undefined;
  let onEnd: ((accountId: string, instanceId: string) => void) | undefined;
  const assoc = {
    ofInstance: (id: string) => (current?.instanceId === id ? current : undefined),
    onEnd: (fn: (accountId: string, instanceId: string) => void) => { onEnd = fn; },
  } as unknown as IamAssociations;
  return {
    assoc,
    set(id: string, roleName: string | undefined) {
      current = {
        id, accountId: '111111111111', instanceId: 'i-0123456789abcdef0', state: 'associated', createdAt: 0,
        profile: { name: 'p', id: 'AIPA', arn: 'arn:aws:iam::111111111111:instance-profile/p' }, ...(roleName ? { roleName } : {}),
      };
    },
    clear() { current = undefined; onEnd?.('111111111111', 'i-0123456789abcdef0'); },
  };
}

const ID = 'i-0123456789abcdef0';
let now = Date.UTC(2026, 0, 1);
afterEach(() => { now = Date.UTC(2026, 0, 1); });

describe('instance role credentials', () => {
  it('reused while more than 15 minutes are left; then new ones, whose Expiration is later', async () => {
    const sts = new FakeSessions(() => now);
    const a = fakeAssociations();
    a.set('iip-assoc-1', 'web');
    const creds = new InstanceCredentials(a.assoc, sts, () => now);
    const first = (await creds.for(ID))!;
    expect(sts.minted).toEqual([{ accountId: '111111111111', roleName: 'web', sessionName: ID, durationSeconds: SESSION_SECONDS, source: `instance:${ID}`, service: 'ec2.amazonaws.com' }]);
    now += SESSION_SECONDS * 1000 - RENEW_BEFORE_MS - 1000;
    expect((await creds.for(ID))!.credentials.accessKeyId).toBe(first.credentials.accessKeyId);
    now += 2000;
    const second = (await creds.for(ID))!;
    expect(second.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
    expect(second.credentials.expiration.getTime()).toBeGreaterThan(first.credentials.expiration.getTime());
    expect(second.lastUpdated.getTime()).toBe(now);
    // Renewal leaves the old session to run out (a request signed with it may be under way).
    expect(sts.ended).toEqual([]);
  });

  it('another role or another association: the old sessions end, new credentials at once', async () => {
    const sts = new FakeSessions(() => now);
    const a = fakeAssociations();
    a.set('iip-assoc-1', 'web');
    const creds = new InstanceCredentials(a.assoc, sts, () => now);
    const first = (await creds.for(ID))!.credentials.accessKeyId;
    a.set('iip-assoc-1', 'batch');
    const other = (await creds.for(ID))!;
    expect(other.roleName).toBe('batch');
    expect(other.credentials.accessKeyId).not.toBe(first);
    expect(sts.ended).toEqual([`instance:${ID}`]);
    a.set('iip-assoc-2', 'batch');
    expect((await creds.for(ID))!.credentials.accessKeyId).not.toBe(other.credentials.accessKeyId);
    expect(sts.ended).toHaveLength(2);
  });

  it('no association, or a profile without a role: nothing minted; the association ending ends the sessions', async () => {
    const sts = new FakeSessions(() => now);
    const a = fakeAssociations();
    const creds = new InstanceCredentials(a.assoc, sts, () => now);
    expect(await creds.for(ID)).toBeUndefined();
    a.set('iip-assoc-1', undefined);
    expect(await creds.for(ID)).toBeUndefined();
    expect(await creds.roleFor(ID)).toMatchObject({ association: { id: 'iip-assoc-1' }, roleName: undefined });
    expect(sts.minted).toEqual([]);
    a.set('iip-assoc-1', 'web');
    await creds.for(ID);
    a.clear();
    expect(sts.ended).toEqual([`instance:${ID}`]);
    expect(await creds.for(ID)).toBeUndefined();
  });
});
