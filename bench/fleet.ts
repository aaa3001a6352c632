/**
 * Fleets in one RunInstances call, as issue 14's targets count them:
 *   - `fleet` (BENCH_FLEET, 20): every instance `running`, and every instance status done (with a user-data script),
 *     next to the same number of bare `systemd-nspawn --boot`s of the same image and seed at once, in the same run;
 *   - `fleet-large` (BENCH_FLEET_LARGE, 100): every instance `running`, while a second client asks DescribeInstances
 *     (the whole account) ten times a second: its latency during the launch, next to the same call before the launch
 *     and once all are running (the same instances, no launch in flight).
 * Both say the host CPU the whole launch took (the instances' units, the server, the shared units) and what is left
 * once every instance is terminated.
 */
import { join } from 'node:path';
import { bareBootTimes, BENCH_CREDS, ensureImage, speaksGuestProtocol, startServer } from './launch.js';
import { ec2Client, launchAndWatch, terminateAll, USER_DATA, type Watched } from './ec2.js';
import { fleetCpu, machineWatch, snapshot, type CostSnapshot } from './cost.js';
import { leftovers } from './leftovers.js';
import { imageRoot } from './container.js';
import { ec2Call, round, summary } from './lib.js';

/**
 * The server's settings for fleets: limits high enough for them (the defaults are a small host's), and a ready
 * timeout (default 120 s) long enough that a host loaded by other work still gives a figure (at load ~50 on 2 cores,
 * 2026-12-01, instances of 20 and 100 at once were ended not ready at 120 s). Launch concurrency stays the default.
 */
export const FLEET_LIMITS = { PCLOUD_LIMIT_INSTANCES: '1000', PCLOUD_LIMIT_VCPUS: '4000', PCLOUD_CPU_OVERCOMMIT: '1000', PCLOUD_MEMORY_OVERCOMMIT: '1000', PCLOUD_READY_TIMEOUT_SEC: process.env.PCLOUD_READY_TIMEOUT_SEC ?? '900' };

/** Run a launch, taking a cost snapshot when every instance is running and when every one is done. */
async function watchedLaunch(dataDir: string, serverPid: number, ec2: ReturnType<typeof ec2Client>, o: { imageId: string; count: number; until: 'running' | 'ok'; pollMs: number; instanceType: string; onLaunched?: (ids: string[]) => void }) {
  let ids: string[] = [];
  let nRunning = 0;
  let nDone = 0;
  let atRunning: CostSnapshot | undefined;
  let atDone: CostSnapshot | undefined;
  const before = snapshot(dataDir, serverPid, []);
  const r = await launchAndWatch(ec2, {
    imageId: o.imageId, instanceType: o.instanceType, count: o.count, userData: USER_DATA, until: o.until, pollMs: o.pollMs, timeoutMs: 1_800_000,
    onLaunched: (l) => { ids = l; o.onLaunched?.(l); },
    onRunning: () => { if (++nRunning === ids.length) atRunning = snapshot(dataDir, serverPid, ids); },
    onDone: () => { if (++nDone === ids.length) atDone = snapshot(dataDir, serverPid, ids); },
  });
  // With instances that ended during the launch, the snapshots are taken when the watch ends.
  atRunning ??= snapshot(dataDir, serverPid, ids);
  if (o.until === 'ok') atDone ??= snapshot(dataDir, serverPid, ids);
  return { ...r, before, atRunning, atDone };
}

function times(watched: Watched[]) {
  const running = watched.filter((w) => w.runningMs !== undefined).map((w) => w.runningMs!);
  const done = watched.filter((w) => w.doneMs !== undefined).map((w) => w.doneMs!);
  const statuses = new Map<string, number>();
  for (const w of watched) {
    const k = w.failed !== undefined ? 'ended during launch' : (w.status ?? 'none');
    statuses.set(k, (statuses.get(k) ?? 0) + 1);
  }
  const all = (v: number[]) => (v.length === watched.length ? round(Math.max(...v)) : undefined);
  return {
    runningMs: { ...summary(running), all: all(running) },
    doneMs: done.length ? { ...summary(done), all: all(done) } : undefined,
    statuses: Object.fromEntries(statuses),
    failed: watched.filter((w) => w.failed !== undefined).map((w) => `${w.id} ${w.failed}`),
  };
}

/**
 * A fleet part's frame: a server on the fleet's limits, its EC2 client and the machine's watch; the instances the
 * launch returned (told through `launched`) are terminated if the part fails, and the server stops either way.
 */
