/**
 * `pcloud dashboard`: a SigV4-presigned URL of the web dashboard (/pcloud/dashboard), signed with the data dir's key
 * (the one `pcloud credentials` prints: the operator's), as `pcloud console` presigns a console. Opening it begins a
 * session in the browser; the URL itself opens it only until it expires (`--expires`, 5 minutes by default).
 */
import type { Command } from 'commander';
import aws4 from 'aws4';
import type { AccessKey } from '../cloud/accounts.js';
import { Accounts } from '../cloud/accounts.js';
import { configFromEnv } from '../cloud/config.js';
import { closeDatabase, openDatabase } from '../db/open.js';
import { ensureDataDir } from '../paths.js';
import { databaseOf, DEFAULT_DATA } from './config.js';
import { endpointOf, ensureCredentials } from './credentials.js';

/** The dashboard's sign-in URL for `key`, valid for `expiresSec` (SigV4 allows at most 7 days). */
export function presignedDashboardUrl(endpoint: string, key: Pick<AccessKey, 'accessKeyId' | 'secretAccessKey'>, region: string, expiresSec = 300): string {
  if (!Number.isSafeInteger(expiresSec) || expiresSec < 1 || expiresSec > 7 * 24 * 3600) throw new Error(`--expires: a number of seconds from 1 to 604800, not ${expiresSec}`);
  const url = new URL(endpoint);
  const signed = aws4.sign({
    host: url.host, path: `/pcloud/dashboard?X-Amz-Expires=${expiresSec}`, method: 'GET', service: 'ec2', region, signQuery: true,
  }, { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  return `${url.protocol}//${url.host}${signed.path}`;
}

export function dashboardCommand(program: Command): void {
  program.command('dashboard')
    .description("a URL of the web dashboard (instances, functions, hosts, live), presigned with the data dir's key")
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .option('--expires <seconds>', 'how long the URL signs in', '300')
    .action(async (opts: { data: string; expires: string }) => {
      const expires = Number(opts.expires);
      await ensureDataDir(opts.data);
      const db = await openDatabase(opts.data, databaseOf({}));
      let key: AccessKey;
      try {
        key = await ensureCredentials(new Accounts(db));
      } finally {
        await closeDatabase(db);
      }
      process.stdout.write(presignedDashboardUrl(await endpointOf(opts.data), key, configFromEnv().region, expires) + '\n');
    });
}
