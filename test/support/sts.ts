/** Signed STS and IAM Query requests against a TestApi, and reading their answers. */
import type { TestApi } from './api.js';

export interface Creds { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

/** One Query action (STS unless `service` says iam), signed by `key` (with its session token) or the account's root key. */
export function query(api: TestApi, params: Record<string, string>, key?: Creds, service = 'sts') {
  const body = new URLSearchParams({ ...params, Version: service === 'iam' ? '2010-05-08' : '2011-06-15' }).toString();
  return api.send({ service, body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, ...(key ? { key } : {}) });
}

/** An element's text in an answer (the first one). */
export const el = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
/** An error's code: the Query protocol's <Code>, or a JSON answer's __type. */
export const codeOf = (text: string) => el(text, 'Code') ?? /"__type":"([^"]+)"/.exec(text)?.[1];

/** The Credentials of an AssumeRole or GetSessionToken answer. */
export function credsOf(xml: string): Creds & { sessionToken: string; expiration: string } {
  return { accessKeyId: el(xml, 'AccessKeyId')!, secretAccessKey: el(xml, 'SecretAccessKey')!, sessionToken: el(xml, 'SessionToken')!, expiration: el(xml, 'Expiration')! };
}

/** Only the keys, as an SDK client's credentials take them. */
export const keysOf = ({ accessKeyId, secretAccessKey, sessionToken }: Creds): Creds => ({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) });
