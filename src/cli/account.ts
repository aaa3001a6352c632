/**
 * `pcloud account create` and `pcloud account list`: the operator's accounts, made and listed in the state database
 * while a server runs on it (SQLite WAL; the server finds a new key on its first use, with no restart).
 */
import type { Command } from 'commander';
import { AccountAdmin, Accounts } from '../cloud/accounts.js';
import { configFromEnv } from '../cloud/config.js';
import { closeDatabase, openDatabase } from '../db/open.js';
import { ensureDataDir } from '../paths.js';
import { databaseOf, DEFAULT_DATA } from './config.js';
import { credentialsText, endpointOf } from './credentials.js';

async function withAdmin<T>(dataDir: string, fn: (admin: AccountAdmin) => Promise<T>): Promise<T> {
  // Only the state database: no storage pool or units.
  await ensureDataDir(dataDir);
  const db = await openDatabase(dataDir, databaseOf({}));
  try {
    return await fn(new AccountAdmin(db, new Accounts(db)));
  } finally {
    await closeDatabase(db);
  }
}

/** One line per account: id, created, keys, users, instances (tab-separated, with a header). */
export function accountsTable(rows: Awaited<ReturnType<AccountAdmin['list']>>): string {
  return [
    ['ACCOUNT', 'CREATED', 'KEYS', 'USERS', 'INSTANCES'].join('\t'),
    ...rows.map((a) => [a.id, a.createdAt.toISOString(), a.keys, a.users, a.instances].join('\t')),
  ].join('\n');
}

export function accountCommand(program: Command): void {
  const account = program.command('account').description('accounts: create one with its first access key, list them');
  account.command('create')
    .description("a new account and its root access key, printed as `pcloud credentials` prints one (a running server takes it at once)")
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .action(async (opts: { data: string }) => {
      const key = await withAdmin(opts.data, (admin) => admin.create());
      process.stdout.write(credentialsText(key, await endpointOf(opts.data), configFromEnv().region) + '\n');
    });
  account.command('list')
    .description('every account: id, created, access keys, IAM users, instances (not terminated)')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .action(async (opts: { data: string }) => {
      process.stdout.write(accountsTable(await withAdmin(opts.data, (admin) => admin.list())) + '\n');
    });
}
