/**
 * The pcloud API from inside an instance, as a user there calls it: the VPC's DNS gives the API's address for the
 * region's service names, the metadata service says the region, the guest trusts pcloud's CA, and the unmodified AWS
 * CLI in the default image works with no endpoint, region or CA configured: with keys in the environment (one
 * container), and with none at all in a second launched with an instance profile (its role's credentials from the
 * metadata service, its policies enforced).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { DescribeInstancesCommand, RunInstancesCommand, TerminateInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { CLI, CREDS, DATA, leaderOf, startReal, waitForState, waitStatusOk, type RealServer } from '../support/real.js';
import { API_IP } from '../../src/host/metadata.js';
import { apiServiceNames } from '../../src/host/tls.js';

let srv: RealServer;
let inst: Instance;
let ca: string;
const REGION = 'us-east-1';

/** Run a command inside a container as its root, with only this environment (nothing of the test's leaks in). */
function insideOf(id: string, cmd: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const vars = Object.entries({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...env }).map(([k, v]) => `${k}=${v}`);
  return spawnSync('nsenter', ['-t', String(leaderOf(id)), '-U', '-m', '-u', '-i', '-n', '-p', '--', 'env', '-i', ...vars, ...cmd],
    { encoding: 'utf8', timeout: 120_000 });
}
const inside = (cmd: string[], env: Record<string, string> = {}) => insideOf(inst.InstanceId!, cmd, env);

