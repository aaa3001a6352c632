/**
 * Real containers through a real `pcloud serve`: systemd-nspawn booting reflink forks of the debian-12 image in user
 * namespaces of their own (root inside is nobody on the host), READY turning instances `running`, identity and
 * cloud-init seed written into the fork (never through a link out of it), stop/start/reboot, terminate leaving nothing
 * behind, and a server killed with SIGKILL mid-launch reconciling on restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, statSync, symlinkSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateTagsCommand, GetConsoleOutputCommand, ImportKeyPairCommand, RebootInstancesCommand, RunInstancesCommand,
  StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, DeleteKeyPairCommand, DeregisterImageCommand, CreateVpcCommand, CreateSubnetCommand, DeleteSubnetCommand, DeleteVpcCommand, CreateSecurityGroupCommand, DeleteSecurityGroupCommand, AuthorizeSecurityGroupIngressCommand, RevokeSecurityGroupIngressCommand, CreateInternetGatewayCommand, AttachInternetGatewayCommand, DetachInternetGatewayCommand, DeleteInternetGatewayCommand,
} from '@aws-sdk/client-ec2';
import { CLI, hostInventory, killUnit, leaderOf, startReal, unitActive, type RealServer, describeOne, waitForState, runOtherServer, freePort, waitStatusOk } from '../support/real.js';
import { until } from '../support/api.js';
import { UNIT_MANAGER_ONLY } from '../support/tier.js';
import { generateKeyPair } from '../../src/cloud/sshkeys.js';
import { uplinkAddresses } from '../../src/host/network.js';
import { CONTAINER_UCOUNTS } from '../../src/host/ucounts.js';

/** "The physical network" for public IPs: a namespace of the test's own behind a veth whose host end is the parent. */
const LAN = { ns: 'pcloud-test-lan', parent: 'ptlan', cidr: '198.51.100.0/24', router: '198.51.100.1', pool: '198.51.100.100-198.51.100.120' };

/**
 * The systemd test node runs this file again (test/host/node.test.ts) for what its unit manager changes: units, boot,
 * stop, reconcile after kill -9, an instance's own interface. The network plane's and the image guards' tests are the
 * same namespaces, nft rules and forks under either manager and have run on this host in the same `npm test`: there
 * they are skipped.
 */
const unitManagerOnly = UNIT_MANAGER_ONLY;
if (unitManagerOnly) console.log('skipped here: the network plane\'s and the image guards\' tests (the same under either unit manager; they ran on the host)');
const onHostOnly = describe.skipIf(unitManagerOnly);

let srv: RealServer;
beforeAll(async () => {
  srv = await startReal({
    env: { PCLOUD_EXTERNAL_PARENT: LAN.parent, PCLOUD_EXTERNAL_CIDR: LAN.cidr, PCLOUD_EXTERNAL_POOL: LAN.pool, PCLOUD_EXTERNAL_GATEWAY: LAN.router },
  });
  console.log(`real containers: unit manager ${srv.unitManager} (PID 1 is ${readFileSync('/proc/1/comm', 'utf8').trim()}), data ${srv.dataDir}`);
});
afterAll(async () => { await srv?.stop(); });

const describe1 = (id: string) => describeOne(srv.ec2, id);
const waitState = (id: string, want: string, timeoutMs = 90_000) => waitForState(srv.ec2, id, want, timeoutMs, 100);

/** Run a command inside a running container as its root (host side, through its leader's namespaces, its user's first). */
function inside(id: string, cmd: string[]): string {
  return execFileSync('nsenter', ['-t', String(leaderOf(id)), '-U', '-m', '-u', '-i', '-n', '-p', '--', ...cmd]).toString().trim();
}

