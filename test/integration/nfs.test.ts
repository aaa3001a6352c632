/**
 * NFS volumes for containers. This machine's kernel has no NFS client, so a container cannot mount one: everything up
 * to the mount is tested for real. The server side runs for real: pcloud's nfs-ganesha exports volumes (ext4 made on
 * first use, loop-mounted, exported per volume, reloaded by SIGHUP), read and written from the host with libnfs's
 * userspace client; and AttachVolume to a real container runs the mount in the container's namespaces, which fails
 * here and is undone, leaving the volume available and nothing exported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachVolumeCommand, CreateVolumeCommand, DeleteVolumeCommand, DescribeVolumesCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { mountCommand, NfsServer } from '../../src/host/nfs.js';
import { openUnitManager } from '../../src/host/units/index.js';
import type { UnitManager } from '../../src/host/units/types.js';
import { leaderOf, startReal, waitForState, type RealServer } from '../support/real.js';
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
  units = await openUnitManager(join(dir, 'run'));
  nfs = new NfsServer(units, join(dir, 'nfs'), port);
});
afterAll(async () => {
  for (const v of ['vol-0000000000000000a', 'vol-0000000000000000b']) await nfs?.unexport(v).catch(() => undefined);
  await units?.stop('pcloud-nfs');
  units?.close();
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
    // Exported to another address (as each volume is to its VPC router's only): this host, as 127.0.0.1, gets nothing.
    const c = join(dir, 'c.raw');
    execFileSync('truncate', ['-s', '64M', c]);
    await nfs.export('vol-0000000000000000c', c, '10.255.255.1');
    await new Promise((r) => setTimeout(r, 1000));
    expect(ls('vol-0000000000000000c').status).not.toBe(0);
    // The same export, opened to this host too: now it answers (it was the client list that refused).
    await nfs.export('vol-0000000000000000c', c, '127.0.0.1');
    await until(() => ls('vol-0000000000000000c').status === 0, 15_000, 200);
    await nfs.unexport('vol-0000000000000000c');
  }, 60_000);

  it('the mount a container gets', () => {
    expect(mountCommand(4242, '100.64.0.1', 2049, 'vol-0123456789abcdef0', '/mnt/sdf')).toEqual([
      'nsenter', '-t', '4242', '-m', '-n', '--', 'mount', '-t', 'nfs4', '-o', 'vers=4.1,port=2049,proto=tcp,hard,timeo=600',
      '100.64.0.1:/vol-0123456789abcdef0', '/mnt/sdf',
    ]);
  });
});

describe('AttachVolume to a real container', () => {
  let srv: RealServer;
  beforeAll(async () => { srv = await startReal({ env: { PCLOUD_NFS_PORT: String(await freePort()) } }); });
  afterAll(async () => { await srv?.stop(); });

  it('runs the NFS mount inside the container; without a kernel NFS client it fails, is undone, and says why', async () => {
    const id = (await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    const vol = (await srv.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
    try {
      await waitForState(srv.ec2, id, 'running');
      const err = await srv.ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: id, Device: '/dev/sdf' })).catch((e: Error) => e);
      const kernelHasNfs = readFileSync('/proc/filesystems', 'utf8').includes('nfs4');
      if (kernelHasNfs) {
        expect(err).not.toBeInstanceOf(Error);
        expect(execFileSync('nsenter', ['-t', String(leaderOf(id)), '-m', '--', 'findmnt', '-n', '-o', 'FSTYPE', '/mnt/sdf']).toString().trim()).toBe('nfs4');
      } else {
        expect((err as Error).name).toBe('UnsupportedOperation');
        expect((err as Error).message).toMatch(/mount -t nfs4 -o vers=4\.1,port=\d+,proto=tcp,hard,timeo=600 100\.\d+\.\d+\.\d+:\/vol-\S+ \/mnt\/sdf failed/);
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
