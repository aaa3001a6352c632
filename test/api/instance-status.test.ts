/**
 * DescribeInstanceStatus over the wire: a running instance's status checks follow what its guest said of its boot
 * (its unit's status text: guest-boot.ts), as the SDK and its instance-status-ok waiter read them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DescribeInstanceStatusCommand, DescribeInstancesCommand, RunInstancesCommand, waitUntilInstanceStatusOk,
} from '@aws-sdk/client-ec2';
import { startApi, until, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

async function launch(): Promise<string> {
  const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  const id = res.Instances![0]!.InstanceId!;
  await until(async () => (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name === 'running');
  return id;
}

function guestSays(id: string, statusText: string): void {
  api.units.units.get(`pcloud-instance@${id}`)!.statusText = statusText;
}

describe('DescribeInstanceStatus and the guest\'s boot', () => {
  it('initializing while the guest boots, impaired when it says so, ok when done; the status filters apply; the SDK waiter passes', async () => {
    const [a, b] = [await launch(), await launch()];
    guestSays(a, 'running');
    guestSays(b, 'impaired');
    const res = await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [a, b] }));
    const byId = new Map(res.InstanceStatuses!.map((s) => [s.InstanceId, s]));
    expect(byId.get(a)?.InstanceStatus).toEqual({ Status: 'initializing', Details: [{ Name: 'reachability', Status: 'initializing' }] });
    expect(byId.get(a)?.SystemStatus?.Status).toBe('initializing');
    expect(byId.get(b)?.InstanceStatus).toEqual({ Status: 'impaired', Details: [{ Name: 'reachability', Status: 'failed' }] });
    const filtered = await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [a, b], Filters: [{ Name: 'instance-status.status', Values: ['impaired'] }] }));
    expect(filtered.InstanceStatuses?.map((s) => s.InstanceId)).toEqual([b]);
    guestSays(a, 'ok');
    const waited = await waitUntilInstanceStatusOk({ client: api.ec2, maxWaitTime: 30, minDelay: 1 }, { InstanceIds: [a] });
    expect(waited.state).toBe('SUCCESS');
    const ok = await api.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [a] }));
    expect(ok.InstanceStatuses?.[0]?.InstanceStatus).toEqual({ Status: 'ok', Details: [{ Name: 'reachability', Status: 'passed' }] });
  });
});
