/**
 * A terminate cancels launches in flight, on a real server with real containers: ten launched, all terminated at once
 * while some are still forking and the rest wait for a launch slot. Afterwards no unit, nspawn process, network
 * namespace or disk of theirs is left on the host, and none comes up later.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeInstancesCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { hostInventory, startReal, type Inventory, type RealServer } from '../support/real.js';
import { until } from '../support/api.js';

let srv: RealServer;
beforeAll(async () => { srv = await startReal({ env: { PCLOUD_LAUNCH_CONCURRENCY: '2' } }); }, 180_000);
afterAll(async () => { await srv?.stop(); });

/** What the inventory holds of these instances. */
function theirs(inv: Inventory, ids: string[]): string[] {
  return (Object.values(inv) as string[][]).flat().filter((entry: string) => ids.some((id) => entry.includes(id) || entry.includes(id.slice(2))));
}

describe('terminate cancels launches', () => {
  it('ten containers launched and terminated at once leave nothing behind', async () => {
    const res = await srv.ec2.send(new RunInstancesCommand({ ImageId: srv.imageId, InstanceType: 't3.micro', MinCount: 10, MaxCount: 10 }));
    const ids = res.Instances!.map((i) => i.InstanceId!);
    expect(ids).toHaveLength(10);
    // Some launches have begun: the first forks and networks are there.
    await until(() => theirs(hostInventory(), ids).length > 0, 60_000, 50);
    const t = await srv.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    expect(new Set(t.TerminatingInstances!.map((c) => c.CurrentState!.Name))).toEqual(new Set(['shutting-down']));
    await until(async () => {
      const r = await srv.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
      return r.Reservations!.flatMap((x) => x.Instances!).every((i) => i.State!.Name === 'terminated');
    }, 180_000, 250);
    expect(theirs(hostInventory(), ids)).toEqual([]);
    // Nothing of theirs comes up afterwards: a server started again finds no orphan of theirs to take down.
    const logFile = join(srv.dataDir, 'serve.log');
    const before = readFileSync(logFile, 'utf8').length;
    await srv.stop();
    await srv.restart();
    expect(theirs(hostInventory(), ids)).toEqual([]);
    expect(readFileSync(logFile, 'utf8').slice(before)).not.toMatch(/"orphans":[1-9]/);
  }, 400_000);
});
