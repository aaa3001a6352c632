/**
 * The debian-12 image's guest side through a real `pcloud serve`: sshd serves the SSH host keys the host made while it
 * forked the disk (cloud-init keeps them, the image's fallback unit skips, GetConsoleOutput shows their fingerprints as
 * cloud-init prints them), and cloud-init, run after sshd in one process, still runs cloud-config user-data
 * (bootcmd, write_files, users, runcmd) and ends `done`. The running/ok split over the host's notify socket is the
 * host side's to test (signal).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetConsoleOutputCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { leaderOf, startReal, waitForState, type RealServer } from '../support/real.js';
import { until } from '../support/api.js';

let srv: RealServer;
beforeAll(async () => { srv = await startReal(); });
afterAll(async () => { await srv?.stop(); });

function inside(id: string, cmd: string[]): string {
  return execFileSync('nsenter', ['-t', String(leaderOf(id, srv.dataDir)), '-U', '-m', '-u', '-i', '-n', '-p', '--', ...cmd]).toString().trim();
}

/** `ssh-keygen -l` of a public key line: "256 SHA256:... comment (TYPE)". */
function fingerprint(pub: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-fp-'));
  try {
    writeFileSync(join(dir, 'k.pub'), pub + '\n');
    return execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'k.pub')]).toString().trim().split(' ')[1]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the debian-12 guest', () => {
  it('serves the host-made SSH host keys; cloud-config user-data runs after sshd is up', async () => {
    const userData = [
      '#cloud-config',
      'bootcmd: [[sh, -c, "echo bootcmd >> /var/tmp/order"]]',
      'write_files: [{path: /var/tmp/written, content: "written by cloud-init\\n"}]',
      'users: [default, {name: alice, shell: /bin/bash}]',
      'runcmd: [[sh, -c, "echo runcmd >> /var/tmp/order"]]',
      '',
    ].join('\n');
    const res = await srv.ec2.send(new RunInstancesCommand({
      ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, UserData: Buffer.from(userData).toString('base64'),
    }));
    const id = res.Instances![0]!.InstanceId!;
    try {
      const inst = await waitForState(srv.ec2, id, 'running');
      // What users wait with: it ends, done.
      expect(inside(id, ['cloud-init', 'status', '--wait']).split('\n').pop()).toBe('status: done');

      // sshd on the private IP serves the keys the seed wrote: ed25519 and ecdsa, no RSA.
      const ip = inst.PrivateIpAddress!;
      const scanned = execFileSync('ip', ['netns', 'exec', `pcloud-${id}`, 'ssh-keyscan', '-T', '10', ip], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString().trim().split('\n').map((l) => l.split(' ').slice(1, 3).join(' ')).sort();
      const onDisk = ['ecdsa', 'ed25519'].map((t) => inside(id, ['cat', `/etc/ssh/ssh_host_${t}_key.pub`]));
      expect(scanned).toEqual(onDisk.map((l) => l.split(' ').slice(0, 2).join(' ')).sort());
      expect(inside(id, ['sh', '-c', 'ls /etc/ssh | grep ssh_host_ | sort']).split('\n'))
        .toEqual(['ssh_host_ecdsa_key', 'ssh_host_ecdsa_key.pub', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
      expect(inside(id, ['stat', '-c', '%a %U', '/etc/ssh/ssh_host_ed25519_key'])).toBe('600 root');
      // Made by the host: the image's fallback skipped, cloud-init was told to keep them.
      expect(inside(id, ['systemctl', 'show', '-p', 'ConditionResult', '--value', 'pcloud-ssh-keygen.service'])).toBe('no');
      expect(inside(id, ['cat', '/etc/cloud/cloud.cfg.d/99-pcloud-ssh-host-keys.cfg'])).toContain('ssh_deletekeys: false');
      // The console shows their fingerprints, as cloud-init prints them.
      await until(async () => {
        const out = await srv.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
        return Buffer.from(out.Output ?? '', 'base64').toString().includes('END SSH HOST KEY FINGERPRINTS');
      }, 30_000, 500);
      const console = Buffer.from((await srv.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }))).Output!, 'base64').toString();
      for (const pub of onDisk) expect(console).toContain(fingerprint(pub));

      // cloud-config ran, in its order.
      expect(inside(id, ['cat', '/var/tmp/order'])).toBe('bootcmd\nruncmd');
      expect(inside(id, ['cat', '/var/tmp/written'])).toBe('written by cloud-init');
      expect(inside(id, ['id', '-un', 'alice'])).toBe('alice');
      expect(inside(id, ['id', '-un', 'debian'])).toBe('debian');
      // In a container cloud-init runs after sshd (its local stage not at all), and the image speaks the guest protocol.
      expect(inside(id, ['systemctl', 'show', '-p', 'LoadState', '--value', 'cloud-init-local.service'])).toBe('masked');
      expect(inside(id, ['cat', '/etc/pcloud/guest-protocol'])).toBe('1');
    } finally {
      await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    }
  });
});
