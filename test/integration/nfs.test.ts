/**
 * NFS volumes for containers. This machine's kernel has no NFS client, so a container cannot mount one: everything up
 * to the mount is tested for real. The server side runs for real: pcloud's nfs-ganesha exports volumes (ext4 made on
 * first use, loop-mounted, exported per volume, reloaded by SIGHUP), read and written from the host with libnfs's
 * userspace client; and AttachVolume to a real container runs the mount in the container's namespaces, which fails
 * here and is undone, leaving the volume available and nothing exported. Who reaches the NFS server is tested with
 * real containers too (the mount stood in for): only instances with a volume, each for its own export.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachVolumeCommand, CreateVolumeCommand, DeleteVolumeCommand, DescribeVolumesCommand, DetachVolumeCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { nfsClientAddress, uplinkAddresses } from '../../src/host/network.js';
import { mountCommand, NfsServer } from '../../src/host/nfs.js';
import { hostConfigFromEnv } from '../../src/host/config.js';
import { openUnitManager } from '../../src/host/units/index.js';
import type { UnitManager } from '../../src/host/units/types.js';
import { describeOne, leaderOf, startReal, waitForState, type RealServer } from '../support/real.js';
import { until } from '../support/api.js';

const dir = mkdtempSync(join(tmpdir(), 'pcloud-nfs-'));
let units: UnitManager;
let nfs: NfsServer;
let port: number;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

const url = (path: string) => `nfs://127.0.0.1/${path}?version=4&nfsport=${port}`;
const ls = (vol: string) => spawnSync('nfs-ls', [url(vol)], { encoding: 'utf8' });

beforeAll(async () => {
  port = await freePort();
  units = await openUnitManager(join(dir, 'run'), dir, hostConfigFromEnv());
  nfs = new NfsServer(units, join(dir, 'nfs'), port);
});
afterAll(async () => {
  for (const v of ['vol-0000000000000000a', 'vol-0000000000000000b', 'vol-0000000000000000e', 'vol-0000000000000000f']) await nfs?.unexport(v).catch(() => undefined);
  await units?.stop('pcloud-nfs');
  units?.close();
  spawnSync('nft', ['delete', 'table', 'inet', `pcloud_nfs_${port}`]);
});

describe('NFS volumes (server side for real; no kernel NFS client here)', () => {
  it('exports a volume with ganesha: ext4 made once, read and written over NFSv4 from a userspace client', async () => {
    const a = join(dir, 'a.raw');
    execFileSync('truncate', ['-s', '64M', a]);
    await nfs.export('vol-0000000000000000a', a, '127.0.0.1');
    expect(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', a]).toString().trim()).toBe('ext4');
    await until(() => ls('vol-0000000000000000a').status === 0, 15_000, 200);
    expect(ls('vol-0000000000000000a').stdout).toContain('lost+found');
    // Written over NFS, seen in the volume's file system on the host.
    writeFileSync(join(dir, 'hello.txt'), 'written over NFS\n');
    execFileSync('nfs-cp', [join(dir, 'hello.txt'), url('vol-0000000000000000a/hello.txt')]);
    expect(readFileSync(join(nfs.exportPath('vol-0000000000000000a'), 'hello.txt'), 'utf8')).toBe('written over NFS\n');
    // A second volume joins by a reload (SIGHUP), the first stays served.
    const b = join(dir, 'b.raw');
    execFileSync('truncate', ['-s', '64M', b]);
    await nfs.export('vol-0000000000000000b', b, '127.0.0.1');
    await until(() => ls('vol-0000000000000000b').status === 0, 15_000, 200);
    expect(spawnSync('nfs-cat', [url('vol-0000000000000000a/hello.txt')], { encoding: 'utf8' }).stdout).toBe('written over NFS\n');
    // Unexported: gone from the server and unmounted from the host; its data stays in the volume's file.
    await nfs.unexport('vol-0000000000000000a');
    await until(() => ls('vol-0000000000000000a').status !== 0, 15_000, 200);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(nfs.exportPath('vol-0000000000000000a'));
    await nfs.export('vol-0000000000000000a', a, '127.0.0.1');
    await until(() => spawnSync('nfs-cat', [url('vol-0000000000000000a/hello.txt')], { encoding: 'utf8' }).stdout === 'written over NFS\n', 15_000, 200);
  }, 120_000);

  it('a client that is not the one exported to is refused', async () => {
    // Exported to another address (as each volume is to its instance's NFS address only): this host, as 127.0.0.1, gets nothing.
    const c = join(dir, 'c.raw');
    execFileSync('truncate', ['-s', '64M', c]);
    await nfs.export('vol-0000000000000000c', c, '10.255.255.1');
    await new Promise((r) => setTimeout(r, 1000));
    expect(ls('vol-0000000000000000c').status).not.toBe(0);
    // The same volume, exported to this host instead: now it answers (it was the client list that refused).
    await nfs.export('vol-0000000000000000c', c, '127.0.0.1');
    await until(() => ls('vol-0000000000000000c').status === 0, 15_000, 200);
    await nfs.unexport('vol-0000000000000000c');
  }, 60_000);

  it('a neighbour that is not exported to gets no answer over UDP either (ganesha answers NFS on UDP too)', async () => {
    const ns = 'pcloud-test-nfsnb';
    execFileSync('sh', ['-c', `ip netns del ${ns} 2>/dev/null; ip link del ptnfsnb 2>/dev/null; ip netns add ${ns} &&
      ip link add ptnfsnb type veth peer name eth0 netns ${ns} && ip addr add 10.254.77.1/30 dev ptnfsnb && ip link set ptnfsnb up &&
      ip -n ${ns} addr add 10.254.77.2/30 dev eth0 && ip -n ${ns} link set eth0 up`]);
    try {
      const d = join(dir, 'd.raw');
      execFileSync('truncate', ['-s', '64M', d]);
      await nfs.export('vol-0000000000000000d', d, '127.0.0.1');
      await until(() => ls('vol-0000000000000000d').status === 0, 15_000, 200);
      // An RPC NULL call to NFSv4 over UDP: the host itself is answered; the neighbour, by the host's address on its link, is not.
      const rpcNull = (netns: string[], address: string) => spawnSync(netns[0] ?? 'env', [...netns.slice(1), 'python3', '-c', `import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
u.sendto(bytes.fromhex("12345678" "00000000" "00000002" "000186a3" "00000004" "00000000" + "00000000" * 4), ("${address}", ${port}))
try:
    print("answered" if u.recv(512)[:4] == bytes.fromhex("12345678") else "other")
except OSError:
    print("silent")`], { encoding: 'utf8' }).stdout.trim();
      expect(rpcNull([], '127.0.0.1')).toBe('answered');
      expect(rpcNull(['ip', 'netns', 'exec', ns], '10.254.77.1')).toBe('silent');
      expect(spawnSync('ip', ['netns', 'exec', ns, 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/10.254.77.1/${port}`]).status).not.toBe(0);
      await nfs.unexport('vol-0000000000000000d');
    } finally {
      execFileSync('sh', ['-c', `ip netns del ${ns} 2>/dev/null; ip link del ptnfsnb 2>/dev/null; true`]);
    }
  }, 60_000);

  it('exports asked at once while ganesha is not running (volumes attached to two containers together): both are served', async () => {
    await units.stop('pcloud-nfs');
    const vols = ['vol-0000000000000000e', 'vol-0000000000000000f'];
    // File systems made already (volumes attached before): both exports reach ganesha's start together.
    const files = vols.map((v) => {
      const f = join(dir, `${v}.raw`);
      execFileSync('truncate', ['-s', '64M', f]);
      execFileSync('mkfs.ext4', ['-q', '-F', f]);
      return f;
    });
    await Promise.all(vols.map((v, i) => nfs.export(v, files[i]!, '127.0.0.1')));
    await until(() => vols.every((v) => ls(v).status === 0), 15_000, 200);
    await Promise.all(vols.map((v) => nfs.unexport(v)));
    await until(() => vols.every((v) => ls(v).status !== 0), 15_000, 200);
  }, 60_000);

  it('the mount a container gets', () => {
    expect(mountCommand(4242, '100.64.0.1', 2049, 'vol-0123456789abcdef0', '/mnt/sdf')).toEqual([
      'nsenter', '-t', '4242', '-m', '-n', '--', 'mount', '-t', 'nfs4', '-o', 'vers=4.1,port=2049,proto=tcp,hard,timeo=600',
      '100.64.0.1:/vol-0123456789abcdef0', '/mnt/sdf',
    ]);
  });
});

/**
 * Where the kernel has no NFS client, a test can put a stand-in `mount` into a container: the server's PATH starts
 * with this directory, which exists only inside the containers the test writes it into (nsenter resolves `mount` in
 * the container's mount namespace), so every other container runs the real mount.
 */
