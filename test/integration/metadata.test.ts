/**
 * The instance metadata service for real: requests from real instance network namespaces to 169.254.169.254 through
 * their VPC routers, IMDSv1/v2 rules, each instance (and account, and overlapping VPC) seeing only its own data, the
 * identity document's signatures checked with openssl, and cloud-init in the Debian image: seeded at boot, and its Ec2
 * datasource crawling the service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createVerify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSubnetCommand, CreateTagsCommand, CreateVpcCommand, DeleteKeyPairCommand, DeleteSubnetCommand, DeleteVpcCommand,
  DescribeInstancesCommand, EC2Client, ImportKeyPairCommand, ModifyInstanceMetadataOptionsCommand, RunInstancesCommand,
  TerminateInstancesCommand, type Instance,
} from '@aws-sdk/client-ec2';
import { CLI, DATA, leaderOf, startReal, type RealServer } from '../support/real.js';
import { until } from '../support/api.js';
import { generateKeyPair } from '../../src/cloud/sshkeys.js';

let srv: RealServer;
let other: EC2Client;
const OTHER = { accessKeyId: 'AKIDPCLOUDTEST00002', secretAccessKey: 'pcloud-test-secret-key-2', accountId: '111122223333' };

beforeAll(async () => {
  srv = await startReal();
  // A second account, made the way an operator would: `pcloud credentials` with the key in the environment.
  execFileSync(process.execPath, [CLI, 'credentials', '--data', DATA], {
    env: { ...process.env, PCLOUD_ACCOUNT_ID: OTHER.accountId, PCLOUD_ACCESS_KEY_ID: OTHER.accessKeyId, PCLOUD_SECRET_ACCESS_KEY: OTHER.secretAccessKey },
  });
  other = new EC2Client({ endpoint: srv.endpoint, region: 'us-east-1', credentials: OTHER, maxAttempts: 1 });
});
afterAll(async () => { await srv?.stop(); });

async function describe1(client: EC2Client, id: string): Promise<Instance> {
  return (await client.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
}

async function running(client: EC2Client, id: string): Promise<Instance> {
  return until(async () => {
    const inst = await describe1(client, id);
    return inst.State?.Name === 'running' ? inst : undefined;
  }, 90_000, 100);
}

interface Reply { status: number; headers: Record<string, string>; body: string }

/** One HTTP request to the metadata service from a network namespace (an instance's, unless given). */
function imds(ns: string, method: string, path: string, headers: Record<string, string> = {}, timeoutMs = 5000): Reply {
  const script = `
    const req = require('http').request({ host: '169.254.169.254', port: 80, path: ${JSON.stringify(path)}, method: ${JSON.stringify(method)},
      headers: ${JSON.stringify(headers)}, timeout: ${timeoutMs} }, (res) => {
      let body = ''; res.setEncoding('utf8'); res.on('data', (c) => body += c);
      res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, headers: res.headers, body })));
    });
    req.on('timeout', () => { console.log(JSON.stringify({ status: 0, headers: {}, body: 'timeout' })); process.exit(0); });
    req.on('error', (e) => console.log(JSON.stringify({ status: -1, headers: {}, body: e.message })));
    req.end();`;
  const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { timeout: timeoutMs + 5000 }).toString();
  return JSON.parse(out) as Reply;
}
const of = (id: string) => `pcloud-${id}`;
const get = (id: string, path: string, headers: Record<string, string> = {}) => imds(of(id), 'GET', path, headers);
const token = (id: string, ttl = '21600') => imds(of(id), 'PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': ttl });

/** Run a command inside a running container (host side, through its leader's namespaces). */
function inside(id: string, cmd: string[], input?: string): string {
  return execFileSync('nsenter', ['-t', String(leaderOf(id)), '-m', '-u', '-i', '-n', '-p', '--', ...cmd], { input, timeout: 120_000 }).toString().trim();
}

