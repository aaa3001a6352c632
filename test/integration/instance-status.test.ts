/**
 * Real containers through a real `pcloud serve`: `running` means the guest's system is up (sshd accepts on its private
 * IP the moment the instance is running), and the status checks follow its boot as the guest protocol says
 * (README, "Instance status"): initializing until user-data ran, ok then, impaired when cloud-init failed, and a
 * user-data server in the foreground running, serving and ok within the image's bound. Each launch's events
 * (`pcloud events`) say so: pending, pending->running, and the status check initializing->ok.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeInstanceStatusCommand, GetConsoleOutputCommand, RunInstancesCommand, TerminateInstancesCommand, type InstanceStatus,
} from '@aws-sdk/client-ec2';
import { CLI, leaderOf, startReal, waitForState, type RealServer } from '../support/real.js';
import { until } from '../support/api.js';

let srv: RealServer;
/** Whether the test image speaks the guest protocol (images/debian-12 from before it does not: status ok at running). */
let speaks = false;
beforeAll(async () => {
  srv = await startReal();
  speaks = existsSync(join(srv.dataDir, 'pool/images', srv.imageId, 'etc/pcloud/guest-protocol'));
  if (!speaks) console.log('instance-status: the test image does not speak the guest protocol; its tests of initializing, ok and impaired are skipped');
});
afterAll(async () => { await srv?.stop(); });

const NOT_SPOKEN = 'the test image speaks no guest protocol (/etc/pcloud/guest-protocol): built before it';

function run(userData?: string, count = 1) {
  return srv.ec2.send(new RunInstancesCommand({
    ImageId: srv.imageId, InstanceType: 't3.nano', MinCount: count, MaxCount: count,
    ...(userData ? { UserData: Buffer.from(userData).toString('base64') } : {}),
  })).then((r) => r.Instances!);
}

