/**
 * Launches as a user makes and watches them, through the real API with the AWS SDK v3: RunInstances, then
 * DescribeInstanceStatus (IncludeAllInstances) until every instance is `running` and, if asked, its status is what
 * the API calls done (`ok` or `impaired`); then TerminateInstances until every one is `terminated`. Only the API is
 * read: what `ok` means is the server's. An instance that ends during the launch is recorded with the API's reason.
 */
import {
  DescribeInstancesCommand, DescribeInstanceStatusCommand, EC2Client, GetConsoleOutputCommand, RunInstancesCommand, TerminateInstancesCommand,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { BENCH_CREDS } from './launch.js';

export function ec2Client(endpoint: string): EC2Client {
  return new EC2Client({ endpoint, region: 'us-east-1', credentials: BENCH_CREDS, maxAttempts: 1 });
}

/** A user-data script that leaves a mark on the console (GetConsoleOutput), so a run can tell it ran by `ok`. */
export const USER_DATA_MARK = 'pcloud-bench-user-data-ran';
export const USER_DATA = `#!/bin/sh\necho ${USER_DATA_MARK} > /dev/console\n`;

export interface Watched {
  id: string;
  /** ms from the RunInstances call to the poll that saw `running`, and to the one that saw the status done. */
  runningMs?: number;
  doneMs?: number;
  /** The instance status the API gave last (initializing, ok, impaired, not-applicable...). */
  status?: string;
  /** Ended during the launch (shutting-down or terminated): its state and the API's StateReason. */
  failed?: string;
}

export interface WatchOpts {
  imageId: string;
  instanceType: string;
  count: number;
  userData?: string;
  /** Wait for `running` only, or for the instance status to be ok/impaired too. */
  until: 'running' | 'ok';
  pollMs: number;
  /** Give up (throw) after this long. */
  timeoutMs: number;
  /** Called the moment a poll sees an instance running / done (to read its cost then). */
  onRunning?: (w: Watched, polls: number) => void;
  onDone?: (w: Watched, polls: number) => void;
  /** Called once RunInstances has answered, with the ids. */
  onLaunched?: (ids: string[]) => void;
}

const DONE = new Set(['ok', 'impaired']);

/** The instances' state and instance status, 100 ids a call. */
async function statuses(ec2: EC2Client, ids: string[]): Promise<Map<string, { state?: string; status?: string }>> {
  const out = new Map<string, { state?: string; status?: string }>();
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
  await Promise.all(chunks.map(async (chunk) => {
    let token: string | undefined;
    do {
      const r = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: chunk, IncludeAllInstances: true, NextToken: token }));
      for (const s of r.InstanceStatuses ?? []) out.set(s.InstanceId!, { state: s.InstanceState?.Name, status: s.InstanceStatus?.Status });
      token = r.NextToken;
    } while (token);
  }));
  return out;
}

/** RunInstances, then watch every instance to `running` (and to done with `until: 'ok'`); returns each one's times. */
export async function launchAndWatch(ec2: EC2Client, o: WatchOpts): Promise<{ ids: string[]; watched: Watched[]; polls: number }> {
  const t0 = performance.now();
  const res = await ec2.send(new RunInstancesCommand({
    ImageId: o.imageId, InstanceType: o.instanceType as _InstanceType, MinCount: o.count, MaxCount: o.count,
    UserData: o.userData === undefined ? undefined : Buffer.from(o.userData).toString('base64'),
  }));
  const ids = (res.Instances ?? []).map((i) => i.InstanceId!);
  o.onLaunched?.(ids);
  const watched = new Map<string, Watched>(ids.map((id) => [id, { id }]));
  let polls = 0;
  const finished = (w: Watched) => w.failed !== undefined || (w.runningMs !== undefined && (o.until === 'running' || w.doneMs !== undefined));
  while (![...watched.values()].every(finished)) {
    if (performance.now() - t0 > o.timeoutMs) {
      const left = [...watched.values()].filter((w) => !finished(w));
      throw Object.assign(new Error(`${left.length} of ${ids.length} not ${o.until} after ${o.timeoutMs} ms`), { ids, watched: [...watched.values()] });
    }
    const now = await statuses(ec2, ids);
    polls += Math.ceil(ids.length / 100);
    const ms = performance.now() - t0;
    const ended: Watched[] = [];
    for (const [id, s] of now) {
      const w = watched.get(id)!;
      if (w.failed !== undefined) continue;
      if (s.state === 'terminated' || s.state === 'shutting-down') {
        w.failed = s.state;
        ended.push(w);
        continue;
      }
      w.status = s.status;
      if (s.state === 'running' && w.runningMs === undefined) {
        w.runningMs = ms;
        o.onRunning?.(w, polls);
      }
      if (o.until === 'ok' && w.runningMs !== undefined && w.doneMs === undefined && DONE.has(s.status ?? '')) {
        w.doneMs = ms;
        o.onDone?.(w, polls);
      }
    }
    if (ended.length) {
      // Why, as the API says it (the launch's StateReason): a figure that is missing says what happened instead.
      const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ended.map((w) => w.id) }));
      for (const inst of (d.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        const w = watched.get(inst.InstanceId!);
        if (w) w.failed = `${w.failed}: ${inst.StateReason?.Message ?? inst.StateTransitionReason ?? 'no reason given'}`;
      }
    }
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
  return { ids, watched: [...watched.values()], polls };
}

/** TerminateInstances (100 a call) and wait until every one is `terminated`; returns how long that took (ms). */
export async function terminateAll(ec2: EC2Client, ids: string[], timeoutMs = 600_000): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 100) await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 100) }));
  for (;;) {
    const now = await statuses(ec2, ids);
    if ([...now.values()].every((s) => s.state === 'terminated')) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`instances not terminated after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Whether the instance's console output (the latest) holds `mark`. */
export async function consoleHas(ec2: EC2Client, id: string, mark: string): Promise<boolean> {
  const r = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }));
  return Buffer.from(r.Output ?? '', 'base64').toString('utf8').includes(mark);
}
