/**
 * A tenant flooding its console does not fill the host's disk (a real container through a real `pcloud serve`): what
 * it writes to /dev/console is kept bounded, at most two files of 1 MiB under the direct manager (console-log.ts; under
 * systemd the journal keeps it within its own limits), and GetConsoleOutput still ends with its latest output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GetConsoleOutputCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { describeOne, leaderOf, startReal, type RealServer, waitForState } from '../support/real.js';
import { until } from '../support/api.js';

let srv: RealServer;
beforeAll(async () => { srv = await startReal(); });
afterAll(async () => { await srv?.stop(); });

describe('a container flooding its console', () => {
  it('leaves at most two bounded files on disk, runs on, and GetConsoleOutput gives its latest output', async () => {
    const res = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = res.Instances![0]!.InstanceId!;
    await waitForState(srv.ec2, id, 'running', 90_000, 100);
    // As root in the container (its namespaces, through its leader): 60 MB to /dev/console, then a last line.
    execFileSync('nsenter', ['-t', String(leaderOf(id)), '-U', '-m', '-u', '-i', '-n', '-p', '--', 'sh', '-c',
      "head -c 60000000 /dev/zero | tr '\\0' A > /dev/console; echo; echo flood-over > /dev/console"], { timeout: 120_000 });
    const output = async () => Buffer.from((await srv.ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }))).Output ?? '', 'base64').toString();
    const latest = await until(async () => { const o = await output(); return o.includes('flood-over') && o; }, 60_000, 100);
    expect(latest.length).toBeGreaterThan(60_000);
    expect(latest.slice(0, 1000)).toMatch(/^A+$/);
    const dir = join(srv.dataDir, 'run/units', `pcloud-instance@${id}`);
    if (srv.unitManager === 'direct') {
      const files = readdirSync(dir).filter((f) => f.startsWith('console'));
      expect(files.sort()).toEqual(['console.log', 'console.log.1']);
      expect(files.reduce((n, f) => n + statSync(join(dir, f)).size, 0)).toBeLessThanOrEqual(2 * 1024 * 1024);
    }
    expect((await describeOne(srv.ec2, id)).State?.Name).toBe('running');
    await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitForState(srv.ec2, id, 'terminated', 90_000, 100);
  });
});