/** The uid on the host of a process (the real uid in /proc/PID/status). */
const hostUid = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** One DHCP exchange from the instance's eth0 (busybox udhcpc in its namespace; nothing is configured). */
function dhcp(id: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-dhcp-'));
  const script = join(dir, 'lease.sh');
  writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "ip=$ip subnet=$subnet router=$router dns=$dns domain=$domain hostname=$hostname"\nexit 0\n', { mode: 0o755 });
  try {
    const out = execFileSync('ip', ['netns', 'exec', `pcloud-${id}`, 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script], { timeout: 20_000 }).toString();
    const line = out.split('\n').find((l) => l.startsWith('ip=')) ?? '';
    return Object.fromEntries(line.split(' ').filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('containers on systemd-nspawn', () => {
  const key = generateKeyPair('ed25519', 'it-key');
  let id: string;

  it('RunInstances → pending → running once the container reports READY, with its identity seeded', async () => {
    await srv.ec2.send(new ImportKeyPairCommand({ KeyName: 'it-key', PublicKeyMaterial: Buffer.from(key.publicKey) }));
    const userData = '#!/bin/sh\necho "user-data ran on $(hostname)" > /var/tmp/pcloud-marker\n';
    const res = await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, KeyName: 'it-key',
      UserData: Buffer.from(userData).toString('base64'), TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'it' }] }],
    }));
    const inst = res.Instances![0]!;
    id = inst.InstanceId!;
    expect(inst.State?.Name).toBe('pending');
    const running = await waitState(id, 'running');
    expect(running.PrivateIpAddress).toMatch(/^172\.31\./);
    const hostname = `ip-${running.PrivateIpAddress!.replaceAll('.', '-')}`;
    expect(inside(id, ['hostname'])).toBe(hostname);
    expect(inside(id, ['cat', '/root/.ssh/authorized_keys'])).toContain(key.publicKey.split(' ')[1]);
    expect(inside(id, ['cat', '/etc/machine-id'])).toMatch(/^[0-9a-f]{32}$/);
    // cloud-init in the image read the NoCloud seed and ran the user-data: done when the status checks are ok.
    await waitStatusOk(srv.ec2, id);
    expect(inside(id, ['cat', '/var/tmp/pcloud-marker'])).toBe(`user-data ran on ${hostname}`);
    expect(inside(id, ['cloud-init', 'status'])).toContain('done');
    expect(inside(id, ['systemctl', 'is-system-running'])).toMatch(/running|degraded/);
    // Root in the instance is nobody on the host: its user namespace maps uid 0 to an unprivileged range of 65536.
    const leader = leaderOf(id);
    const [inUid, hostBase, count] = readFileSync(`/proc/${leader}/uid_map`, 'utf8').trim().split(/\s+/).map(Number);
    expect([inUid, count]).toEqual([0, 65536]);
    expect(hostBase).toBeGreaterThanOrEqual(65536);
    expect(hostUid(leader)).toBe(hostBase);
    const uids = execFileSync('ps', ['-o', 'uid=', '--ppid', String(leader)]).toString().trim().split(/\s+/).map(Number);
    expect(uids.length).toBeGreaterThan(0);
    expect(uids.every((u) => u >= hostBase! && u < hostBase! + 65536)).toBe(true);
    // With the host's files in reach (its user namespace only: the host's mount namespace), the instance's root can
    // neither read the host's secrets nor write a host-owned file.
    const hostFile = join(mkdtempSync(join(tmpdir(), 'pcloud-hostfile-')), 'owned-by-host');
    writeFileSync(hostFile, 'host\n', { mode: 0o644 });
    const asRoot = (script: string) => spawnSync('nsenter', ['-t', String(leader), '-U', '--', 'sh', '-c', script], { encoding: 'utf8' });
    expect(asRoot('id -u').stdout.trim()).toBe('0');
    expect(asRoot(`echo tenant >> ${hostFile}`).status).not.toBe(0);
    expect(asRoot('cat /etc/shadow').status).not.toBe(0);
    expect(readFileSync(hostFile, 'utf8')).toBe('host\n');
    rmSync(dirname(hostFile), { recursive: true, force: true });
    // The fork is mounted idmapped: what root wrote inside (user-data's marker) and the seed are uid 0 on disk, so an
    // image made from this disk has the uids an image has.
    const disk0 = join(srv.dataDir, 'pool/instances', id);
    expect(statSync(join(disk0, 'var/tmp/pcloud-marker')).uid).toBe(0);
    expect(statSync(join(disk0, 'etc/hostname')).uid).toBe(0);
    // The root disk is a reflink fork in the pool.
    const disk = join(srv.dataDir, 'pool/instances', id);
    expect(execFileSync('btrfs', ['subvolume', 'show', disk]).toString()).toContain('Parent UUID');
    if (srv.unitManager === 'systemd') {
      // Under systemd the instance is a unit systemctl shows, and a machine machinectl lists.
      expect(execFileSync('systemctl', ['is-active', `pcloud-instance@${id}.service`]).toString().trim()).toBe('active');
      expect(execFileSync('machinectl', ['list', '--no-legend']).toString()).toContain(id);
    }
    const console = await srv.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
    expect(Buffer.from(console.Output!, 'base64').toString()).toMatch(/login:|Reached target/);
    // `pcloud logs` reads the same console: the unit's log file (direct) or its journal (systemd).
    expect(execFileSync(process.execPath, [CLI, 'logs', id, '--data', srv.dataDir]).toString()).toMatch(/login:|Reached target/);
  });

  it('stops keeping the disk, starts again, reboots', async () => {
    await srv.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await waitState(id, 'stopped');
    expect(existsSync(join(srv.dataDir, 'pool/instances', id, 'var/tmp/pcloud-marker'))).toBe(true);
    expect(hostInventory().processes.filter((p) => p.includes(id))).toEqual([]);
    await srv.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await waitState(id, 'running');
    const leaderBefore = leaderOf(id);
    await srv.ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    await until(() => {
      try {
        return leaderOf(id) !== leaderBefore && unitActive(id);
      } catch {
        return false; // between the old container and the new one
      }
    }, 60_000, 100);
    expect((await describe1(id)).State?.Name).toBe('running');
  });

  it('a unit killed from outside takes its instance out of running, as EC2 would (stopped, per shutdown behaviour)', async () => {
    killUnit(id);
    const stopped = await waitState(id, 'stopped');
    expect(stopped.StateReason?.Code).toBe('Server.InternalError');
    await srv.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await waitState(id, 'running');
  });

  it('terminates, leaving no unit, disk or process behind', async () => {
    const res = await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(res.TerminatingInstances![0]!.CurrentState?.Name).toBe('shutting-down');
    await waitState(id, 'terminated');
    const inv = hostInventory();
    expect(inv.units.filter((u) => u.includes(id))).toEqual([]);
    expect(inv.disks).not.toContain(id);
    expect(inv.processes.filter((p) => p.includes(id))).toEqual([]);
    expect(inv.cgroups.filter((c) => c.includes(id))).toEqual([]);
    expect(inv.netns.filter((n) => n.includes(id))).toEqual([]);
    await srv.ec2.send(new DeleteKeyPairCommand({ KeyName: 'it-key' }));
  });

  it('an image that cannot boot ends terminated with a state reason, and nothing is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-noinit-'));
    mkdirSync(join(dir, 'root/etc'), { recursive: true });
    writeFileSync(join(dir, 'root/etc/os-release'), 'ID=empty\n');
    execFileSync('tar', ['-cf', join(dir, 'empty.tar'), '-C', join(dir, 'root'), '.']);
    const name = `no-init-${Date.now()}`;
    const out = execFileSync(process.execPath, [CLI, 'image', 'import', join(dir, 'empty.tar'), '--name', name, '--data', srv.dataDir]).toString();
    const ami = out.split('\t')[0]!;
    expect(ami).toMatch(/^ami-[0-9a-f]{17}$/);
    const res = await srv.ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const bad = res.Instances![0]!.InstanceId!;
    const inst = await waitState(bad, 'terminated', 60_000);
    expect(inst.StateReason?.Code).toBe('Server.InternalError');
    expect(inst.StateReason?.Message).toMatch(/did not become ready/);
    const inv = hostInventory();
    expect(inv.disks).not.toContain(bad);
    expect(inv.units.filter((u) => u.includes(bad))).toEqual([]);
    await srv.ec2.send(new DeregisterImageCommand({ ImageId: ami }));
    expect(existsSync(join(srv.dataDir, 'pool/images', ami))).toBe(false);
  });
});