async function onFleetServer<T>(dataDir: string, part: (f: { server: Awaited<ReturnType<typeof startServer>>; ec2: ReturnType<typeof ec2Client>; machine: ReturnType<typeof machineWatch>; launched: (ids: string[]) => void }) => Promise<T>): Promise<T> {
  const server = await startServer(dataDir, FLEET_LIMITS);
  const ec2 = ec2Client(server.endpoint);
  const machine = machineWatch();
  let ids: string[] = [];
  try {
    return await part({ server, ec2, machine, launched: (l) => { ids = l; } });
  } catch (err) {
    if (ids.length) await terminateAll(ec2, ids).catch(() => undefined);
    throw err;
  } finally {
    await server.stop();
  }
}

export async function benchFleet(opts: { dataDir: string; count: number; instanceType: string }) {
  const imageId = await ensureImage(opts.dataDir);
  const root = await imageRoot(opts.dataDir, imageId);
  const guest = await speaksGuestProtocol(root);
  const pool = join(opts.dataDir, 'pool');
  return onFleetServer(opts.dataDir, async ({ server, ec2, machine, launched }) => {
    let ids: string[] = [];
    const t0 = performance.now();
    const bare = await Promise.all(Array.from({ length: opts.count }, (_, i) => bareBootTimes(root, pool, 300 + i, { userData: USER_DATA, guest })));
    const bareWall = performance.now() - t0;
    const r = await watchedLaunch(opts.dataDir, server.pid, ec2, { imageId, count: opts.count, until: 'ok', pollMs: 100, instanceType: opts.instanceType, onLaunched: (l) => { ids = l; launched(l); } });
    const readyAll = Math.max(...bare.map((b) => b.readyMs));
    const okAll = bare.every((b) => b.okMs !== undefined) ? Math.max(...bare.map((b) => b.okMs!)) : undefined;
    const terminateMs = await terminateAll(ec2, ids);
    return {
      count: opts.count, instanceType: opts.instanceType, image: { id: imageId, speaksGuestProtocol: guest }, serverSettings: FLEET_LIMITS,
      bare: { readyMs: { ...summary(bare.map((b) => b.readyMs)), all: round(readyAll) }, okMs: okAll === undefined ? undefined : { all: round(okAll) }, wallMs: round(bareWall) },
      pcloud: times(r.watched),
      hostCpu: { toAllRunning: fleetCpu(r.before, r.atRunning), toAllOk: r.atDone ? fleetCpu(r.before, r.atDone) : undefined, note: 'server CPU includes answering the bench\'s polls (one DescribeInstanceStatus of every id each 100 ms)' },
      terminateMs: round(terminateMs),
      leftovers: await leftovers(opts.dataDir, ids),
      machine: machine.end(),
    };
  });
}

/** DescribeInstances (the whole account) every `everyMs` until stop() resolves: each call's latency, ms. */
function describeLoop(endpoint: string, everyMs: number) {
  const lat: number[] = [];
  let errors = 0;
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const t = performance.now();
      const r = await ec2Call(endpoint, BENCH_CREDS, { Action: 'DescribeInstances' }).catch(() => ({ status: 0 }));
      const ms = performance.now() - t;
      if (r.status === 200) lat.push(ms); else errors++;
      await new Promise((res) => setTimeout(res, Math.max(0, everyMs - ms)));
    }
  })();
  return { async stop() { stopping = true; await loop; return { ...summary(lat), errors }; } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchFleetLarge(opts: { dataDir: string; count: number; instanceType: string }) {
  const imageId = await ensureImage(opts.dataDir);
  return onFleetServer(opts.dataDir, async ({ server, ec2, machine, launched }) => {
    let ids: string[] = [];
    const idle = describeLoop(server.endpoint, 100);
    await sleep(3000);
    const before = await idle.stop();
    const during = describeLoop(server.endpoint, 100);
    let duringLaunch: Awaited<ReturnType<typeof during.stop>> | undefined;
    const r = await watchedLaunch(opts.dataDir, server.pid, ec2, { imageId, count: opts.count, until: 'running', pollMs: 200, instanceType: opts.instanceType, onLaunched: (l) => { ids = l; launched(l); } })
      .finally(() => during.stop().then((s) => { duringLaunch = s; }));
    const after = describeLoop(server.endpoint, 100);
    await sleep(3000);
    const allRunning = await after.stop();
    const terminateMs = await terminateAll(ec2, ids);
    return {
      count: opts.count, instanceType: opts.instanceType, serverSettings: FLEET_LIMITS,
      pcloud: times(r.watched),
      describeInstancesMs: {
        call: 'DescribeInstances of the whole account, every 100 ms, signed Query over HTTP (no SDK parsing in the measure)',
        beforeLaunch: before, duringLaunch: duringLaunch!, allRunning,
      },
      hostCpu: { toAllRunning: fleetCpu(r.before, r.atRunning), note: 'server CPU includes answering the bench\'s polls (DescribeInstanceStatus of every id each 200 ms) and the DescribeInstances loop' },
      terminateMs: round(terminateMs),
      leftovers: await leftovers(opts.dataDir, ids),
      machine: machine.end(),
    };
  });
}
