/**
 * The access log (src/api/access-log.ts) of a real API over the fake host: one JSON line per request, whatever the
 * request held (newlines, quotes, 100 KB, a bad signature, a body too large), each with the request id its answer
 * carries, the signer's account and ARN, the service, a known action only, the status and the error code; user data,
 * secrets, signatures and a presigned URL's query never in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import aws4 from 'aws4';
import { createApp } from '../../src/api/server.js';
import { accessLogOn } from '../../src/api/access-log.js';
import { presignedConsoleUrl } from '../../src/cli/console.js';
import { startApi, type TestApi } from '../support/api.js';
import { HOSTILE } from '../support/hostile.js';

const USER_DATA_MARK = 'USERDATA-MUST-NOT-BE-LOGGED';
const USER_DATA = Buffer.from(`#!/bin/sh\necho ${USER_DATA_MARK}\n`).toString('base64');

let api: TestApi;
let endpoint: string;
let close: () => void;
const lines: string[] = [];

beforeAll(async () => {
  api = await startApi();
  // A second app on the same cloud, its access log into `lines`.
  const log = accessLogOn({ write: (s: string) => void lines.push(s) });
  const server = serve({ fetch: createApp(api.cloud, { onCall: (c) => log.write(c) }).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(async () => {
  close?.();
  await api?.close();
});

interface Sent { status: number; text: string; requestId: string | null; line: Record<string, unknown>; raw: string }

/** One signed request to the logging app: its answer, and the one line it logged. */
async function send(o: { method?: string; path?: string; body?: string; service?: string; secret?: string; headers?: Record<string, string> }): Promise<Sent> {
  const before = lines.length;
  const method = o.method ?? 'POST';
  const path = o.path ?? '/';
  const signed = aws4.sign({
    host: new URL(endpoint).host, method, path, body: o.body, service: o.service ?? 'ec2', region: 'us-east-1',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...o.headers },
  }, { accessKeyId: api.key.accessKeyId, secretAccessKey: o.secret ?? api.key.secretAccessKey });
  const res = await fetch(endpoint + path, { method, headers: signed.headers as Record<string, string>, body: method === 'GET' ? undefined : o.body });
  const text = await res.text();
  expect(lines.length - before).toBe(1);
  const raw = lines[before]!;
  return { status: res.status, text, requestId: res.headers.get('x-amzn-requestid'), line: JSON.parse(raw) as Record<string, unknown>, raw };
}

/** The error code an XML answer carries. */
const codeIn = (xml: string) => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

const form = (params: Record<string, string>) => new URLSearchParams({ Version: '2016-11-15', ...params }).toString();