onHostOnly('images whose paths lead out of them', () => {
  it('an image whose var/lib/cloud, root or etc/cloud is a link to a host directory is refused, and nothing is made there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-linked-'));
    const hostDir = join(dir, 'host');
    mkdirSync(hostDir);
    for (const [i, at] of ['var/lib/cloud', 'root', 'etc/cloud'].entries()) {
      const rootfs = join(dir, `root${i}`);
      mkdirSync(join(rootfs, 'etc'), { recursive: true });
      mkdirSync(join(rootfs, 'var/lib'), { recursive: true });
      writeFileSync(join(rootfs, 'etc/os-release'), 'ID=linked\n');
      symlinkSync(hostDir, join(rootfs, at));
      execFileSync('tar', ['-cf', join(dir, `linked${i}.tar`), '-C', rootfs, '.']);
      const out = execFileSync(process.execPath, [CLI, 'image', 'import', join(dir, `linked${i}.tar`), '--name', `linked-${i}-${Date.now()}`, '--data', srv.dataDir]).toString();
      const ami = out.split('\t')[0]!;
      const bad = (await srv.ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
      const inst = await waitState(bad, 'terminated', 60_000);
      expect(inst.StateReason?.Message).toContain(`the image's /${at} is a symbolic link`);
      expect(inst.StateReason?.Message).not.toContain(hostDir);
      expect(readdirSync(hostDir)).toEqual([]);
      expect(hostInventory().disks).not.toContain(bad);
      await srv.ec2.send(new DeregisterImageCommand({ ImageId: ami }));
    }
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('networks', () => {
  it('instances get eth0 with the address and MAC the API reported, and reach each other in their subnet', async () => {
    const res = await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 2, MaxCount: 2,
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'Net Pair' }] }],
    }));
    const [a, b] = res.Instances!;
    await waitState(a!.InstanceId!, 'running');
    await waitState(b!.InstanceId!, 'running');
    // (Their boots done: on a loaded host cloud-init's stages, after running, would slow what follows.)
    await Promise.all([a!, b!].map((i) => waitStatusOk(srv.ec2, i.InstanceId!)));
    const eth0 = inside(a!.InstanceId!, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
    expect(eth0).toContain(`inet ${a!.PrivateIpAddress}/20`);
    // (Read over netlink: the container's /sys, mounted by nspawn, shows the host's view of net devices.)
    expect(inside(a!.InstanceId!, ['ip', '-o', 'link', 'show', 'dev', 'eth0'])).toContain(`link/ether ${a!.NetworkInterfaces![0]!.MacAddress}`);
    expect(inside(a!.InstanceId!, ['ip', 'route', 'show', 'default'])).toContain('via 172.31.0.1');
    expect(inside(a!.InstanceId!, ['ping', '-c', '1', '-W', '5', b!.PrivateIpAddress!])).toContain('1 received');
    expect(inside(b!.InstanceId!, ['ping', '-c', '1', '-W', '5', '172.31.0.1'])).toContain('1 received');
    // The VPC's DNS (dnsmasq at base + 2) knows every instance by its EC2 name, short and long, and by its Name tag.
    const dnsName = b!.PrivateDnsName!;
    // dnsmasq takes names from a directory it watches: give its inotify a moment on a loaded host (the systemd node).
    await until(() => spawnSync('nsenter', ['-t', String(leaderOf(a!.InstanceId!)), '-U', '-m', '-u', '-i', '-n', '-p', '--', 'getent', 'hosts', dnsName]).status === 0, 10_000, 200);
    expect(inside(a!.InstanceId!, ['getent', 'hosts', dnsName])).toMatch(new RegExp(`^${b!.PrivateIpAddress!.replaceAll('.', '\\.')}\\s`));
    expect(inside(a!.InstanceId!, ['getent', 'hosts', dnsName.split('.')[0]!])).toContain(b!.PrivateIpAddress!);
    expect(inside(a!.InstanceId!, ['getent', 'hosts', 'net-pair'])).toMatch(/^172\.31\./);
    expect(inside(a!.InstanceId!, ['cat', '/etc/resolv.conf'])).toContain('nameserver 172.31.0.2');
    // A Name tag changed after launch is the new DNS name (and the old one is gone).
    await srv.ec2.send(new CreateTagsCommand({ Resources: [b!.InstanceId!], Tags: [{ Key: 'Name', Value: 'renamed-b' }] }));
    await until(() => { try { return inside(a!.InstanceId!, ['getent', 'hosts', 'renamed-b']); } catch { return undefined; } }, 10_000);
    expect(inside(a!.InstanceId!, ['getent', 'hosts', 'renamed-b'])).toContain(b!.PrivateIpAddress!);
    expect(inside(a!.InstanceId!, ['getent', 'hosts', 'net-pair'])).toContain(a!.PrivateIpAddress!);
    expect(inside(a!.InstanceId!, ['getent', 'hosts', 'net-pair'])).not.toContain(b!.PrivateIpAddress!);
    // DHCP on each instance's port hands out exactly the address, gateway and resolver the API gave (udhcpc, run in
    // the instance's network namespace, asks with the instance's MAC).
    for (const inst of [a!, b!]) {
      const lease = dhcp(inst.InstanceId!);
      expect(lease).toMatchObject({ ip: inst.PrivateIpAddress, subnet: '255.255.240.0', router: '172.31.0.1', dns: '172.31.0.2', domain: 'ec2.internal' });
      expect(lease.hostname).toBe(inst.PrivateDnsName!.split('.')[0]);
    }
    // Another pcloud on this host, with a data dir of its own, reconciles on start: it leaves these instances' namespaces
    // and their VPC's router alone (they are not its own), and they still reach each other.
    const before = hostInventory();
    await runOtherServer(`${srv.dataDir}-other`);
    expect(hostInventory().netns).toEqual(before.netns);
    expect(hostInventory().links).toEqual(before.links);
    expect(inside(a!.InstanceId!, ['ping', '-c', '1', '-W', '5', b!.PrivateIpAddress!])).toContain('1 received');
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a!.InstanceId!, b!.InstanceId!] }));
    await waitState(a!.InstanceId!, 'terminated');
    await waitState(b!.InstanceId!, 'terminated');
    expect(hostInventory().netns.filter((n) => n.includes(a!.InstanceId!) || n.includes(b!.InstanceId!))).toEqual([]);
  });
});

