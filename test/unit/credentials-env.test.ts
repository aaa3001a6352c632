/** The CLI's key from the environment (src/cli/credentials.ts): PCLOUD_ACCOUNT_ID must be an account id. */
import { describe, expect, it } from 'vitest';
import { Accounts } from '../../src/cloud/accounts.js';
import { ensureCredentials } from '../../src/cli/credentials.js';
import { openDb } from '../../src/db/index.js';

describe('ensureCredentials', () => {
  it('takes the key of PCLOUD_ACCOUNT_ID, and refuses an account id that is not 12 digits (nothing made)', async () => {
    const accounts = new Accounts(openDb(':memory:'));
    const env = { PCLOUD_ACCESS_KEY_ID: 'AKIDENVTEST0000001', PCLOUD_SECRET_ACCESS_KEY: 'secret' };
    for (const bad of ['12345678901', '1234567890123', 'acct-0000000000', '', '12345678901\n']) {
      await expect(ensureCredentials(accounts, { ...env, PCLOUD_ACCOUNT_ID: bad })).rejects.toThrow('PCLOUD_ACCOUNT_ID must be an AWS account id: 12 digits');
    }
    expect(await accounts.firstKey()).toBeUndefined();
    expect(await ensureCredentials(accounts, { ...env, PCLOUD_ACCOUNT_ID: '123456789012' })).toMatchObject({ accessKeyId: env.PCLOUD_ACCESS_KEY_ID, accountId: '123456789012' });
  });
});