describe('access log', () => {
  it('logs a launch with its request id, account, principal, action and status, never its user data', async () => {
    const r = await send({ body: form({ Action: 'RunInstances', ImageId: api.imageId, InstanceType: 't3.micro', MinCount: '1', MaxCount: '1', UserData: USER_DATA }) });
    expect(r.status).toBe(200);
    expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.text).toContain(`<requestId>${r.requestId}</requestId>`);
    const { time, ms, ...rest } = r.line;
    expect(rest).toEqual({
      requestId: r.requestId, account: '111111111111', principal: 'arn:aws:iam::111111111111:root',
      service: 'ec2', action: 'RunInstances', status: 200, sourceIp: '127.0.0.1',
    });
    expect(new Date(time as string).toISOString()).toBe(time);
    expect(ms).toBeTypeOf('number');
    expect(r.raw).not.toContain(USER_DATA_MARK);
    expect(r.raw).not.toContain(USER_DATA);
    expect(r.raw.endsWith('\n') && !r.raw.slice(0, -1).includes('\n')).toBe(true);
  });

  it('an action it does not know is no action in the log, whatever its text: each request one line of JSON', async () => {
    for (const [name, value] of Object.entries(HOSTILE)) {
      const r = await send({ body: form({ Action: value, Marker: value }) });
      expect([name, r.status]).toEqual([name, 400]);
      expect(r.line).toMatchObject({ service: 'ec2', status: 400, errorCode: codeIn(r.text), requestId: r.requestId });
      expect(r.line.errorCode).toMatch(/^(InvalidAction|MissingAction|InvalidParameterValue)$/);
      expect(r.line).not.toHaveProperty('action');
      if (value.length > 3) expect(r.raw).not.toContain(JSON.stringify(value).slice(1, -1));
      expect(r.raw.length).toBeLessThan(1000);
    }
  });

  it('a known action refused for a hostile value: the action and the code, not the value', async () => {
    const r = await send({ body: form({ Action: 'CreateTags', 'ResourceId.1': 'i-0123456789abcdef0', 'Tag.1.Key': HOSTILE.bigHostile!, 'Tag.1.Value': HOSTILE.newline! }) });
    expect(r.status).toBe(400);
    expect(r.line).toMatchObject({ action: 'CreateTags', errorCode: codeIn(r.text), account: '111111111111', requestId: r.requestId });
    expect(r.line.errorCode).toMatch(/^[A-Za-z.]+$/);
    expect(r.raw).not.toContain('ExecStartPre');
    expect(r.raw.length).toBeLessThan(1000);
  });

  it('a bad signature: the code answered, no account, and neither the secret nor the signature', async () => {
    const wrong = 'wrong-secret-MUST-NOT-BE-LOGGED';
    const before = lines.length;
    const r = await send({ body: form({ Action: 'DescribeInstances' }), secret: wrong });
    expect(r.status).toBe(401);
    expect(r.line).toMatchObject({ service: 'ec2', status: 401, errorCode: 'AuthFailure', requestId: r.requestId });
    expect(codeIn(r.text)).toBe('AuthFailure');
    expect(r.line).not.toHaveProperty('account');
    expect(r.line).not.toHaveProperty('action');
    const all = lines.slice(before).join('');
    expect(all).not.toContain(wrong);
    expect(all).not.toContain(api.key.secretAccessKey);
    expect(all).not.toMatch(/Signature|Credential|AKIDAPITEST/);
  });

  it('STS and IAM: the request id their XML carries', async () => {
    const sts = await send({ service: 'sts', body: 'Action=GetCallerIdentity&Version=2011-06-15' });
    expect(sts.status).toBe(200);
    expect(sts.text).toContain(`<RequestId>${sts.requestId}</RequestId>`);
    expect(sts.line).toMatchObject({ service: 'sts', action: 'GetCallerIdentity', status: 200, requestId: sts.requestId });
    const iam = await send({ service: 'iam', body: `Action=CreateUser&Version=2010-05-08&UserName=${encodeURIComponent(HOSTILE.quotes!)}` });
    expect(iam.status).toBe(400);
    expect(iam.text).toContain(`<RequestId>${iam.requestId}</RequestId>`);
    expect(iam.line).toMatchObject({ service: 'iam', action: 'CreateUser', status: 400, errorCode: 'ValidationError', requestId: iam.requestId });
  });

  it('Lambda: every answer carries a request id (as Lambda\'s do), the log has it with the operation and the error type', async () => {
    const name = encodeURIComponent('no-such"\n');
    const r = await send({ method: 'GET', path: `/2015-03-31/functions/${name}`, service: 'lambda' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.line).toMatchObject({ service: 'lambda', action: 'GetFunction', status: r.status, requestId: r.requestId });
    expect(r.line.errorCode).toBe((JSON.parse(r.text) as { __type: string }).__type);
    expect(r.line.errorCode).toMatch(/Exception$/);
    const list = await send({ method: 'GET', path: '/2015-03-31/functions/', service: 'lambda' });
    expect(list.status).toBe(200);
    expect(list.line).toMatchObject({ service: 'lambda', action: 'ListFunctions', status: 200, requestId: list.requestId });
  });

  it('a body too large: one line with its code, the body nowhere', async () => {
    const big = 'Action=DescribeInstances&Version=2016-11-15&X=' + 'B'.repeat(2 * 1024 * 1024);
    const r = await send({ body: big });
    expect(r.status).toBe(413);
    expect(r.line).toMatchObject({ service: 'ec2', status: 413, errorCode: 'RequestEntityTooLarge', requestId: r.requestId });
    expect(r.raw).not.toContain('BBBB');
  });

  it('a presigned console URL: pcloud\'s route by name, its query (signature, credential) nowhere', async () => {
    const run = await send({ body: form({ Action: 'RunInstances', ImageId: api.imageId, InstanceType: 't3.micro', MinCount: '1', MaxCount: '1' }) });
    const id = /<instanceId>(i-[0-9a-f]+)<\/instanceId>/.exec(run.text)![1]!;
    const url = new URL(presignedConsoleUrl(endpoint, { ...api.key, accountId: '111111111111' }, 'us-east-1', id));
    const before = lines.length;
    const res = await fetch(url);
    await res.text();
    expect(lines.length - before).toBe(1);
    const line = JSON.parse(lines[before]!) as Record<string, unknown>;
    expect(line).toMatchObject({ service: 'pcloud', action: 'ConsolePage', status: res.status, requestId: res.headers.get('x-amzn-requestid') });
    expect(lines[before]).not.toMatch(/X-Amz|Signature|Credential|token/i);
    expect(lines[before]).not.toContain(url.searchParams.get('X-Amz-Signature')!);
  });
});
