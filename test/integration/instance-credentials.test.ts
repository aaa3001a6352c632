/**
 * Instance profile credentials for real (issue 16): a container launched with an instance profile reads its role's
 * credentials from the metadata service with IMDSv2 (python3 inside the guest, through its VPC router), and those
 * credentials sign a real request: the AWS CLI on the host, given only them, is the assumed role
 * `assumed-role/ROLE/i-…`. (From inside the VPC with no keys at all is the "vpc-endpoint" suite's.) Profiles and roles
 * are written as rows until the IAM API that makes them is merged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DATA, leaderOf, startReal, waitForState, type RealServer } from '../support/real.js';
import { putRole } from '../support/iam-rows.js';
import { putProfile } from '../support/profile-rows.js';
import { openDb } from '../../src/db/index.js';

const ACCOUNT = '000000000000';
let srv: RealServer;
let id: string | undefined;

beforeAll(async () => {
  srv = await startReal();
  const db = openDb(join(DATA, 'pcloud.db'));
  await putRole(db, { accountId: ACCOUNT, name: 'it-role' });
  await putProfile(db, { accountId: ACCOUNT, name: 'it-profile', roleName: 'it-role' });
});
afterAll(async () => {
  if (id) await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  await srv?.stop();
});

/** Run a command inside a running container (through its leader's namespaces). */
function inside(instanceId: string, cmd: string[]): string {
  return execFileSync('nsenter', ['-t', String(leaderOf(instanceId)), '-m', '-u', '-i', '-n', '-p', '--', ...cmd], { timeout: 60_000 }).toString().trim();
}

const IMDS_V2 = `
import json, urllib.request
base = 'http://169.254.169.254/latest'
tok = urllib.request.urlopen(urllib.request.Request(base + '/api/token', method='PUT', headers={'X-aws-ec2-metadata-token-ttl-seconds': '60'})).read().decode()
get = lambda p: urllib.request.urlopen(urllib.request.Request(base + p, headers={'X-aws-ec2-metadata-token': tok})).read().decode()
role = get('/meta-data/iam/security-credentials/').strip()
print(json.dumps({'role': role, 'info': json.loads(get('/meta-data/iam/info')), 'creds': json.loads(get('/meta-data/iam/security-credentials/' + role)), 'region': get('/meta-data/placement/region')}))
`;

describe('instance profile credentials from inside a container', () => {
  it('IMDSv2 gives the role\'s credentials, which sign as the assumed role', async () => {
    const res = await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, IamInstanceProfile: { Name: 'it-profile' },
      MetadataOptions: { HttpTokens: 'required' },
    }));
    id = res.Instances![0]!.InstanceId!;
    expect(res.Instances![0]!.IamInstanceProfile?.Arn).toBe(`arn:aws:iam::${ACCOUNT}:instance-profile/it-profile`);
    await waitForState(srv.ec2, id, 'running');
    const got = JSON.parse(inside(id, ['python3', '-c', IMDS_V2])) as {
      role: string; region: string; info: Record<string, string>; creds: Record<string, string>;
    };
    expect(got.role).toBe('it-role');
    expect(got.region).toBe('us-east-1');
    expect(got.info).toMatchObject({ Code: 'Success', InstanceProfileArn: `arn:aws:iam::${ACCOUNT}:instance-profile/it-profile` });
    expect(got.creds).toMatchObject({ Code: 'Success', Type: 'AWS-HMAC' });
    expect(got.creds.AccessKeyId).toMatch(/^ASIA/);

    const out = execFileSync('aws', ['sts', 'get-caller-identity', '--endpoint-url', srv.endpoint, '--output', 'json'], {
      env: {
        ...process.env, ...srv.env, AWS_ACCESS_KEY_ID: got.creds.AccessKeyId!, AWS_SECRET_ACCESS_KEY: got.creds.SecretAccessKey!,
        AWS_SESSION_TOKEN: got.creds.Token!,
      },
      timeout: 60_000,
    }).toString();
    expect(JSON.parse(out)).toMatchObject({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/it-role/${id}` });
  });
});
