/**
 * A real container's root holds to its root volume's size (8 GiB for every instance today): inside a t3.micro, a 1 GiB
 * file fits, a 9 GiB one is refused (EDQUOT), in a subvolume the tenant nests in its root too, while the instance keeps
 * running; terminate leaves no quota group.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { leaderOf, startReal, unitActive, waitForState, type RealServer } from '../support/real.js';
import { btrfsSysDir, kernelHasSimpleQuotas, levelOneGroups, subvolumeId } from '../../src/host/btrfs-quota.js';

let srv: RealServer;
beforeAll(async () => { srv = await startReal(); });
afterAll(async () => { await srv?.stop(); });

/** A command inside a running container as its root; its exit code and output. */
function inside(id: string, cmd: string[]): { status: number | null; out: string } {
  const r = spawnSync('nsenter', ['-t', String(leaderOf(id)), '-U', '-m', '-u', '-i', '-n', '-p', '--', ...cmd], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!(await kernelHasSimpleQuotas()))('a container root volume size', () => {
  it('refuses a write past 8 GiB in a t3.micro, keeps it running, and terminate leaves no quota group', async () => {
    const res = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = res.Instances![0]!.InstanceId!;
    await waitForState(srv.ec2, id, 'running', 90_000, 200);
    const pool = join(srv.dataDir, 'pool');
    const sysDir = await btrfsSysDir(pool);
    const subvol = await subvolumeId(join(pool, 'instances', id));
    expect(await levelOneGroups(sysDir)).toContain(subvol);
    const limit = Number(readFileSync(join(sysDir, 'qgroups', `1_${subvol}`, 'max_referenced'), 'utf8'));
    expect(limit).toBeGreaterThan(7 * 2 ** 30);
    expect(limit).toBeLessThan(8 * 2 ** 30);

    expect(inside(id, ['fallocate', '-l', '1G', '/var/tmp/fits'])).toMatchObject({ status: 0 });
    const big = inside(id, ['fallocate', '-l', '9G', '/var/tmp/big']);
    expect(big.status).not.toBe(0);
    expect(big.out).toMatch(/Disk quota exceeded|No space left/);
    // A subvolume the tenant makes in its root (BTRFS_IOC_SUBVOL_CREATE from its user namespace) is held to the same size.
    const mkSubvol = [
      'import fcntl, os, struct',
      "fd = os.open('/var/tmp', os.O_RDONLY | os.O_DIRECTORY)",
      "fcntl.ioctl(fd, 0x5000940E, bytearray(struct.pack('=q', 0) + b'nested'.ljust(4088, b'\\0')))",
    ].join('\n');
    expect(inside(id, ['python3', '-c', mkSubvol])).toMatchObject({ status: 0 });
    expect(spawnSync('btrfs', ['subvolume', 'show', join(pool, 'instances', id, 'var/tmp/nested')]).status).toBe(0);
    const nested = inside(id, ['fallocate', '-l', '9G', '/var/tmp/nested/big']);
    expect(nested.status).not.toBe(0);
    expect(nested.out).toMatch(/Disk quota exceeded|No space left/);
    // df still shows the pool (quotas do not change statfs); the instance goes on.
    expect(inside(id, ['rm', '-f', '/var/tmp/big', '/var/tmp/fits']).status).toBe(0);
    expect(inside(id, ['sh', '-c', 'echo still here > /var/tmp/after && cat /var/tmp/after']).out.trim()).toBe('still here');
    expect(unitActive(id, srv.dataDir)).toBe(true);
    expect((await waitForState(srv.ec2, id, 'running', 5_000, 200)).State?.Name).toBe('running');

    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitForState(srv.ec2, id, 'terminated', 90_000, 200);
    expect(await levelOneGroups(sysDir)).not.toContain(subvol);
    const groups = spawnSync('btrfs', ['qgroup', 'show', '--raw', pool], { encoding: 'utf8' }).stdout;
    expect(groups.split('\n').some((l) => l.startsWith(`0/${subvol} `) || l.startsWith(`1/${subvol} `))).toBe(false);
  });
});