async function status(id: string): Promise<InstanceStatus> {
  return (await srv.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses![0]!;
}

async function waitStatus(id: string, want: string, timeoutMs = 90_000): Promise<InstanceStatus> {
  return until(async () => {
    const s = await status(id);
    return s.InstanceStatus?.Status === want ? s : undefined;
  }, timeoutMs, 200);
}

/** A TCP connect to ADDR:PORT from the instance's own network namespace (the VPC's side of its eth0). */
function tcpFrom(id: string, addr: string, port: number): boolean {
  return spawnSync('ip', ['netns', 'exec', `pcloud-${id}`, 'bash', '-c', `exec 3<>/dev/tcp/${addr}/${port}`], { timeout: 5_000 }).status === 0;
}

/** Run a command inside a running container as its root. */
function inside(id: string, cmd: string[]): string {
  return execFileSync('nsenter', ['-t', String(leaderOf(id)), '-U', '-m', '-u', '-i', '-n', '-p', '--', ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
}

/** `pcloud events --instance ID` of the server's data dir: each line's kind and code (the change). */
function eventsOf(id: string): string[] {
  const out = execFileSync(process.execPath, [CLI, 'events', '--instance', id, '--data', srv.dataDir], { encoding: 'utf8' });
  return out.trim().split('\n').slice(1).map((l) => l.split(/ {2,}/).slice(2, 4).join(' '));
}

async function terminate(ids: string[]): Promise<void> {
  await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
  for (const id of ids) await waitForState(srv.ec2, id, 'terminated');
}

describe('running and status checks', () => {
  it('sshd accepts on the private IP as soon as the instance is running', async () => {
    const [inst] = await run();
    const id = inst!.InstanceId!;
    await waitForState(srv.ec2, id, 'running', 90_000, 50);
    expect(tcpFrom(id, inst!.PrivateIpAddress!, 22)).toBe(true);
    if (!speaks) expect((await status(id)).InstanceStatus?.Status).toBe('ok');
    expect(eventsOf(id).slice(0, 2)).toEqual(['state pending', 'state pending->running']);
    await terminate([id]);
    expect(eventsOf(id).filter((e) => e.startsWith('state')).slice(-2)).toEqual(['state running->shutting-down', 'state shutting-down->terminated']);
  });

  it('initializing until the user-data script ran, ok then (its marker in the fork)', async (ctx) => {
    if (!speaks) return ctx.skip(NOT_SPOKEN);
    // The script waits for the test's word, so that `initializing` is seen whatever the host's speed.
    const [inst] = await run('#!/bin/sh\nwhile [ ! -e /run/pcloud-test-go ]; do sleep 0.1; done\necho done > /var/tmp/pcloud-user-data-ran\n');
    const id = inst!.InstanceId!;
    await waitForState(srv.ec2, id, 'running', 90_000, 50);
    expect(tcpFrom(id, inst!.PrivateIpAddress!, 22)).toBe(true);
    const first = await status(id);
    expect(first.InstanceStatus).toEqual({ Status: 'initializing', Details: [{ Name: 'reachability', Status: 'initializing' }] });
    expect(first.SystemStatus?.Status).toBe('initializing');
    const fork = join(srv.dataDir, 'pool/instances', id);
    expect(existsSync(join(fork, 'var/tmp/pcloud-user-data-ran'))).toBe(false);
    inside(id, ['touch', '/run/pcloud-test-go']);
    const done = await waitStatus(id, 'ok');
    expect(done.InstanceStatus?.Details).toEqual([{ Name: 'reachability', Status: 'passed' }]);
    expect(existsSync(join(fork, 'var/tmp/pcloud-user-data-ran'))).toBe(true);
    // What happened, as the events recorded it while it happened: the guest's boot stages as the unit manager told them.
    const told = await until(() => { const e = eventsOf(id); return e.includes('status initializing->ok') && e; }, 10_000, 200);
    expect(told).toEqual(['state pending', 'state pending->running', 'status initializing', 'status initializing->ok']);
    await terminate([id]);
  });

  it('a user-data server in the foreground: running, serving another instance, and ok within the image\'s bound', async (ctx) => {
    if (!speaks) return ctx.skip(NOT_SPOKEN);
    const [server] = await run('#!/bin/sh\ncd /etc\nexec python3 -m http.server 8080\n');
    const [client] = await run();
    const [s, c] = [server!.InstanceId!, client!.InstanceId!];
    await waitForState(srv.ec2, s, 'running');
    await waitForState(srv.ec2, c, 'running');
    // The default security group lets its members in: the client fetches a page of the server's.
    const fetch = () => {
      try {
        return inside(c, ['python3', '-c', `import urllib.request; print(urllib.request.urlopen("http://${server!.PrivateIpAddress}:8080/hostname", timeout=3).read().decode())`]);
      } catch {
        return undefined;
      }
    };
    const page = await until(fetch, 60_000, 200);
    expect(page).toMatch(/^ip-/);
    await waitStatus(s, 'ok', 120_000);
    expect(fetch()).toBe(page);
    await terminate([s, c]);
  });

  it('user-data that makes cloud-init fail: impaired, the reason on the console', async (ctx) => {
    if (!speaks) return ctx.skip(NOT_SPOKEN);
    const [inst] = await run('#cloud-config\nwrite_files:\n  - path: /proc/pcloud-no-such-dir/file\n    content: never\n');
    const id = inst!.InstanceId!;
    await waitForState(srv.ec2, id, 'running');
    const st = await waitStatus(id, 'impaired');
    expect(st.InstanceStatus?.Details).toEqual([{ Name: 'reachability', Status: 'failed' }]);
    await until(() => eventsOf(id).includes('status initializing->impaired'), 10_000, 200);
    // The guest's check fails, not the host's (EC2's system check is its infrastructure's).
    expect(st.SystemStatus?.Status).toBe('ok');
    const out = await srv.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
    expect(Buffer.from(out.Output ?? '', 'base64').toString()).toMatch(/write_files/);
    await terminate([id]);
  });
});