onHostOnly('networks: NAT to the outside', () => {
  // "The internet" is a namespace of this test's own: 198.18.0.2 (a benchmarking range), reached from the host by a
  // veth. Nothing is sent to any address outside this machine.
  const INET = 'pcloud-test-inet';
  let server: ReturnType<typeof spawn> | undefined;
  beforeAll(async () => {
    execFileSync('sh', ['-c', `ip netns del ${INET} 2>/dev/null; ip link del ptinet 2>/dev/null; ip netns add ${INET} &&
      ip link add ptinet type veth peer name eth0 netns ${INET} && ip addr add 198.18.0.1/24 dev ptinet && ip link set ptinet up &&
      ip -n ${INET} addr add 198.18.0.2/24 dev eth0 && ip -n ${INET} link set eth0 up && ip -n ${INET} link set lo up`]);
    server = spawn('ip', ['netns', 'exec', INET, process.execPath, '-e',
      "require('http').createServer((q, r) => r.end('seen from ' + q.socket.remoteAddress)).listen(8080, '198.18.0.2')"], { stdio: 'ignore' });
    await until(() => {
      try { execFileSync('ip', ['netns', 'exec', INET, 'bash', '-c', 'exec 3<>/dev/tcp/198.18.0.2/8080']); return true; } catch { return false; }
    }, 10_000, 100);
  });
  afterAll(() => {
    server?.kill();
    execFileSync('sh', ['-c', `ip netns del ${INET} 2>/dev/null; ip link del ptinet 2>/dev/null; true`]);
  });

  it('an instance reaches a server outside its VPC, masqueraded by its router and the host', async () => {
    const inst = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    await waitState(inst.InstanceId!, 'running');
    const reply = inside(inst.InstanceId!, ['bash', '-c',
      'exec 3<>/dev/tcp/198.18.0.2/8080; printf "GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n" >&3; timeout 5 cat <&3']);
    // The server sees the host's address on its link, not the instance's private one.
    expect(reply).toContain('seen from 198.18.0.1');
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await waitState(inst.InstanceId!, 'terminated');
  });

  it('a VPC reaches the outside only while an internet gateway is attached', async () => {
    const vpc = (await srv.ec2.send(new CreateVpcCommand({ CidrBlock: '10.60.0.0/16' }))).Vpc!;
    const sub = (await srv.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.60.1.0/24' }))).Subnet!;
    const inst = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, SubnetId: sub.SubnetId }))).Instances![0]!;
    await waitState(inst.InstanceId!, 'running');
    const probe = () => inside(inst.InstanceId!, ['bash', '-c', "timeout 3 bash -c 'exec 3<>/dev/tcp/198.18.0.2/8080' && echo open || echo closed"]);
    expect(probe()).toBe('closed');
    const igw = (await srv.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!;
    await srv.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    expect(probe()).toBe('open');
    await srv.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    expect(probe()).toBe('closed');
    await srv.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId }));
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await waitState(inst.InstanceId!, 'terminated');
    await srv.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    await srv.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  });
});

