/**
 * Real clients against a real `pcloud serve` launching real containers: the AWS CLI, boto3, Terraform's AWS
 * provider and the AWS SDK for JavaScript v3, each unchanged, each pointed only at the endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  DescribeInstancesCommand, RunInstancesCommand, TerminateInstancesCommand, waitUntilInstanceRunning, waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { hostInventory, ROOT, startReal, type RealServer } from '../test/support/real.js';

/**
 * "The physical network" public and Elastic IPs come from (Terraform's aws_eip, aws_nat_gateway): a namespace of this
 * suite's own behind a veth, the external network's parent. Nothing is sent to any address outside this machine.
 */
const LAN = { ns: 'pcloud-test-compatlan', parent: 'ptcompatlan', cidr: '192.0.2.0/24', router: '192.0.2.1', pool: '192.0.2.100-192.0.2.120' };
const dropLan = `ip netns del ${LAN.ns} 2>/dev/null; ip link del ${LAN.parent} 2>/dev/null; true`;

let srv: RealServer;
let before: ReturnType<typeof hostInventory>;
beforeAll(async () => {
  execFileSync('sh', ['-c', `${dropLan}; ip netns add ${LAN.ns} &&
    ip link add ${LAN.parent} type veth peer name eth0 netns ${LAN.ns} && ip link set ${LAN.parent} up &&
    ip -n ${LAN.ns} addr add ${LAN.router}/24 dev eth0 && ip -n ${LAN.ns} link set eth0 up && ip -n ${LAN.ns} link set lo up`]);
  srv = await startReal({
    env: { PCLOUD_EXTERNAL_PARENT: LAN.parent, PCLOUD_EXTERNAL_CIDR: LAN.cidr, PCLOUD_EXTERNAL_POOL: LAN.pool, PCLOUD_EXTERNAL_GATEWAY: LAN.router },
  });
  before = hostInventory();
});
afterAll(async () => {
  await srv?.stop();
  execFileSync('sh', ['-c', dropLan]);
});

function runScript(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...srv.env, IMAGE_ID: srv.imageId }, cwd: ROOT });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('exit', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('real clients', () => {
  it('AWS CLI: run, describe with filters and paging, tags, key pairs, attributes, waiters, errors, terminate', async () => {
    const res = await runScript('bash', [join(ROOT, 'compat/aws-cli.sh')]);
    console.log(res.out);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/aws-cli: \d+ passed, 0 failed/);
  }, 300_000);

  it('AWS CLI iam and sts: users and keys, roles, instance profiles, the account summary; pcloud account create while serving', async () => {
    const res = await runScript('bash', [join(ROOT, 'compat/aws-cli-iam.sh')]);
    console.log(res.out);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/aws-cli-iam: \d+ passed, 0 failed/);
  }, 300_000);

  it('boto3: run, idempotency, waiters, paginator, attributes, console, errors, terminate', async () => {
    const res = await runScript('python3', [join(ROOT, 'compat/boto3_test.py')]);
    console.log(res.out);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/boto3: \d+ passed, 0 failed/);
  }, 300_000);

  // The configurations are apart (names, CIDRs, key pairs of their own) and mostly wait on the provider's polling
  // (create, destroy): they run at once, each its own `terraform`, as a team's would against one endpoint.
  it.concurrent.for<[string, string]>([
    ['instance', 'aws_key_pair + aws_instance with user_data and tags'],
    ['vpc', 'aws_vpc + aws_subnet + aws_internet_gateway + aws_security_group + aws_instance in the subnet'],
    ['lambda', 'aws_lambda_function from a zip + data.aws_lambda_invocation'],
    ['longtail', 'the long tail real configurations use (longtail/*.tf: each file says what it covers)'],
    ['identity', 'aws_iam_role + aws_iam_role_policy_attachment + aws_lambda_function using the role + aws_iam_instance_profile + aws_instance with it'],
  ])('Terraform %s: %s: apply, plan shows no changes, destroy', { timeout: 600_000 }, async ([config], { expect }) => {
    const res = await runScript('bash', [join(ROOT, 'compat/terraform/run.sh'), config]);
    console.log(res.out.split('\n').filter((l) => /^(ok|not ok)|Error|error|terraform|Plan:|Apply complete|Destroy complete/.test(l)).join('\n'));
    if (res.code !== 0) console.log(res.out);
    expect(res.code).toBe(0);
    expect(res.out).toContain('No changes.');
    expect(res.out).toContain(`terraform ${config}: passed`);
  });

  it('AWS SDK for JavaScript v3: run, waitUntilInstanceRunning, terminate, waitUntilInstanceTerminated', async () => {
    const res = await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1,
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'suite', Value: 'sdk-v3' }] }],
    }));
    const id = res.Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client: srv.ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { InstanceIds: [id] });
    const found = await srv.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:suite', Values: ['sdk-v3'] }, { Name: 'instance-state-name', Values: ['running'] }] }));
    expect(found.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(id);
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ client: srv.ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { InstanceIds: [id] });
  });

  it('after every client is done, nothing of their instances remains on the host', () => {
    const after = hostInventory();
    expect(after).toEqual(before);
  });
});
