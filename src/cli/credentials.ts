import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccessKey, Accounts } from '../cloud/accounts.js';

/**
 * Keys from PCLOUD_ACCESS_KEY_ID / PCLOUD_SECRET_ACCESS_KEY, else the first key there is, else a new one; of the account
 * PCLOUD_ACCOUNT_ID (an AWS account id: 12 digits, as ARNs, Lambda's routes and the servers' notices take it).
 */
export async function ensureCredentials(accounts: Accounts, env = process.env): Promise<AccessKey> {
  const accountId = env.PCLOUD_ACCOUNT_ID ?? '000000000000';
  if (!/^[0-9]{12}$/.test(accountId)) throw new Error('PCLOUD_ACCOUNT_ID must be an AWS account id: 12 digits, such as 123456789012');
  if (env.PCLOUD_ACCESS_KEY_ID && env.PCLOUD_SECRET_ACCESS_KEY) {
    return await accounts.putKey({ accessKeyId: env.PCLOUD_ACCESS_KEY_ID, secretAccessKey: env.PCLOUD_SECRET_ACCESS_KEY, accountId });
  }
  return (await accounts.firstKey()) ?? (await accounts.generateKey(accountId));
}

export async function endpointOf(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, 'endpoint'), 'utf8').catch(() => 'http://127.0.0.1:8773')).trim();
}

export function credentialsText(key: AccessKey, endpoint: string, region: string): string {
  return [
    '# ~/.aws/credentials (or: aws configure)',
    '[default]',
    `aws_access_key_id = ${key.accessKeyId}`,
    `aws_secret_access_key = ${key.secretAccessKey}`,
    '',
    '# environment',
    `export AWS_ACCESS_KEY_ID=${key.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`,
    `export AWS_DEFAULT_REGION=${region}`,
    `export AWS_ENDPOINT_URL=${endpoint}`,
    '',
    '# Terraform',
    'provider "aws" {',
    `  region                      = "${region}"`,
    `  access_key                  = "${key.accessKeyId}"`,
    `  secret_key                  = "${key.secretAccessKey}"`,
    '  skip_credentials_validation = true',
    '  skip_requesting_account_id  = true',
    '  skip_metadata_api_check     = true',
    `  endpoints { ec2 = "${endpoint}" }`,
    '}',
    `# account ${key.accountId}`,
  ].join('\n');
}