onHostOnly('networks: security groups', () => {
  it('a rule opens a TCP port to a real connection, and revoking it closes the port again', async () => {
    const web = await srv.ec2.send(new CreateSecurityGroupCommand({ GroupName: `web-${Date.now()}`, Description: 'web' }));
    const a = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, SecurityGroupIds: [web.GroupId!] }))).Instances![0]!;
    const b = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    await waitState(a.InstanceId!, 'running');
    await waitState(b.InstanceId!, 'running');
    inside(a.InstanceId!, ['sh', '-c', 'setsid python3 -m http.server 8080 </dev/null >/dev/null 2>&1 &']);
    const probe = () => inside(b.InstanceId!, ['bash', '-c', `timeout 3 bash -c 'exec 3<>/dev/tcp/${a.PrivateIpAddress}/8080' && echo open || echo closed`]);
    // The server is up (seen from inside its own instance), but nothing may reach it yet.
    await until(() => inside(a.InstanceId!, ['bash', '-c', "timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080' && echo up || echo down"]) === 'up', 20_000, 200);
    expect(probe()).toBe('closed');
    const perm = { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '172.31.0.0/16' }] };
    await srv.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [perm] }));
    expect(probe()).toBe('open');
    await srv.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [perm] }));
    expect(probe()).toBe('closed');
    // The default group lets its own members in: b is reachable from a on any port it listens on (ping here).
    expect(inside(a.InstanceId!, ['ping', '-c', '1', '-W', '3', b.PrivateIpAddress!])).toContain('1 received');
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a.InstanceId!, b.InstanceId!] }));
    await waitState(a.InstanceId!, 'terminated');
    await waitState(b.InstanceId!, 'terminated');
    await srv.ec2.send(new DeleteSecurityGroupCommand({ GroupId: web.GroupId }));
  });
});