const STUB_DIR = '/run/pcloud-test-nfs-stub';
const kernelHasNfs = readFileSync('/proc/filesystems', 'utf8').includes('nfs4');

describe('real containers', () => {
  let srv: RealServer;
  let nfsPort: number;
  beforeAll(async () => {
    nfsPort = await freePort();
    srv = await startReal({ env: { PCLOUD_NFS_PORT: String(nfsPort), PATH: `${STUB_DIR}:${process.env.PATH}` } });
  });
  afterAll(async () => {
    await srv?.stop();
    spawnSync('nft', ['delete', 'table', 'inet', `pcloud_nfs_${nfsPort}`]);
  });

  describe('AttachVolume to a real container', () => {

    it('runs the NFS mount inside the container; without a kernel NFS client it fails, is undone, and says why', async () => {
      const id = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
      const vol = (await srv.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
      try {
        await waitForState(srv.ec2, id, 'running');
        const err = await srv.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: id, Device: '/dev/sdf' })).catch((e: Error) => e);
        if (kernelHasNfs) {
          expect(err).not.toBeInstanceOf(Error);
          expect(execFileSync('nsenter', ['-t', String(leaderOf(id)), '-m', '--', 'findmnt', '-n', '-o', 'FSTYPE', '/mnt/sdf']).toString().trim()).toBe('nfs4');
        } else {
          expect((err as Error).name).toBe('UnsupportedOperation');
          // What the user can do, and no host internals (the command line, the leader's PID, the uplink's address).
          expect((err as Error).message).toBe(`The volume '${vol}' could not be mounted in the container '${id}': this host cannot attach volumes to container instances; use an instance type that runs as a VM (m5, c5, r5, ...), which takes volumes over iSCSI.`);
          const v = (await srv.ec2.send(new DescribeVolumesCommand({ VolumeIds: [vol] }))).Volumes![0]!;
          expect([v.State, v.Attachments]).toEqual(['available', []]);
          expect(JSON.parse(readFileSync(join(srv.dataDir, 'run/nfs/exports.json'), 'utf8'))).toEqual([]);
          expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`run/nfs/exports/${vol}`);
        }
      } finally {
        await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
        await waitForState(srv.ec2, id, 'terminated');
        await srv.ec2.send(new DeleteVolumeCommand({ VolumeId: vol }));
      }
    }, 180_000);
  });

  describe('NFS reaches only instances with a volume, each for its own export', () => {
    /** Stand in for the kernel's NFS mount inside a container (see STUB_DIR), written as the container's root. */
    function stubMount(id: string): void {
      execFileSync('nsenter', ['-t', String(leaderOf(id)), '-U', '-m', '--', 'sh', '-c',
        `mkdir -p ${STUB_DIR} && printf '#!/bin/sh\\nexit 0\\n' > ${STUB_DIR}/mount && chmod 755 ${STUB_DIR}/mount`]);
    }
    /** From an instance's network namespace: libnfs's nfs-ls of a volume's export on the host's end of its uplink. */
    const lsFrom = (id: string, server: string, vol: string) => spawnSync('ip', ['netns', 'exec', `pcloud-${id}`, 'timeout', '10', 'nfs-ls',
      `nfs://${server}/${vol}?version=4&nfsport=${nfsPort}`], { encoding: 'utf8' });
    /** Whether a TCP connection from an instance's network namespace to address:port opens within 3 s. */
    const connects = (id: string, address: string, port: number) => spawnSync('ip', ['netns', 'exec', `pcloud-${id}`, 'timeout', '3', 'bash', '-c',
      `exec 3<>/dev/tcp/${address}/${port}`]).status === 0;

    it('an instance without a volume cannot connect to the NFS port; one with a volume lists its export and no other', async () => {
      const run = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: 3, MaxCount: 3 }));
      const [a, b, c] = run.Instances!.map((i) => i.InstanceId!);
      const volA = (await srv.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
      const volC = (await srv.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
      try {
        for (const id of [a!, b!, c!]) await waitForState(srv.ec2, id, 'running');
        const vpcId = (await describeOne(srv.ec2, a!)).VpcId!;
        const server = uplinkAddresses(vpcId).host;
        if (!kernelHasNfs) for (const id of [a!, c!]) stubMount(id);
        await srv.ec2.send(new AttachVolumeCommand({ VolumeId: volA, InstanceId: a, Device: '/dev/sdf' }));
        await srv.ec2.send(new AttachVolumeCommand({ VolumeId: volC, InstanceId: c, Device: '/dev/sdg' }));
        // Each export names its instance's own address, not the router's (which all its instances share).
        const exported = JSON.parse(readFileSync(join(srv.dataDir, 'run/nfs/exports.json'), 'utf8')) as { volumeId: string; clients: string[] }[];
        expect(exported.find((e) => e.volumeId === volA)?.clients).toEqual([nfsClientAddress(a!)]);
        expect(exported.find((e) => e.volumeId === volC)?.clients).toEqual([nfsClientAddress(c!)]);
        // A: its own volume, read over NFS from its namespace; C's is refused to it.
        await until(() => lsFrom(a!, server, volA).status === 0, 20_000, 250);
        expect(lsFrom(a!, server, volA).stdout).toContain('lost+found');
        expect(lsFrom(a!, server, volC).status).not.toBe(0);
        expect(lsFrom(c!, server, volC).status).toBe(0);
        expect(lsFrom(c!, server, volA).status).not.toBe(0);
        // B has no volume: the NFS port is closed to it, at the uplink and at any other address of the host.
        expect(connects(a!, server, nfsPort)).toBe(true);
        expect(connects(b!, server, nfsPort)).toBe(false);
        const hostIp = execFileSync('ip', ['-o', 'route', 'get', '192.0.2.1']).toString().match(/ src (\S+)/)![1]!;
        expect(connects(b!, hostIp, nfsPort)).toBe(false);
        // Nor does A reach it by another address (its traffic there is not its NFS address's).
        expect(connects(a!, hostIp, nfsPort)).toBe(false);
        // Detached, A's access goes with it.
        await srv.ec2.send(new DetachVolumeCommand({ VolumeId: volA }));
        await until(() => !connects(a!, server, nfsPort), 15_000, 250);
      } finally {
        await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a!, b!, c!] }));
        for (const id of [a!, b!, c!]) await waitForState(srv.ec2, id, 'terminated');
        for (const v of [volA, volC]) await srv.ec2.send(new DeleteVolumeCommand({ VolumeId: v })).catch(() => undefined);
      }
    }, 300_000);
  });
});
