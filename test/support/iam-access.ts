/**
 * IAM users with access keys and policies for tests of what they may do, written straight into the database (the
 * IAM API that makes them is tested on its own), and an IAM Query call signed by any key.
 */
import { randomBytes } from 'node:crypto';
import type { Cloud } from '../../src/cloud/index.js';
import { accessKeys } from '../../src/db/schema.js';
import { putRole, putUser } from './iam-rows.js';
import type { TestApi } from './api.js';

export interface TestKey { accessKeyId: string; secretAccessKey: string }

const id = (prefix: string) => prefix + Array.from(randomBytes(16), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('');

/** A user of the account with an active access key, and the given managed policies (ARNs) attached. */
export async function userWithKey(cloud: Cloud, accountId: string, name: string, policyArns: readonly string[] = []): Promise<TestKey & { arn: string; userId: string }> {
  const user = await putUser(cloud.db, { accountId, name });
  const key = { accessKeyId: id('AKIA'), secretAccessKey: randomBytes(30).toString('base64').slice(0, 40) };
  await cloud.db.insert(accessKeys).values({ ...key, accountId, userName: name, status: 'Active', createdAt: Date.now() });
  for (const arn of policyArns) await cloud.iam.policies.attach(accountId, 'user', name, arn);
  return { ...key, ...user };
}

/** A role of the account (trusting the account) with the given managed policies attached. */
export async function roleWith(cloud: Cloud, accountId: string, name: string, policyArns: readonly string[] = []): Promise<{ arn: string; roleId: string }> {
  const role = await putRole(cloud.db, { accountId, name });
  for (const arn of policyArns) await cloud.iam.policies.attach(accountId, 'role', name, arn);
  return role;
}

/** A policy document allowing (or denying) actions on resources, with an optional Condition block. */
export function doc(statements: { Effect?: 'Allow' | 'Deny'; Action: string | string[]; Resource?: string | string[]; Condition?: unknown }[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements.map((s) => ({ Effect: 'Allow', Resource: '*', ...s })) });
}

/** An IAM (or STS) Query call signed by `key` (the account's root key when absent). */
export async function iamCall(api: TestApi, params: Record<string, string>, key?: TestKey, service: 'iam' | 'sts' = 'iam') {
  const body = new URLSearchParams({ Version: service === 'iam' ? '2010-05-08' : '2011-06-15', ...params }).toString();
  return api.send({ body, service, key, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
}

/** An EC2 Query call signed by `key`. */
export async function ec2Call(api: TestApi, params: Record<string, string>, key?: TestKey) {
  const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
  return api.send({ body, service: 'ec2', key, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
}

/** The error code of an AWS XML error answer. */
export const codeOf = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
export const messageOf = (text: string) => /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