onHostOnly('networks: public IPs on the physical network (macvlan, 1:1 NAT)', () => {
  let server: ReturnType<typeof spawn> | undefined;
  beforeAll(async () => {
    execFileSync('sh', ['-c', `ip netns del ${LAN.ns} 2>/dev/null; ip link del ${LAN.parent} 2>/dev/null; ip netns add ${LAN.ns} &&
      ip link add ${LAN.parent} type veth peer name eth0 netns ${LAN.ns} && ip link set ${LAN.parent} up &&
      ip -n ${LAN.ns} addr add ${LAN.router}/24 dev eth0 && ip -n ${LAN.ns} link set eth0 up && ip -n ${LAN.ns} link set lo up`]);
    server = spawn('ip', ['netns', 'exec', LAN.ns, process.execPath, '-e',
      `require('http').createServer((q, r) => r.end('seen from ' + q.socket.remoteAddress)).listen(8080, '${LAN.router}')`], { stdio: 'ignore' });
    await until(() => {
      try { execFileSync('ip', ['netns', 'exec', LAN.ns, 'bash', '-c', `exec 3<>/dev/tcp/${LAN.router}/8080`]); return true; } catch { return false; }
    }, 10_000, 100);
  });
  afterAll(() => {
    server?.kill();
    execFileSync('sh', ['-c', `ip netns del ${LAN.ns} 2>/dev/null; ip link del ${LAN.parent} 2>/dev/null; true`]);
  });

  it('a subnet mapping public IPs puts its instances on the physical network, behind their security groups', async () => {
    const { ModifySubnetAttributeCommand } = await import('@aws-sdk/client-ec2');
    const vpc = (await srv.ec2.send(new CreateVpcCommand({ CidrBlock: '10.70.0.0/16' }))).Vpc!;
    const sub = (await srv.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.70.1.0/24' }))).Subnet!;
    await srv.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: sub.SubnetId, MapPublicIpOnLaunch: { Value: true } }));
    const igw = (await srv.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!;
    await srv.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    const web = await srv.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'public-web', Description: 'web', VpcId: vpc.VpcId }));
    const pub = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, SubnetId: sub.SubnetId, SecurityGroupIds: [web.GroupId!] }))).Instances![0]!;
    // The instance setting overrides the subnet's: this one stays private.
    const priv = (await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1,
      NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: sub.SubnetId, AssociatePublicIpAddress: false }],
    }))).Instances![0]!;
    const running = await waitState(pub.InstanceId!, 'running');
    await waitState(priv.InstanceId!, 'running');
    const publicIp = running.PublicIpAddress!;
    expect(publicIp).toMatch(/^198\.51\.100\.\d+$/);
    expect(Number(publicIp.split('.')[3])).toBeGreaterThanOrEqual(100);
    expect(Number(publicIp.split('.')[3])).toBeLessThanOrEqual(120);
    expect(running.NetworkInterfaces![0]!.Association?.PublicIp).toBe(publicIp);
    expect((await describe1(priv.InstanceId!)).PublicIpAddress).toBeUndefined();
    // The instance only knows its private address; the world sees its public one.
    expect(inside(pub.InstanceId!, ['ip', '-o', '-4', 'addr', 'show'])).not.toContain(publicIp);
    const get = (id: string) => inside(id, ['bash', '-c',
      `timeout 5 bash -c 'exec 3<>/dev/tcp/${LAN.router}/8080; printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3' || echo unreachable`]);
    expect(get(pub.InstanceId!)).toContain(`seen from ${publicIp}`);
    // A private address never leaves by the physical network.
    expect(get(priv.InstanceId!)).toContain('unreachable');
    // Inbound from the physical network: closed until the security group allows it.
    inside(pub.InstanceId!, ['sh', '-c', 'setsid python3 -m http.server 8080 </dev/null >/dev/null 2>&1 &']);
    await until(() => inside(pub.InstanceId!, ['bash', '-c', "timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080' && echo up || echo down"]) === 'up', 20_000, 200);
    const probe = () => execFileSync('ip', ['netns', 'exec', LAN.ns, 'bash', '-c',
      `timeout 3 bash -c 'exec 3<>/dev/tcp/${publicIp}/8080' && echo open || echo closed`]).toString().trim();
    expect(probe()).toBe('closed');
    await srv.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: LAN.cidr }] }] }));
    expect(probe()).toBe('open');
    // Without the internet gateway, the public IP is gone from the world.
    await srv.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    expect(probe()).toBe('closed');
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [pub.InstanceId!, priv.InstanceId!] }));
    await waitState(pub.InstanceId!, 'terminated');
    await waitState(priv.InstanceId!, 'terminated');
    await srv.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId }));
    await srv.ec2.send(new DeleteSecurityGroupCommand({ GroupId: web.GroupId }));
    await srv.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    await srv.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    // The router and its macvlan went with the VPC.
    expect(hostInventory().netns.filter((n) => n.includes(vpc.VpcId!))).toEqual([]);
  });
});

