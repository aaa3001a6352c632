/**
 * A real container through a real `pcloud serve` whose pool is mounted without nodev (as an operator's native btrfs
 * or XFS pool may be): a device node in the container's root opens no host device. The host makes, in the running
 * container's fork, a mode-666 node of the pool's own loop device and a copy of /dev/null; a process the container's
 * systemd starts can use the null copy (so the mount lets device nodes through) but gets EPERM (the device cgroup, not
 * nodev's EACCES) on the loop device, while /dev/null, zero, full, random, urandom and the pty console keep working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GetConsoleOutputCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { leaderOf, startReal, waitForState, waitStatusOk, type RealServer } from '../support/real.js';
import { unitCgroup } from '../../src/host/units/proc.js';
import { devicePolicySupport } from '../../src/host/units/devices.js';

let srv: RealServer;
let pool: string;
/** The pool's mount options before the test let device nodes through it (restored after). */
let poolHadNodev = false;

beforeAll(async () => {
  srv = await startReal();
  pool = join(srv.dataDir, 'pool');
  const options = execFileSync('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', pool]).toString().trim();
  poolHadNodev = options.split(',').includes('nodev');
  // An operator's pool: device nodes on it are device nodes. Before the container starts (its root is a mount cloned
  // from the pool's, flags included).
  if (poolHadNodev) execFileSync('mount', ['-o', 'remount,dev', pool]);
});
afterAll(async () => {
  if (poolHadNodev) execFileSync('mount', ['-o', 'remount,nodev', pool]);
  await srv?.stop();
});

/** Run a script as a service of the container's own systemd (so in the container's cgroups), its output back. */
function inContainer(id: string, script: string): { out: string; status: number | null } {
  const res = spawnSync('nsenter', ['-t', String(leaderOf(id)), '-a', '--', 'systemd-run', '--wait', '--pipe', '-q', '--', 'sh', '-c', `${script} 2>&1`], { encoding: 'utf8', timeout: 60_000 });
  return { out: `${res.stdout}${res.stderr}`, status: res.status };
}

/** The direct manager enforces the policy on cgroup v1 only; under systemd, DevicePolicy= does (v1 or BPF). */
const enforced = () => srv.unitManager !== 'direct' || devicePolicySupport().enforced;
const direct = () => srv.unitManager === 'direct';
const unitDevicesCgroup = (id: string) => join('/sys/fs/cgroup/devices', unitCgroup(join(srv.dataDir, 'run/units', `pcloud-instance@${id}`), `pcloud-instance@${id}`));

describe('a container\'s device policy', () => {
  let id: string;

  it('boots to running, and a host device node in its root cannot be opened while the pseudo devices work', async (ctx) => {
    if (!enforced()) return ctx.skip();
    const res = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    id = res.Instances![0]!.InstanceId!;
    await waitForState(srv.ec2, id, 'running', 90_000, 100);
    await waitStatusOk(srv.ec2, id);
    const leader = leaderOf(id);
    // nspawn's own /dev set-up still works: the container's systemd is up, its console (a pty) carries its boot.
    expect(inContainer(id, 'systemctl is-system-running').out).toMatch(/running|degraded/);
    const console = await srv.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
    expect(Buffer.from(console.Output!, 'base64').toString()).toMatch(/login:|Reached target/);
    // The container's root lets device nodes through (no nodev on it).
    const rootMount = readFileSync(`/proc/${leader}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/')!;
    expect(rootMount.split(' ')[5]!.split(',')).not.toContain('nodev');

    // From the host, in the fork: the pool's loop device (whose contents are every tenant's disks) and a /dev/null copy.
    const fork = join(pool, 'instances', id);
    const source = execFileSync('findmnt', ['-n', '-o', 'SOURCE', '--target', pool]).toString().trim();
    const disk = existsSync(source) && statSync(source).isBlockDevice() ? source : '/dev/loop0';
    const [major, minor] = execFileSync('stat', ['-L', '-c', '%t %T', disk]).toString().trim().split(' ').map((h) => String(parseInt(h, 16)));
    execFileSync('mknod', ['-m', '666', join(fork, 'root/pool-disk'), 'b', major!, minor!]);
    execFileSync('mknod', ['-m', '666', join(fork, 'root/null-copy'), 'c', '1', '3']);

    const r = inContainer(id, [
      'head -c 512 /root/pool-disk | wc -c',
      'echo x > /root/null-copy && echo null-copy-ok',
      'echo x > /dev/null && echo null-ok',
      'head -c 8 /dev/zero | wc -c',
      'head -c 8 /dev/urandom | wc -c',
      'head -c 8 /dev/random | wc -c',
      'echo x > /dev/full || echo full-refused',
      'mknod /root/made b 7 0 || echo mknod-refused',
    ].join('; '));
    // Without a policy the first line is 512: the pool's disk, read from inside (the finding this guards against).
    expect(r.out).not.toMatch(/^512$/m);
    expect(r.out).toMatch(/'\/root\/pool-disk'.*: Operation not permitted/);
    expect(r.out).toContain('null-copy-ok');
    expect(r.out).toContain('null-ok');
    expect(r.out.match(/^8$/gm)).toHaveLength(3);
    // /dev/full opens (its write fails as it always does: ENOSPC, which dash reports as an I/O error).
    expect(r.out).toContain('full-refused');
    expect(r.out).not.toMatch(/full.*Operation not permitted/);
    expect(r.out).toContain('mknod-refused');
    if (direct()) {
      // The unit's device cgroup holds the container, closed: no `a *:* rwm`, no block device at all.
      const cgroup = unitDevicesCgroup(id);
      const line = readFileSync(`/proc/${leader}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1] === 'devices');
      expect(line?.split(':')[2]).toBe(cgroup.slice('/sys/fs/cgroup/devices'.length));
      const list = readFileSync(join(cgroup, 'devices.list'), 'utf8').trim().split('\n');
      expect(list).toContain('c 1:3 rwm');
      expect(list).toContain('c 136:* rw');
      expect(list.filter((l) => l.startsWith('a ') || l.startsWith('b '))).toEqual([]);
    }
  });

  it('terminates, and the unit\'s device cgroup goes with it', async (ctx) => {
    if (!id) return ctx.skip();
    const cgroup = unitDevicesCgroup(id);
    const hadCgroup = existsSync(cgroup);
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitForState(srv.ec2, id, 'terminated', 90_000, 100);
    expect(hadCgroup).toBe(direct());
    expect(existsSync(cgroup)).toBe(false);
  });
});
