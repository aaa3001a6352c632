/** Calling the in-process IAM and STS endpoints (Query protocol) by action and flattened parameters. */
import xml2js from 'xml2js';
import { expect } from 'vitest';
import { until, type TestApi } from './api.js';

export interface QueryAnswer {
  status: number;
  text: string;
  /** The answer's `<XResult>` (or `<Error>` of an error), as xml2js reads it (no arrays for single children). */
  result: Record<string, unknown>;
  code?: string;
  message?: string;
}

type Key = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export async function query(api: TestApi, service: 'iam' | 'sts', action: string, params: Record<string, string> = {}, key?: Key): Promise<QueryAnswer> {
  const body = new URLSearchParams({ Action: action, Version: service === 'iam' ? '2010-05-08' : '2011-06-15', ...params }).toString();
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' };
  if (key?.sessionToken) headers['X-Amz-Security-Token'] = key.sessionToken;
  const res = await api.send({ service, body, headers, ...(key ? { key: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } } : {}) });
  const doc = await xml2js.parseStringPromise(res.text, { explicitArray: false }) as Record<string, Record<string, unknown>>;
  const top = Object.values(doc)[0] ?? {};
  if (res.status !== 200) {
    const err = top.Error as { Code: string; Message: string };
    return { status: res.status, text: res.text, result: err, code: err.Code, message: err.Message };
  }
  return { status: res.status, text: res.text, result: (top[`${action}Result`] ?? {}) as Record<string, unknown> };
}

export const iamCall = (api: TestApi, action: string, params: Record<string, string> = {}, key?: Key) => query(api, 'iam', action, params, key);

/** `member` children of a list element as an array (xml2js gives one child as an object, none as ''). */
export function members<T = Record<string, unknown>>(list: unknown): T[] {
  if (!list || typeof list !== 'object') return [];
  const m = (list as { member?: T | T[] }).member;
  return m === undefined ? [] : Array.isArray(m) ? m : [m];
}

export const TRUST_EC2 = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/**
 * Two servers on one database: what one server's IAM change takes away (a detached policy, a deleted key) the other
 * refuses too (IAM's memory dropped there: src/cloud/iam/generation.ts): at its very next request where it reads
 * (SQLite's data_version), or once told (PostgreSQL's NOTIFY, sent before the change's answer: milliseconds, as AWS's
 * IAM is eventually consistent). Told or read, it is long before the memory's own few seconds would end it (2 s here).
 */
export async function checkRevocationAcross(a: TestApi, b: TestApi, userName: string): Promise<void> {
  await iamCall(a, 'CreateUser', { UserName: userName });
  const made = (await iamCall(a, 'CreateAccessKey', { UserName: userName })).result.AccessKey as { AccessKeyId: string; SecretAccessKey: string };
  const key = { accessKeyId: made.AccessKeyId, secretAccessKey: made.SecretAccessKey };
  const describe = (api: TestApi) => api.send({ body: 'Action=DescribeRegions&Version=2016-11-15', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, key });
  const onB = (ok: (status: number) => boolean) => until(async () => ok((await describe(b)).status), 2_000);
  const policy = { UserName: userName, PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess' };
  await iamCall(a, 'AttachUserPolicy', policy);
  await onB((s) => s === 200);
  await iamCall(a, 'DetachUserPolicy', policy);
  expect((await describe(a)).status).toBe(403);
  await onB((s) => s === 403);
  // A key deleted through one server signs nothing on the other either (not even for the keys' few cached seconds).
  await iamCall(a, 'AttachUserPolicy', policy);
  await onB((s) => s === 200);
  await iamCall(a, 'DeleteAccessKey', { UserName: userName, AccessKeyId: made.AccessKeyId });
  await onB((s) => s !== 200);
}