onHostOnly('networks: the host is not the instances\' to reach', () => {
  // A TCP and UDP echo on every address of the host, as any host service listening on 0.0.0.0 would be. A probe that
  // connects and leaves at once resets the connection: the listener ignores that (it died of it, failing the test).
  let listener: ReturnType<typeof spawn> | undefined;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    listener = spawn(process.execPath, ['-e', `const p = ${port};
      require('net').createServer((c) => { c.on('error', () => {}); c.end('host\\n'); }).listen(p, '0.0.0.0');
      const u = require('dgram').createSocket('udp4'); u.on('message', (m, r) => u.send('host', r.port, r.address)); u.bind(p, '0.0.0.0');`], { stdio: ['ignore', 'ignore', 'inherit'] });
    await until(() => spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0, 10_000, 100);
  });
  afterAll(() => { listener?.kill(); });

  /**
   * From inside an instance: whether a TCP connection to address:port opens, and whether a UDP datagram there is
   * answered. Where nothing answers, it waits out both timeouts (2 s each): probes run at once.
   */
  const reach = async (id: string, address: string) => (await promisify(execFile)('nsenter', ['-t', String(leaderOf(id)), '-U', '-m', '-u', '-i', '-n', '-p', '--', 'python3', '-c', `import socket
r = []
try:
    socket.create_connection(("${address}", ${port}), timeout=2).close(); r.append("tcp-open")
except OSError:
    r.append("tcp-closed")
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2); u.sendto(b"ping", ("${address}", ${port}))
try:
    u.recv(64); r.append("udp-answered")
except OSError:
    r.append("udp-silent")
print(" ".join(r))`])).stdout.trim();

  it("an instance reaches none of the host's addresses (its uplink's end, another VPC's, the main one), nor another VPC's router", async () => {
    const vpc = (await srv.ec2.send(new CreateVpcCommand({ CidrBlock: '10.80.0.0/16' }))).Vpc!;
    const sub = (await srv.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.80.1.0/24' }))).Subnet!;
    const igw = (await srv.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!;
    await srv.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
    const a = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    const b = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, SubnetId: sub.SubnetId }))).Instances![0]!;
    try {
      await waitState(a.InstanceId!, 'running');
      await waitState(b.InstanceId!, 'running');
      const upA = uplinkAddresses(a.VpcId!);
      const upB = uplinkAddresses(vpc.VpcId!);
      // The host's main address: the one it would reach the world from. The systemd test node has none (it runs with a
      // private network of loopback and the test's links only): there the uplink ends are what is checked.
      const route = spawnSync('ip', ['-o', 'route', 'get', '192.0.2.1'], { encoding: 'utf8' });
      const main = route.status === 0 ? / src (\S+)/.exec(route.stdout)?.[1] : undefined;
      const hostAddresses = (own: string, other: string) => [own, other, ...(main ? [main] : [])];
      // The listener answers on each address (from the host), and a router's own traffic reaches its uplink's end (its
      // VMs' iSCSI) but no other address of the host: the host's filter, not the router's, is what stops the rest.
      const fromRouter = (vpcId: string, address: string) => spawnSync('ip', ['netns', 'exec', `pcloud-${vpcId}`, 'timeout', '3', 'bash', '-c',
        `exec 3<>/dev/tcp/${address}/${port}`]).status === 0;
      await until(() => fromRouter(a.VpcId!, upA.host), 45_000, 200);
      if (main) expect(fromRouter(a.VpcId!, main)).toBe(false);
      expect(fromRouter(a.VpcId!, upB.host)).toBe(false);
      const probes = ([[a.InstanceId!, hostAddresses(upA.host, upB.host)], [b.InstanceId!, hostAddresses(upB.host, upA.host)]] as const)
        .flatMap(([id, addresses]) => addresses.map(async (address) => [address, await reach(id, address)]));
      for (const [address, seen] of await Promise.all(probes)) expect([address, seen]).toEqual([address, 'tcp-closed udp-silent']);
      // Nor through the host into another VPC's router: its uplink address answers the host's ping (the container's ping
      // binary, run in the host's network namespace), not the instance's.
      const ping = (netns: string[]) => spawnSync('nsenter', ['-t', String(leaderOf(a.InstanceId!)), ...netns, '-m', '--', 'ping', '-c', '1', '-W', '2', upB.router], { encoding: 'utf8' }).stdout;
      expect(ping([])).toContain(' 0% packet loss');
      expect(ping(['-U', '-n'])).toContain('100% packet loss');
      // A server starting where routers already run puts the host's filter back before any launch (an older pcloud's
      // host, or a table someone removed).
      execFileSync('nft', ['delete', 'table', 'inet', 'pcloud_host']);
      await srv.kill9();
      await srv.restart();
      expect(spawnSync('nft', ['list', 'table', 'inet', 'pcloud_host']).status).toBe(0);
      expect(await reach(a.InstanceId!, main ?? upB.host)).toBe('tcp-closed udp-silent');
    } finally {
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a.InstanceId!, b.InstanceId!] }));
      await waitState(a.InstanceId!, 'terminated');
      await waitState(b.InstanceId!, 'terminated');
      await srv.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId }));
      await srv.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId }));
      await srv.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
      await srv.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    }
  }, 240_000);
});

/**
 * The host writes each container's limits through /proc/sys in the container's user namespace. Inside the systemd test
 * node (itself an nspawn container) /proc/sys is mounted read-only, so the writes are refused there (and logged): the
 * node cannot run this; on a host it runs for real.
 */
const procSysReadOnly = readFileSync('/proc/self/mounts', 'utf8').split('\n')
  .some((l) => { const f = l.split(' '); return f[1] === '/proc/sys' && (f[3] ?? '').split(',').includes('ro'); });

describe("kernel budgets: one container cannot take the host's", () => {
  it.skipIf(procSysReadOnly)("a container's inotify_init() loop stops at its own cap, and another container still boots (not where /proc/sys is read-only: the systemd test node)", async () => {
    const cap = CONTAINER_UCOUNTS.get('max_inotify_instances')!;
    const a = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    let holder: ReturnType<typeof spawn> | undefined;
    try {
      await waitState(a, 'running');
      expect(inside(a, ['cat', '/proc/sys/user/max_inotify_instances', '/proc/sys/user/max_user_namespaces']).split('\n').map(Number))
        .toEqual([cap, CONTAINER_UCOUNTS.get('max_user_namespaces')]);
      // As the container's root: inotify_init() until it fails, then hold them all.
      holder = spawn('nsenter', ['-t', String(leaderOf(a)), '-U', '-m', '-u', '-i', '-n', '-p', '--', 'python3', '-c', `import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while libc.inotify_init() >= 0:
    n += 1
print(n, os.strerror(ctypes.get_errno()), flush=True)
time.sleep(600)`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      holder.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      await until(() => out.includes('\n'), 30_000, 100);
      const line = out.split('\n')[0]!;
      expect(line).toMatch(/^\d+ Too many open files$/);
      expect(Number(line.split(' ')[0])).toBeLessThanOrEqual(cap);
      // With those held, another container boots all the way (its systemd has the inotify instances it needs).
      const b = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
      await waitState(b, 'running');
      await until(() => /running|degraded/.test(spawnSync('nsenter', ['-t', String(leaderOf(b)), '-U', '-m', '-u', '-i', '-n', '-p', '--', 'systemctl', 'is-system-running'], { encoding: 'utf8' }).stdout), 60_000, 500);
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [b] }));
      await waitState(b, 'terminated');
    } finally {
      holder?.kill();
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a] }));
      await waitState(a, 'terminated');
    }
  }, 240_000);
});

