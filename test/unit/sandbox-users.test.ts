/** The direct manager's sandbox users: one per live function, host-wide, the same one each time while it is free. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_UID_FIRST, SANDBOX_UID_LAST, SandboxUsers } from '../../src/host/sandbox-users.js';

const bases: string[] = [];
afterAll(() => { for (const b of bases) rmSync(b, { recursive: true, force: true }); });
const fresh = () => {
  const base = mkdtempSync(join(tmpdir(), 'pcloud-uids-'));
  bases.push(base);
  return { registry: join(base, 'uids'), data: (n: string) => mkdtempSync(join(base, `data-${n}-`)) };
};

describe('sandbox users', () => {
  it('gives each function its own user in systemd\'s dynamic range, never 0, and the same one again after a restart', async () => {
    const { registry, data } = fresh();
    const dir = data('a');
    const users = new SandboxUsers(dir, registry);
    const keys = Array.from({ length: 50 }, (_, i) => `123456789012-f${i}-latest`);
    const uids = [];
    for (const k of keys) uids.push(await users.claim(k));
    expect(new Set(uids).size).toBe(50);
    for (const u of uids) expect(u >= SANDBOX_UID_FIRST && u <= SANDBOX_UID_LAST).toBe(true);
    expect(await users.claim(keys[0]!)).toBe(uids[0]);
    // Another process of the same data dir (a restarted server) finds what this one holds.
    expect(await new SandboxUsers(dir, registry).claim(keys[7]!)).toBe(uids[7]);
    expect(readdirSync(registry)).toHaveLength(50);
  });

  it('two data dirs on one host never share a user, even for the same function key', async () => {
    const { registry, data } = fresh();
    const a = new SandboxUsers(data('a'), registry, 61184, 61185);
    const b = new SandboxUsers(data('b'), registry, 61184, 61185);
    const [ua, ub] = [await a.claim('k'), await b.claim('k')];
    expect(ua).not.toBe(ub);
    // The range is full: a third function is refused with what to do, not given a shared user.
    await expect(a.claim('other')).rejects.toThrow(/No sandbox user is free/);
  });

  it('a released user is free for others; a stale record (its data dir gone) is taken over; garbage too', async () => {
    const { registry, data } = fresh();
    const gone = data('gone');
    const old = new SandboxUsers(gone, registry, 61184, 61184);
    expect(await old.claim('k')).toBe(61184);
    const live = new SandboxUsers(data('live'), registry, 61184, 61184);
    await expect(live.claim('k')).rejects.toThrow(/No sandbox user is free/);
    rmSync(gone, { recursive: true });
    expect(await live.claim('k')).toBe(61184);
    expect(await live.release('k')).toBe(61184);
    expect(readdirSync(registry)).toEqual([]);
    writeFileSync(join(registry, '61184'), 'not json');
    expect(await live.claim('j')).toBe(61184);
    // Releasing what another holds does nothing.
    expect(await old.release('k')).toBeUndefined();
    expect(readdirSync(registry)).toEqual(['61184']);
  });
});
