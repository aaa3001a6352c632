/**
 * A real execution role for the tests' functions, as a user makes one: `lambda-role` (unless named otherwise), whose
 * trust policy lets lambda.amazonaws.com assume it, created through the IAM API (CreateRole, signed as a client signs
 * it, for us-east-1), or found when it is there already (idempotent: every test file of a run may ask). Resolves to its
 * ARN, which CreateFunction takes.
 */
import aws4 from 'aws4';

/** The trust policy of a Lambda execution role. */
export const LAMBDA_TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

export interface RoleKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** One IAM Query call: the response's text, its status. */
async function iamCall(endpoint: string, key: RoleKey, params: Record<string, string>): Promise<{ status: number; text: string }> {
  const url = new URL(endpoint);
  const body = new URLSearchParams({ ...params, Version: '2010-05-08' }).toString();
  const req = aws4.sign({
    host: url.host, method: 'POST', path: '/', body, service: 'iam', region: 'us-east-1',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
  }, key);
  const res = await fetch(`${url.origin}/`, { method: 'POST', headers: req.headers as Record<string, string>, body });
  return { status: res.status, text: await res.text() };
}

const arnIn = (xml: string) => /<Arn>([^<]+)<\/Arn>/.exec(xml)?.[1];

/** The role (made if missing) with `trust` as its trust policy: its ARN. */
export async function lambdaRole(endpoint: string, key: RoleKey, name = 'lambda-role', trust = LAMBDA_TRUST): Promise<string> {
  const made = await iamCall(endpoint, key, { Action: 'CreateRole', RoleName: name, AssumeRolePolicyDocument: trust });
  if (made.status === 200 && arnIn(made.text)) return arnIn(made.text)!;
  if (!made.text.includes('<Code>EntityAlreadyExists</Code>')) throw new Error(`CreateRole ${name}: ${made.status} ${made.text.slice(0, 500)}`);
  const got = await iamCall(endpoint, key, { Action: 'GetRole', RoleName: name });
  const arn = arnIn(got.text);
  if (got.status !== 200 || !arn) throw new Error(`GetRole ${name}: ${got.status} ${got.text.slice(0, 500)}`);
  return arn;
}
