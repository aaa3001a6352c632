/**
 * STS with real clients against a real `pcloud serve`: the AWS CLI (compat/sts-cli.sh) and boto3 (compat/sts_boto3.py)
 * assume a role they created and sign with the temporary credentials they got. No instance is launched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, startReal, type RealServer } from '../test/support/real.js';

let srv: RealServer;
beforeAll(async () => { srv = await startReal(); });
afterAll(async () => { await srv?.stop(); });

function runScript(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...srv.env }, cwd: ROOT });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('exit', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('real clients: STS', () => {
  it('AWS CLI: assume-role, get-caller-identity with AWS_SESSION_TOKEN, get-session-token, the errors', async () => {
    const res = await runScript('bash', [join(ROOT, 'compat/sts-cli.sh')]);
    console.log(res.out);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/sts-cli: \d+ passed, 0 failed/);
  }, 300_000);

  it('boto3: assume_role with an ExternalId, the session acting as the role, the refusals', async () => {
    const res = await runScript('python3', [join(ROOT, 'compat/sts_boto3.py')]);
    console.log(res.out);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/sts-boto3: \d+ passed, 0 failed/);
  }, 120_000);
});
