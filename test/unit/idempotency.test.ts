/** src/cloud/idempotency.ts: tokens per account and action, the parameters' hash, expiry and the sweep. */
import { afterAll, describe, expect, it } from 'vitest';
import { CloudError } from '../../src/cloud/errors.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../src/db/index.js';
import { clientTokens } from '../../src/db/schema.js';
import { checkClientToken, ClientTokens, requestHash, type TokenRequest } from '../../src/cloud/idempotency.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-tokens-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** The CloudError code `fn` throws, or 'no error'. */
async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return e instanceof CloudError ? e.code : String(e);
  }
  return 'no error';
}

const req = (over: Partial<TokenRequest> = {}): TokenRequest =>
  ({ accountId: '111111111111', operation: 'CreateVolume', token: 't-1', params: [['Size', '1'], ['AvailabilityZone', 'us-east-1a']], ...over });

describe('client tokens', () => {
  const db = openDb(join(base, 'tokens.db'));
  afterAll(() => db.$client.close());

  it('the first request makes, the same again replays, other parameters are a mismatch; accounts and actions apart', async () => {
    const tokens = new ClientTokens(db);
    let made = 0;
    const make = () => ({ id: `vol-${++made}`, value: `made vol-${made}` });
    const replay = (id: string) => `again ${id}`;
    expect(await tokens.once(req(), replay, make)).toBe('made vol-1');
    // The parameters in another order are the same request.
    expect(await tokens.once(req({ params: [['AvailabilityZone', 'us-east-1a'], ['Size', '1']] }), replay, make)).toBe('again vol-1');
    expect(await codeOf(async () => await tokens.once(req({ params: [['Size', '2']] }), replay, make))).toBe('IdempotentParameterMismatch');
    expect(await tokens.once(req({ accountId: '222222222222' }), replay, make)).toBe('made vol-2');
    expect(await tokens.once(req({ operation: 'CreateRouteTable' }), replay, make)).toBe('made vol-3');
    expect(await tokens.once(req({ token: undefined }), replay, make)).toBe('made vol-4');
    expect(await tokens.once(req({ token: undefined }), replay, make)).toBe('made vol-5');
  });

  it('a live token is never written over (a caller that skipped prior() fails, the first answer stays)', async () => {
    const tokens = new ClientTokens(db);
    await tokens.record(req({ token: 'live' }), 'vol-first');
    await expect(tokens.record(req({ token: 'live' }), 'vol-second')).rejects.toThrow('recorded twice');
    expect(await tokens.prior(req({ token: 'live' }))).toBe('vol-first');
  });

  it('a failed make remembers nothing', async () => {
    const tokens = new ClientTokens(db);
    await expect(tokens.once(req({ token: 'fails' }), String, () => { throw new Error('no room'); })).rejects.toThrow('no room');
    expect(await tokens.prior(req({ token: 'fails' }))).toBeUndefined();
  });

  it('a token past its time is forgotten: made anew, and swept when the next one is written', async () => {
    const tokens = new ClientTokens(db, 1000);
    await tokens.once(req({ token: 'old' }), String, () => ({ id: 'vol-old', value: '' }));
    await db.update(clientTokens).set({ createdAt: Date.now() - 2000 });
    expect(await tokens.prior(req({ token: 'old' }))).toBeUndefined();
    expect(await tokens.once(req({ token: 'old', params: [] }), String, () => ({ id: 'vol-new', value: 'made' }))).toBe('made');
    expect(await tokens.prior(req({ token: 'old', params: [] }))).toBe('vol-new');
    // Every other row was older than the TTL: gone with that write.
    expect((await db.select().from(clientTokens)).map((r) => r.resourceId)).toEqual(['vol-new']);
  });

  it("tokens EC2 would refuse: longer than the action's limit, or not printable ASCII", async () => {
    expect(() => checkClientToken('x'.repeat(64))).not.toThrow();
    expect(await codeOf(() => checkClientToken('x'.repeat(65)))).toBe('InvalidParameterValue');
    expect(() => checkClientToken('x'.repeat(128), 128)).not.toThrow();
    for (const bad of ['a\nb', 'é', 'a\u0000']) expect(await codeOf(() => checkClientToken(bad))).toBe('InvalidParameterValue');
    expect(requestHash([['a', '1'], ['b', '2']])).toBe(requestHash([['b', '2'], ['a', '1']]));
    expect(requestHash([['a', '1=b']])).not.toBe(requestHash([['a', '1'], ['b', '']]));
  });
});
