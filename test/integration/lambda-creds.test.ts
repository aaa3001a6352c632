/**
 * A Python function calling pcloud with boto3 and no keys, as on Lambda: its sandboxed process has its role's session in
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and pcloud's API in AWS_ENDPOINT_URL; sts
 * get_caller_identity is the assumed role named for the function; ec2 describe_regions is what its role's policies allow
 * (denied until a policy allows it); the variables are not the user's to set, and the session ends with the function.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aws4 from 'aws4';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CREDS, startReal, type RealServer } from '../support/real.js';
import { lambdaRole } from '../support/roles.js';

let srv: RealServer;
let api: LambdaClient;
let ROLE = '';
const stamp = Date.now().toString(36);
const names: string[] = [];

/** The handler: what the process has of AWS's variables (never the secrets themselves), and boto3's answers. */
const HANDLER = `
import os, boto3, botocore
def handler(event, context):
    out = {"boto3": boto3.__version__, "endpoint": os.environ.get("AWS_ENDPOINT_URL"), "region": os.environ.get("AWS_REGION"),
           "key": os.environ.get("AWS_ACCESS_KEY_ID", ""), "token": bool(os.environ.get("AWS_SESSION_TOKEN")),
           "secret": bool(os.environ.get("AWS_SECRET_ACCESS_KEY"))}
    out["arn"] = boto3.client("sts").get_caller_identity()["Arn"]
    try:
        out["regions"] = sorted(r["RegionName"] for r in boto3.client("ec2").describe_regions()["Regions"])
    except botocore.exceptions.ClientError as e:
        out["regions"] = e.response["Error"]["Code"]
    return out
`;

function zip(files: Record<string, string>): Uint8Array {
  const d = mkdtempSync(join(tmpdir(), 'pcloud-fn-creds-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  execFileSync('zip', ['-q', 'package.zip', ...Object.keys(files)], { cwd: d });
  return new Uint8Array(readFileSync(join(d, 'package.zip')));
}

/** One IAM Query call as the account's root: its response text. */
async function iam(params: Record<string, string>): Promise<string> {
  const url = new URL(srv.endpoint);
  const body = new URLSearchParams({ ...params, Version: '2010-05-08' }).toString();
  const req = aws4.sign({ host: url.host, method: 'POST', path: '/', body, service: 'iam', region: 'us-east-1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, CREDS);
  return (await fetch(`${srv.endpoint}/`, { method: 'POST', headers: req.headers as Record<string, string>, body })).text();
}

async function invoke(name: string): Promise<Record<string, unknown>> {
  const r = await api.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{}') }));
  const text = Buffer.from(r.Payload ?? []).toString();
  if (r.FunctionError) throw new Error(`the function failed: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

beforeAll(async () => {
  srv = await startReal({ env: { PCLOUD_LAMBDA_IDLE_SEC: '2', ...(process.env.PCLOUD_LAMBDA_LISTEN ? { PCLOUD_LAMBDA_LISTEN: process.env.PCLOUD_LAMBDA_LISTEN } : {}) } });
  api = new LambdaClient({ endpoint: srv.endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  ROLE = await lambdaRole(srv.endpoint, CREDS, `fn-caller-${stamp}`);
});
afterAll(async () => {
  for (const n of names) await api?.send(new DeleteFunctionCommand({ FunctionName: n })).catch(() => undefined);
  await srv?.stop();
});

/** boto3 for Python functions, as .ci/setup-host installs it (from the Python package index this kind of machine has): skipped without one. */
const SDK = existsSync('/usr/local/lib/pcloud/python-sdk/boto3');

describe('a Python function calls pcloud with boto3 and no keys', () => {
  it.skipIf(!SDK)('as its role: who it is, denied what its role lacks, allowed once a policy allows it', async () => {
    const name = `boto-${stamp}`;
    names.push(name);
    await api.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Timeout: 30, Code: { ZipFile: zip({ 'app.py': HANDLER }) } }));
    const first = await invoke(name);
    expect(first.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first).toMatchObject({ region: 'us-east-1', token: true, secret: true });
    expect(String(first.boto3) >= '1.28').toBe(true);
    expect(first.key).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(first.arn).toBe(`arn:aws:sts::${/:(\d{12}):/.exec(ROLE)![1]}:assumed-role/fn-caller-${stamp}/${name}`);
    // Nothing allows the role ec2:DescribeRegions yet.
    expect(first.regions).toBe('UnauthorizedOperation');
    const attached = await iam({ Action: 'AttachRolePolicy', RoleName: `fn-caller-${stamp}`, PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess' });
    expect(attached).toContain('AttachRolePolicyResponse');
    expect((await invoke(name)).regions).toContain('us-east-1');
  });
});