/** The host's AWS CLI against the server's main endpoint, as the operator (root's key). */
function hostAws(args: string[]): string {
  const r = spawnSync('aws', ['--endpoint-url', srv.endpoint, '--region', REGION, '--output', 'json', ...args],
    { env: { ...process.env, ...srv.env }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`aws ${args.slice(0, 2).join(' ')}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  srv = await startReal();
  ca = execFileSync(process.execPath, [CLI, 'ca', '--data', DATA]).toString();
  const run = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  inst = run.Instances![0]!;
  await waitForState(srv.ec2, inst.InstanceId!, 'running');
  // cloud-init has finished (its vendor-data, the CA, applied).
  await waitStatusOk(srv.ec2, inst.InstanceId!, 180_000, 500);
}, 300_000);
afterAll(async () => {
  if (inst?.InstanceId) await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId] })).catch(() => undefined);
  await srv?.stop();
});

describe('the pcloud API inside a VPC', () => {
  it('`pcloud ca` prints a CA certificate', () => {
    expect(new X509Certificate(ca).ca).toBe(true);
  });

  it('the VPC\'s DNS gives the API\'s address for each of the region\'s service names', () => {
    for (const name of apiServiceNames(REGION)) {
      const r = inside(['getent', 'hosts', name]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split(/\s+/)).toEqual([API_IP, name]);
    }
    // Other amazonaws.com names are not pcloud's to answer.
    expect(inside(['getent', 'hosts', 's3.us-east-1.amazonaws.com']).stdout).not.toContain(API_IP);
  });

  it('the metadata service says the region', () => {
    const py = "import urllib.request as u; print(u.urlopen('http://169.254.169.254/latest/meta-data/placement/region').read().decode())";
    expect(inside(['python3', '-c', py]).stdout.trim()).toBe(REGION);
  });

  it('the guest trusts pcloud\'s CA: cloud-init put it in the system store from the seed\'s vendor-data', () => {
    const vendor = inside(['cat', '/var/lib/cloud/seed/nocloud/vendor-data']).stdout;
    expect(vendor).toContain('ca_certs:');
    const store = inside(['cat', '/etc/ssl/certs/ca-certificates.crt']).stdout;
    const body = new X509Certificate(ca).toString().split('\n')[1]!;
    expect(store).toContain(body);
  });

  it('the AWS CLI, with only keys in the environment (no endpoint, region or CA), calls STS and EC2 over TLS', async () => {
    const keys = { AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey };
    const who = inside(['aws', 'sts', 'get-caller-identity', '--output', 'json'], keys);
    expect(who.status, who.stderr).toBe(0);
    const owner = (await srv.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.InstanceId!] }))).Reservations![0]!.OwnerId!;
    expect(JSON.parse(who.stdout)).toMatchObject({ Account: owner, Arn: `arn:aws:iam::${owner}:root` });
    const described = inside(['aws', 'ec2', 'describe-instances', '--instance-ids', inst.InstanceId!, '--query', 'Reservations[].Instances[].PrivateIpAddress', '--output', 'text'], keys);
    expect(described.status, described.stderr).toBe(0);
    expect(described.stdout.trim()).toBe(inst.PrivateIpAddress);
    // A wrong key is refused by pcloud over the same path (it is pcloud answering, not something else).
    const wrong = inside(['aws', 'ec2', 'describe-instances'], { ...keys, AWS_SECRET_ACCESS_KEY: 'wrong' });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/AuthFailure|SignatureDoesNotMatch/);
  });

  it('a client that does not trust pcloud\'s CA is refused the connection', () => {
    const r = inside(['python3', '-c', `import ssl, socket
c = ssl.create_default_context(cafile='/usr/lib/python3/dist-packages/awscli/botocore/cacert.pem')
try:
    c.wrap_socket(socket.create_connection(('ec2.${REGION}.amazonaws.com', 443), timeout=10), server_hostname='ec2.${REGION}.amazonaws.com')
    print('trusted')
except ssl.SSLCertVerificationError:
    print('refused')`]);
    expect(r.stdout.trim(), r.stderr).toBe('refused');
  });
});

describe('with an instance profile and no keys at all', () => {
  let reader: Instance;

  beforeAll(async () => {
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
    const describeOnly = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }] };
    hostAws(['iam', 'create-role', '--role-name', 'vpce-reader', '--assume-role-policy-document', JSON.stringify(trust)]);
    hostAws(['iam', 'put-role-policy', '--role-name', 'vpce-reader', '--policy-name', 'describe', '--policy-document', JSON.stringify(describeOnly)]);
    hostAws(['iam', 'create-instance-profile', '--instance-profile-name', 'vpce-reader']);
    hostAws(['iam', 'add-role-to-instance-profile', '--instance-profile-name', 'vpce-reader', '--role-name', 'vpce-reader']);
    const run = await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, IamInstanceProfile: { Name: 'vpce-reader' },
    }));
    reader = run.Instances![0]!;
    await waitForState(srv.ec2, reader.InstanceId!, 'running');
    await waitStatusOk(srv.ec2, reader.InstanceId!, 180_000, 500);
  }, 300_000);
  afterAll(async () => {
    if (reader?.InstanceId) await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [reader.InstanceId] })).catch(() => undefined);
  });

  it('`aws ec2 describe-instances` (no keys, no endpoint, no region) lists the instance itself, as the role\'s session', () => {
    const who = insideOf(reader.InstanceId!, ['aws', 'sts', 'get-caller-identity', '--output', 'json']);
    expect(who.status, who.stderr).toBe(0);
    expect((JSON.parse(who.stdout) as { Arn: string }).Arn).toMatch(new RegExp(`^arn:aws:sts::\\d{12}:assumed-role/vpce-reader/${reader.InstanceId}$`));
    const described = insideOf(reader.InstanceId!, ['aws', 'ec2', 'describe-instances', '--filters', `Name=instance-id,Values=${reader.InstanceId}`,
      '--query', 'Reservations[].Instances[].[InstanceId,PrivateIpAddress]', '--output', 'text']);
    expect(described.status, described.stderr).toBe(0);
    expect(described.stdout.trim().split(/\s+/)).toEqual([reader.InstanceId, reader.PrivateIpAddress]);
  });

  it('a call its role lacks is UnauthorizedOperation, and nothing is launched', async () => {
    const before = (await srv.ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!).length;
    const ran = insideOf(reader.InstanceId!, ['aws', 'ec2', 'run-instances', '--image-id', srv.imageId, '--instance-type', 't3.micro']);
    expect(ran.status).not.toBe(0);
    expect(ran.stderr).toContain('UnauthorizedOperation');
    expect((await srv.ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!).length).toBe(before);
  });
});
