/**
 * Policies enforced on a real `pcloud serve`, as a user meets them with the AWS CLI: root makes a user with a key and
 * AmazonEC2ReadOnlyAccess; with that key `aws ec2 describe-instances` lists, `run-instances` and `terminate-instances`
 * fail with UnauthorizedOperation (the CLI's exit code and AWS's error code), and nothing is started or ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { startReal, type RealServer } from '../support/real.js';

let srv: RealServer;
beforeAll(async () => { srv = await startReal(); });
afterAll(async () => { await srv?.stop(); });

/** The AWS CLI (v1) against the server, with the environment's credentials or the given ones. */
function aws(args: string[], creds?: { AccessKeyId: string; SecretAccessKey: string }) {
  const env = { ...process.env, ...srv.env, ...(creds ? { AWS_ACCESS_KEY_ID: creds.AccessKeyId, AWS_SECRET_ACCESS_KEY: creds.SecretAccessKey } : {}) };
  const r = spawnSync('aws', ['--endpoint-url', srv.endpoint, '--output', 'json', ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[], creds?: { AccessKeyId: string; SecretAccessKey: string }): unknown {
  const r = aws(args, creds);
  expect(r.status, `aws ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
}

/** The account's instances neither ended nor ending, as root sees them. */
function liveIds(): string[] {
  const all = ok(['ec2', 'describe-instances']) as { Reservations: { Instances: { InstanceId: string; State: { Name: string } }[] }[] };
  return all.Reservations.flatMap((r) => r.Instances).filter((i) => !['terminated', 'shutting-down'].includes(i.State.Name)).map((i) => i.InstanceId).sort();
}

describe('a read-only IAM user, with the AWS CLI', () => {
  it('describes, and is refused run-instances and terminate-instances with UnauthorizedOperation', async () => {
    ok(['iam', 'create-user', '--user-name', 'ro-cli']);
    const key = (ok(['iam', 'create-access-key', '--user-name', 'ro-cli']) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } }).AccessKey;
    ok(['iam', 'attach-user-policy', '--user-name', 'ro-cli', '--policy-arn', 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess']);
    const attached = ok(['iam', 'list-attached-user-policies', '--user-name', 'ro-cli']) as { AttachedPolicies: { PolicyName: string }[] };
    expect(attached.AttachedPolicies.map((p) => p.PolicyName)).toEqual(['AmazonEC2ReadOnlyAccess']);
    const me = ok(['sts', 'get-caller-identity'], key) as { Arn: string };
    expect(me.Arn).toMatch(/^arn:aws:iam::\d{12}:user\/ro-cli$/);

    const run = ok(['ec2', 'run-instances', '--image-id', srv.imageId, '--instance-type', 't3.nano', '--count', '1']) as { Instances: { InstanceId: string }[] };
    const id = run.Instances[0]!.InstanceId;
    try {
      const listed = ok(['ec2', 'describe-instances', '--instance-ids', id], key) as { Reservations: { Instances: { InstanceId: string }[] }[] };
      expect(listed.Reservations[0]!.Instances[0]!.InstanceId).toBe(id);

      const before = liveIds();
      const refusedRun = aws(['ec2', 'run-instances', '--image-id', srv.imageId, '--instance-type', 't3.nano', '--count', '1'], key);
      expect(refusedRun.status).not.toBe(0);
      expect(refusedRun.stderr).toContain('(UnauthorizedOperation)');
      expect(refusedRun.stderr).toMatch(/is not authorized to perform: ec2:RunInstances on resource: /);

      const refusedTerm = aws(['ec2', 'terminate-instances', '--instance-ids', id], key);
      expect(refusedTerm.status).not.toBe(0);
      expect(refusedTerm.stderr).toContain('(UnauthorizedOperation)');
      expect(refusedTerm.stderr).toContain(`ec2:TerminateInstances on resource: arn:aws:ec2:us-east-1:`);

      const refusedIam = aws(['iam', 'create-user', '--user-name', 'sneaky'], key);
      expect(refusedIam.stderr).toContain('(AccessDenied)');

      // Nothing started, nothing ended.
      expect(liveIds()).toEqual(before);
      expect(before).toContain(id);
    } finally {
      ok(['ec2', 'terminate-instances', '--instance-ids', id]);
      ok(['iam', 'detach-user-policy', '--user-name', 'ro-cli', '--policy-arn', 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess']);
      ok(['iam', 'delete-access-key', '--user-name', 'ro-cli', '--access-key-id', key.AccessKeyId]);
      ok(['iam', 'delete-user', '--user-name', 'ro-cli']);
    }
  });
});