onHostOnly('networks: VPCs are apart', () => {
  it('a VPC overlapping the default one works, and neither reaches the other', async () => {
    const vpc = (await srv.ec2.send(new CreateVpcCommand({ CidrBlock: '172.31.0.0/16' }))).Vpc!;
    const sub = (await srv.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '172.31.0.0/20' }))).Subnet!;
    const x = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, SubnetId: sub.SubnetId, PrivateIpAddress: '172.31.0.200' }))).Instances![0]!;
    const y = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, PrivateIpAddress: '172.31.0.201' }))).Instances![0]!;
    await waitState(x.InstanceId!, 'running');
    await waitState(y.InstanceId!, 'running');
    expect(inside(x.InstanceId!, ['ping', '-c', '1', '-W', '3', '172.31.0.1'])).toContain('1 received');
    expect(inside(y.InstanceId!, ['ping', '-c', '1', '-W', '3', '172.31.0.1'])).toContain('1 received');
    const cross = (from: string, to: string) => {
      try {
        return inside(from, ['ping', '-c', '1', '-W', '2', to]);
      } catch (e) {
        return String((e as { stdout?: Buffer }).stdout ?? e);
      }
    };
    expect(cross(x.InstanceId!, '172.31.0.201')).toContain('0 received');
    expect(cross(y.InstanceId!, '172.31.0.200')).toContain('0 received');
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [x.InstanceId!, y.InstanceId!] }));
    await waitState(x.InstanceId!, 'terminated');
    await waitState(y.InstanceId!, 'terminated');
    await srv.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));
    await srv.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(`pcloud-${vpc.VpcId}`);
  });
});

describe('daemonless: the server can die at any moment', () => {
  const FLEET = Number(process.env.PCLOUD_TEST_FLEET ?? 10);

  it(`kill -9 during a launch of ${FLEET}, with all running, and during their termination: zero leaks`, async () => {
    const before = hostInventory();
    const res = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: FLEET, MaxCount: FLEET }));
    const ids = res.Instances!.map((i) => i.InstanceId!);
    await srv.kill9();
    await srv.restart();
    for (const id of ids) await waitState(id, 'running', 180_000);
    // The units outlived the server: kill it again with everything running, and they stay running, untouched.
    const leaders = ids.map((id) => leaderOf(id));
    await srv.kill9();
    await srv.restart();
    for (const [i, id] of ids.entries()) {
      expect((await describe1(id)).State?.Name).toBe('running');
      expect(leaderOf(id)).toBe(leaders[i]);
    }
    // And in the middle of TerminateInstances.
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await srv.kill9();
    await srv.restart();
    for (const id of ids) await waitState(id, 'terminated');
    const after = hostInventory();
    expect(after.units).toEqual(before.units);
    expect(after.disks).toEqual(before.disks);
    expect(after.processes).toEqual(before.processes);
    expect(after.cgroups).toEqual(before.cgroups);
    expect(after.netns).toEqual(before.netns);
  }, 600_000);

  it('kill -9 mid network setup or mid DeleteVpc: the next start removes the half-made macvlan and the orphan router', async () => {
    // What a crash leaves: a macvlan made in the host but not yet moved into its router, and the router (with its
    // uplink) of a VPC whose record is already gone.
    const orphan = 'vpc-0123456789abcdef0';
    execFileSync('sh', ['-c', `ip link add pe0123456789ab type veth peer name ptstray &&
      ip netns add pcloud-${orphan} && ip link add pu0123456789ab type veth peer name uplink netns pcloud-${orphan}`]);
    await srv.kill9();
    await srv.restart();
    const inv = hostInventory();
    expect(inv.links.filter((l) => l.includes('0123456789ab'))).toEqual([]);
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(orphan);
  });

  it('kill -9 of an image import: the next start removes the half-unpacked root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-import-'));
    const tar = join(dir, 'big.tar');
    execFileSync('tar', ['-cf', tar, '--numeric-owner', '-C', join(srv.dataDir, 'pool/images', srv.imageId), '.']);
    const name = `killed-${Date.now()}`;
    const importer = spawn(process.execPath, [CLI, 'image', 'import', tar, '--name', name, '--data', srv.dataDir], { detached: true, stdio: 'ignore' });
    const partial = join(srv.dataDir, 'pool/images', `.import-${name}`);
    await until(() => existsSync(join(partial, 'usr')), 30_000, 10);
    process.kill(-importer.pid!, 'SIGKILL'); // the importer and its tar, as a killed unit's cgroup goes
    await new Promise((r) => importer.once('exit', r));
    expect(existsSync(partial)).toBe(true);
    await srv.kill9();
    await srv.restart();
    expect(existsSync(partial)).toBe(false);
    expect(existsSync(`${partial}.owner`)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
