/**
 * `pcloud account create` / `list` (the compiled CLI; run `npm run build` first) on the data dir of a server that is
 * running: the new account's key signs at once, with no restart (SQLite WAL, the server reads keys as they come).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startApi, type TestApi } from '../support/api.js';
import { query } from '../support/iam.js';

const CLI = join(new URL('../../', import.meta.url).pathname, 'dist/src/cli/main.js');

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

function pcloud(...args: string[]): string {
  const res = spawnSync(process.execPath, [CLI, ...args, '--data', api.cloud.dataDir], { encoding: 'utf8', timeout: 60_000 });
  expect(res.status, res.stderr).toBe(0);
  return res.stdout;
}

describe('pcloud account', () => {
  it('create makes an account whose root key the running server takes at once; list shows it', async () => {
    const out = pcloud('account', 'create');
    const id = /aws_access_key_id = (\S+)/.exec(out)?.[1];
    const secret = /aws_secret_access_key = (\S+)/.exec(out)?.[1];
    const account = /# account (\d{12})$/m.exec(out)?.[1];
    expect([id, secret, account].every(Boolean), out).toBe(true);
    expect(account).not.toMatch(/^(000000000000|111111111111|222222222222)$/);
    expect(out).toContain('export AWS_SECRET_ACCESS_KEY=');
    const who = await query(api, 'sts', 'GetCallerIdentity', {}, { accessKeyId: id!, secretAccessKey: secret! });
    expect(who.result).toMatchObject({ Account: account, Arn: `arn:aws:iam::${account}:root` });

    // The new account is its own: it sees none of the others' users.
    const users = await query(api, 'iam', 'CreateUser', { UserName: 'only-in-new' }, { accessKeyId: id!, secretAccessKey: secret! });
    expect(users.status).toBe(200);
    expect(await api.cloud.iam.users.get('111111111111', 'only-in-new')).toBeUndefined();

    const lines = pcloud('account', 'list').trim().split('\n');
    expect(lines[0]).toBe('ACCOUNT\tCREATED\tKEYS\tUSERS\tINSTANCES');
    const row = lines.find((l) => l.startsWith(`${account}\t`))?.split('\t');
    expect(row?.slice(2)).toEqual(['1', '1', '0']);
    expect(lines.some((l) => l.startsWith('111111111111\t'))).toBe(true);
  });

  it('two creates make two accounts', () => {
    const a = /# account (\d{12})$/m.exec(pcloud('account', 'create'))?.[1];
    const b = /# account (\d{12})$/m.exec(pcloud('account', 'create'))?.[1];
    expect(a).toBeDefined();
    expect(a).not.toBe(b);
  });
});