describe('instance metadata service', () => {
  const key = generateKeyPair('ed25519', 'imds-key');
  const userData = '#!/bin/sh\necho from-user-data > /var/tmp/imds-marker\n';
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    await srv.ec2.send(new ImportKeyPairCommand({ KeyName: 'imds-key', PublicKeyMaterial: Buffer.from(key.publicKey) }));
    const ra = await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, KeyName: 'imds-key',
      UserData: Buffer.from(userData).toString('base64'),
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'imds-a' }, { Key: 'team', Value: 'blue' }] }],
    }));
    const rb = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }));
    a = await running(srv.ec2, ra.Instances![0]!.InstanceId!);
    b = await running(srv.ec2, rb.Instances![0]!.InstanceId!);
  });

  afterAll(async () => {
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a.InstanceId!, b.InstanceId!] }));
    await srv.ec2.send(new DeleteKeyPairCommand({ KeyName: 'imds-key' }));
  });

  it('answers each instance with its own data (IMDSv1), listings as EC2 formats them', () => {
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id').body).toBe(a.InstanceId);
    expect(get(b.InstanceId!, '/latest/meta-data/instance-id').body).toBe(b.InstanceId);
    const root = get(a.InstanceId!, '/latest/meta-data/');
    expect(root.status).toBe(200);
    const entries = root.body.split('\n');
    for (const e of ['ami-id', 'hostname', 'instance-id', 'instance-type', 'local-ipv4', 'mac', 'network/', 'placement/', 'public-keys/', 'reservation-id', 'security-groups', 'services/']) {
      expect(entries).toContain(e);
    }
    expect(entries).not.toContain('tags/');
    expect(get(a.InstanceId!, '/latest/meta-data/local-ipv4').body).toBe(a.PrivateIpAddress);
    expect(get(a.InstanceId!, '/latest/meta-data/hostname').body).toBe(a.PrivateDnsName);
    expect(get(a.InstanceId!, '/latest/meta-data/placement/availability-zone').body).toBe('us-east-1a');
    expect(get(a.InstanceId!, '/latest/meta-data/public-keys/').body).toBe('0=imds-key');
    expect(get(a.InstanceId!, '/latest/meta-data/public-keys/0/').body).toBe('openssh-key');
    expect(get(a.InstanceId!, '/latest/meta-data/public-keys/0/openssh-key').body.trim()).toBe(key.publicKey.trim());
    const mac = a.NetworkInterfaces![0]!.MacAddress!;
    expect(get(a.InstanceId!, '/latest/meta-data/network/interfaces/macs/').body).toBe(`${mac}/`);
    expect(get(a.InstanceId!, `/latest/meta-data/network/interfaces/macs/${mac}/local-ipv4s`).body).toBe(a.PrivateIpAddress);
    expect(get(a.InstanceId!, `/latest/meta-data/network/interfaces/macs/${mac}/vpc-id`).body).toBe(a.VpcId);
    // Versions: latest and dated ones; an unknown one is 404.
    expect(get(a.InstanceId!, '/').body.split('\n')).toEqual(expect.arrayContaining(['2009-04-04', '2021-03-23', 'latest']));
    expect(get(a.InstanceId!, '/2021-03-23/meta-data/instance-id').body).toBe(a.InstanceId);
    expect(get(a.InstanceId!, '/1999-01-01/meta-data/instance-id').status).toBe(404);
    expect(get(a.InstanceId!, '/latest/meta-data/no-such-thing').status).toBe(404);
    // user-data: the bytes given at launch; 404 for an instance without any.
    expect(get(a.InstanceId!, '/latest/').body.split('\n')).toEqual(['dynamic', 'meta-data', 'user-data']);
    expect(get(a.InstanceId!, '/latest/user-data').body).toBe(userData);
    expect(get(b.InstanceId!, '/latest/user-data').status).toBe(404);
    expect(get(b.InstanceId!, '/latest/meta-data/public-keys/').status).toBe(404);
  });

  it('IMDSv2: token TTL checked, tokens bound to their instance, X-Forwarded-For refused, HttpTokens=required enforced', async () => {
    expect(imds(of(a.InstanceId!), 'PUT', '/latest/api/token').status).toBe(400);
    expect(token(a.InstanceId!, '0').status).toBe(400);
    expect(token(a.InstanceId!, '21601').status).toBe(400);
    expect(imds(of(a.InstanceId!), 'PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '60', 'X-Forwarded-For': '10.0.0.1' }).status).toBe(403);
    const t = token(a.InstanceId!, '60');
    expect(t.status).toBe(200);
    expect(t.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('60');
    const withToken = { 'X-aws-ec2-metadata-token': t.body };
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id', withToken).body).toBe(a.InstanceId);
    // Another instance cannot use it; a made-up token is refused even while tokens are optional.
    expect(get(b.InstanceId!, '/latest/meta-data/instance-id', withToken).status).toBe(401);
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': 'bogus' }).status).toBe(401);
    // An expired one too.
    const short = token(a.InstanceId!, '1').body;
    await new Promise((r) => setTimeout(r, 1500));
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': short }).status).toBe(401);

    const res = await srv.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: a.InstanceId, HttpTokens: 'required' }));
    expect(res.InstanceMetadataOptions?.HttpTokens).toBe('required');
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id').status).toBe(401);
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id', withToken).body).toBe(a.InstanceId);
    expect((await describe1(srv.ec2, a.InstanceId!)).MetadataOptions?.HttpTokens).toBe('required');
    await srv.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: a.InstanceId, HttpEndpoint: 'disabled' }));
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id', withToken).status).toBe(403);
    await srv.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: a.InstanceId, HttpEndpoint: 'enabled', HttpTokens: 'optional' }));
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id').body).toBe(a.InstanceId);
  });

  it('honours the hop limit: the token answer dies one hop past it (a container inside the instance)', async () => {
    // A namespace behind the instance's, NATed by it: one forwarding hop more, as a container in the instance.
    const nest = `pcloud-test-nest`;
    const ns = of(a.InstanceId!);
    execFileSync('sh', ['-c', `ip netns del ${nest} 2>/dev/null; ip netns add ${nest} &&
      ip link add nest0 netns ${ns} type veth peer name eth0 netns ${nest} &&
      ip -n ${ns} addr add 192.168.250.1/30 dev nest0 && ip -n ${ns} link set nest0 up &&
      ip -n ${nest} addr add 192.168.250.2/30 dev eth0 && ip -n ${nest} link set eth0 up && ip -n ${nest} link set lo up &&
      ip -n ${nest} route add default via 192.168.250.1 &&
      ip netns exec ${ns} sysctl -q -w net.ipv4.ip_forward=1 &&
      ip netns exec ${ns} nft add table ip nest &&
      ip netns exec ${ns} nft add chain ip nest post '{ type nat hook postrouting priority srcnat; }' &&
      ip netns exec ${ns} nft add rule ip nest post oifname eth0 masquerade`]);
    try {
      const put = () => imds(nest, 'PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '60' }, 2000).status;
      expect(token(a.InstanceId!).status).toBe(200);
      expect(put()).toBe(0);
      await srv.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: a.InstanceId, HttpPutResponseHopLimit: 2 }));
      expect(put()).toBe(200);
    } finally {
      execFileSync('sh', ['-c', `ip netns del ${nest}; ip netns exec ${ns} nft delete table ip nest; true`]);
      await srv.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: a.InstanceId, HttpPutResponseHopLimit: 1 }));
    }
  });

  it('shows tags only when InstanceMetadataTags is enabled, and follows their changes', async () => {
    expect(get(a.InstanceId!, '/latest/meta-data/tags/instance/').status).toBe(404);
    await srv.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: a.InstanceId, InstanceMetadataTags: 'enabled' }));
    expect(get(a.InstanceId!, '/latest/meta-data/tags/instance/').body.split('\n').sort()).toEqual(['Name', 'team']);
    expect(get(a.InstanceId!, '/latest/meta-data/tags/instance/team').body).toBe('blue');
    await srv.ec2.send(new CreateTagsCommand({ Resources: [a.InstanceId!], Tags: [{ Key: 'team', Value: 'red' }] }));
    expect(get(a.InstanceId!, '/latest/meta-data/tags/instance/team').body).toBe('red');
  });

  it('signs the instance identity document with a key pcloud owns (signature and pkcs7 verify against its certificate)', async () => {
    const doc = get(a.InstanceId!, '/latest/dynamic/instance-identity/document').body;
    expect(JSON.parse(doc)).toMatchObject({
      instanceId: a.InstanceId, accountId: '000000000000', privateIp: a.PrivateIpAddress, imageId: srv.imageId,
      instanceType: 't3.micro', region: 'us-east-1', availabilityZone: 'us-east-1a', architecture: 'x86_64', version: '2017-09-30',
    });
    expect(get(a.InstanceId!, '/latest/dynamic/instance-identity/').body.split('\n')).toEqual(expect.arrayContaining(['document', 'pkcs7', 'signature']));
    const cert = await (await fetch(`${srv.endpoint}/pcloud/identity-certificate.pem`)).text();
    expect(cert).toContain('BEGIN CERTIFICATE');
    const signature = get(a.InstanceId!, '/latest/dynamic/instance-identity/signature').body;
    expect(createVerify('sha256').update(doc).verify(cert, signature, 'base64')).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-idoc-'));
    try {
      writeFileSync(join(dir, 'document'), doc);
      writeFileSync(join(dir, 'cert.pem'), cert);
      writeFileSync(join(dir, 'pkcs7'), `-----BEGIN PKCS7-----\n${get(a.InstanceId!, '/latest/dynamic/instance-identity/pkcs7').body}\n-----END PKCS7-----\n`);
      const v = spawnSync('openssl', ['smime', '-verify', '-in', join(dir, 'pkcs7'), '-inform', 'PEM', '-content', join(dir, 'document'),
        '-certfile', join(dir, 'cert.pem'), '-noverify'], { encoding: 'utf8' });
      expect(v.stderr).toContain('Verification successful');
      // Tampered content does not verify.
      writeFileSync(join(dir, 'document'), doc.replace(a.InstanceId!, b.InstanceId!));
      const bad = spawnSync('openssl', ['smime', '-verify', '-in', join(dir, 'pkcs7'), '-inform', 'PEM', '-content', join(dir, 'document'),
        '-certfile', join(dir, 'cert.pem'), '-noverify'], { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps an overlapping VPC and another account apart: the same address there reads its own instance', async () => {
    // Another account's instance, and one in an overlapping VPC of ours, both at a's private address.
    const vpc = (await srv.ec2.send(new CreateVpcCommand({ CidrBlock: '172.31.0.0/16' }))).Vpc!;
    const sub = (await srv.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '172.31.0.0/20' }))).Subnet!;
    const twin = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, SubnetId: sub.SubnetId, PrivateIpAddress: a.PrivateIpAddress }))).Instances![0]!;
    const stranger = (await other.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, PrivateIpAddress: a.PrivateIpAddress }))).Instances![0]!;
    await running(srv.ec2, twin.InstanceId!);
    await running(other, stranger.InstanceId!);
    expect(get(twin.InstanceId!, '/latest/meta-data/instance-id').body).toBe(twin.InstanceId);
    expect(get(stranger.InstanceId!, '/latest/meta-data/instance-id').body).toBe(stranger.InstanceId);
    expect((JSON.parse(get(stranger.InstanceId!, '/latest/dynamic/instance-identity/document').body) as { accountId: string }).accountId).toBe(OTHER.accountId);
    expect(get(a.InstanceId!, '/latest/meta-data/instance-id').body).toBe(a.InstanceId);
    // A token of one is no good to the others.
    const t = token(a.InstanceId!).body;
    expect(get(twin.InstanceId!, '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': t }).status).toBe(401);
    expect(get(stranger.InstanceId!, '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': t }).status).toBe(401);
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [twin.InstanceId!] }));
    await other.send(new TerminateInstancesCommand({ InstanceIds: [stranger.InstanceId!] }));
    await until(async () => (await describe1(srv.ec2, twin.InstanceId!)).State?.Name === 'terminated', 60_000, 200);
    await until(async () => (await describe1(other, stranger.InstanceId!)).State?.Name === 'terminated', 60_000, 200);
    await srv.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    await srv.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  });

  it('cloud-init in the image ran from its seed: hostname, key, user-data, status done, and the data we gave', async () => {
    const id = a.InstanceId!;
    expect(inside(id, ['hostname'])).toBe(a.PrivateDnsName!.split('.')[0]);
    const status = inside(id, ['cloud-init', 'status', '--wait']);
    expect(status).toContain('status: done');
    expect(inside(id, ['cat', '/var/tmp/imds-marker'])).toBe('from-user-data');
    expect(inside(id, ['sh', '-c', 'cat /home/*/.ssh/authorized_keys /root/.ssh/authorized_keys 2>/dev/null'])).toContain(key.publicKey.trim().split(' ')[1]);
    const ds = JSON.parse(inside(id, ['cloud-init', 'query', '--all'])) as { v1: Record<string, unknown> };
    expect(ds.v1).toMatchObject({ instance_id: id, local_hostname: a.PrivateDnsName!.split('.')[0] });
  });

  it('cloud-init runs multipart MIME user-data: a #cloud-config part (write_files, runcmd) and a shell script part', async () => {
    const mime = [
      'Content-Type: multipart/mixed; boundary="==PCLOUD=="', 'MIME-Version: 1.0', '',
      '--==PCLOUD==', 'Content-Type: text/cloud-config; charset="us-ascii"', 'MIME-Version: 1.0', 'Content-Transfer-Encoding: 7bit',
      'Content-Disposition: attachment; filename="cloud-config.txt"', '',
      '#cloud-config', 'write_files:', '  - path: /var/tmp/from-cloud-config', '    content: written by cloud-config',
      'runcmd:', '  - [sh, -c, "echo from-runcmd > /var/tmp/from-runcmd"]', '',
      '--==PCLOUD==', 'Content-Type: text/x-shellscript; charset="us-ascii"', 'MIME-Version: 1.0', 'Content-Transfer-Encoding: 7bit',
      'Content-Disposition: attachment; filename="script.sh"', '',
      '#!/bin/sh', 'echo from-script > /var/tmp/from-script', '',
      '--==PCLOUD==--', '',
    ].join('\n');
    const r = await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, UserData: Buffer.from(mime).toString('base64'),
    }));
    const id = r.Instances![0]!.InstanceId!;
    try {
      await running(srv.ec2, id);
      expect(inside(id, ['cloud-init', 'status', '--wait'])).toContain('status: done');
      expect(inside(id, ['cat', '/var/tmp/from-cloud-config'])).toBe('written by cloud-config');
      expect(inside(id, ['cat', '/var/tmp/from-runcmd'])).toBe('from-runcmd');
      expect(inside(id, ['cat', '/var/tmp/from-script'])).toBe('from-script');
      expect(get(id, '/latest/user-data').body).toBe(mime);
    } finally {
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    }
  });

  it('a new instance-id re-runs cloud-init: an image made from an instance (CreateImage) boots as the new one', async () => {
    const { CreateImageCommand, DeregisterImageCommand, StopInstancesCommand, DescribeImagesCommand } = await import('@aws-sdk/client-ec2');
    const script = Buffer.from('#!/bin/sh\ncat /var/lib/cloud/data/instance-id >> /var/tmp/runs\n').toString('base64');
    const x = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, UserData: script }))).Instances![0]!.InstanceId!;
    await running(srv.ec2, x);
    expect(inside(x, ['cloud-init', 'status', '--wait'])).toContain('status: done');
    await srv.ec2.send(new StopInstancesCommand({ InstanceIds: [x] }));
    await until(async () => (await describe1(srv.ec2, x)).State?.Name === 'stopped', 60_000, 200);
    const { ImageId: ami } = await srv.ec2.send(new CreateImageCommand({ InstanceId: x, Name: `from-${x}`, Description: 'made by CreateImage' }));
    const img = (await srv.ec2.send(new DescribeImagesCommand({ ImageIds: [ami!] }))).Images![0]!;
    expect(img).toMatchObject({ Name: `from-${x}`, State: 'available', Public: false, OwnerId: '000000000000' });
    // Private: another account cannot launch it.
    const denied = await other.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 })).catch((e: { Code?: string }) => e.Code);
    expect(denied).toBe('InvalidAMIID.NotFound');
    const y = (await srv.ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, UserData: script }))).Instances![0]!;
    try {
      await running(srv.ec2, y.InstanceId!);
      expect(inside(y.InstanceId!, ['cloud-init', 'status', '--wait'])).toContain('status: done');
      expect(inside(y.InstanceId!, ['cat', '/var/tmp/runs']).split('\n')).toEqual([x, y.InstanceId]);
      expect(inside(y.InstanceId!, ['hostname'])).toBe(y.PrivateDnsName!.split('.')[0]);
    } finally {
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [x, y.InstanceId!] }));
      await srv.ec2.send(new DeregisterImageCommand({ ImageId: ami }));
    }
  });

  it("cloud-init's own Ec2 datasource crawls the service from inside the instance, without an error", () => {
    // The Debian package's DataSourceEc2, as it runs on EC2 (token, version pick, user-data, recursive crawl, identity).
    // Inside a container its platform check says "unknown" (it would then skip tokens): it is told AWS, as a VM's
    // SMBIOS uuid tells it.
    const script = `
import json, logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
from cloudinit import distros, helpers, settings
from cloudinit.sources import DataSourceEc2 as ec2
paths = helpers.Paths({'run_dir': '/tmp/pcloud-ci/run', 'cloud_dir': '/tmp/pcloud-ci/cloud'})
distro = distros.fetch('debian')('debian', {}, paths)
ds = ec2.DataSourceEc2(settings.CFG_BUILTIN, distro, paths)
# What a VM gets from its SMBIOS uuid (ec2...): the platform is AWS, so cloud-init uses IMDSv2 tokens.
ds._cloud_name = ec2.CloudNames.AWS
ok = ds._get_data()
print(json.dumps({'ok': ok, 'api': ds.get_metadata_api_version(), 'token': bool(ds._api_token), 'meta': ds.metadata,
  'userdata': (ds.userdata_raw or b'').decode(), 'identity': ds.identity}, default=str))
`;
    const run = spawnSync('nsenter', ['-t', String(leaderOf(a.InstanceId!)), '-m', '-u', '-i', '-n', '-p', '--', 'python3', '-'], { input: script, encoding: 'utf8', timeout: 120_000 });
    const out = JSON.parse(run.stdout.trim().split('\n').pop() || '{}') as {
      ok: boolean; api: string; token: boolean; meta: Record<string, unknown>; userdata: string; identity: Record<string, unknown>;
    };
    if (!out.ok) console.log(run.stderr.split('\n').filter((l) => !/Read(ing)? /.test(l)).slice(-40).join('\n'));
    expect(out.ok).toBe(true);
    expect(out.api).toBe('2021-03-23');
    expect(out.token).toBe(true);
    expect(out.meta).toMatchObject({ 'instance-id': a.InstanceId, 'local-ipv4': a.PrivateIpAddress, 'public-keys': { 'imds-key': [key.publicKey.trim()] } });
    expect((out.meta.network as { interfaces: { macs: Record<string, unknown> } }).interfaces.macs).toHaveProperty(a.NetworkInterfaces![0]!.MacAddress!);
    expect(out.userdata).toBe(userData);
    expect(out.identity).toMatchObject({ instanceId: a.InstanceId, privateIp: a.PrivateIpAddress });
  });
});

describe('metadata service across a server crash', () => {
  it('answers again once the server is back (it listens in every VPC router on start)', async () => {
    const r = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }));
    const id = r.Instances![0]!.InstanceId!;
    await running(srv.ec2, id);
    expect(get(id, '/latest/meta-data/instance-id').body).toBe(id);
    await srv.kill9();
    // While the server is down, the service is too (connection refused or reset), but the instance runs on.
    expect(get(id, '/latest/meta-data/instance-id').status).toBeLessThanOrEqual(0);
    await srv.restart();
    expect(get(id, '/latest/meta-data/instance-id').body).toBe(id);
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });
});

describe('metadata listeners', () => {
  it('leave no helper process behind (each hands its socket over and exits)', () => {
    const left = spawnSync('pgrep', ['-f', 'dist/src/host/listen-child.js'], { encoding: 'utf8' }).stdout.trim();
    expect(left).toBe('');
  });
});
