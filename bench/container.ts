/**
 * One container at a time, as issue 14's targets count it: RunInstances → `running` and → instance status done (ok or
 * impaired) with a user-data script, the host CPU each boot cost to each point, and the idle container's memory once
 * its boot has settled; next to a bare `systemd-nspawn --boot` of the same image and seed in the same run (to PID 1's
 * READY and, for an image that speaks the guest protocol, to the guest's X_PCLOUD_BOOT).
 */
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { openDb } from '../src/db/index.js';
import { images } from '../src/db/schema.js';
import { bareBootTimes, ensureImage, speaksGuestProtocol, startServer } from './launch.js';
import { consoleHas, ec2Client, launchAndWatch, terminateAll, USER_DATA, USER_DATA_MARK } from './ec2.js';
import { bootCost, instanceMemory, machineWatch, processCpuSeconds, snapshot, type BootCost, type CostSnapshot, type MemoryUse } from './cost.js';
import { leftovers } from './leftovers.js';
import { round, summary } from './lib.js';
import { DescribeInstanceStatusCommand, type EC2Client } from '@aws-sdk/client-ec2';

export async function imageRoot(dataDir: string, imageId: string): Promise<string> {
  const db = openDb(join(dataDir, 'pcloud.db'));
  try {
    return (await db.select().from(images).where(eq(images.id, imageId)).limit(1))[0]!.rootPath;
  } finally {
    db.$client.close();
  }
}

/** The server's CPU for one DescribeInstanceStatus poll of one instance (`id`, running), measured over `n` polls. */
export async function perPollSeconds(ec2: EC2Client, serverPid: number, id: string, n = 200): Promise<number> {
  const before = processCpuSeconds(serverPid);
  for (let i = 0; i < n; i++) await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], IncludeAllInstances: true }));
  const after = processCpuSeconds(serverPid);
  return (after.self + after.children - before.self - before.children) / n;
}

export async function benchContainer(opts: { dataDir: string; runs: number; settleMs: number; instanceType: string }) {
  const imageId = await ensureImage(opts.dataDir);
  const root = await imageRoot(opts.dataDir, imageId);
  const guest = await speaksGuestProtocol(root);
  const pool = join(opts.dataDir, 'pool');
  const server = await startServer(opts.dataDir);
  const ec2 = ec2Client(server.endpoint);
  const machine = machineWatch();
  try {
    // Warm the page cache for both.
    await bareBootTimes(root, pool, 0, { userData: USER_DATA, guest });
    const warm = await launchAndWatch(ec2, { imageId, instanceType: opts.instanceType, count: 1, userData: USER_DATA, until: 'ok', pollMs: 20, timeoutMs: 180_000 });
    const perPollS = await perPollSeconds(ec2, server.pid, warm.ids[0]!);
    await terminateAll(ec2, warm.ids);

    const bare = { readyMs: [] as number[], okMs: [] as number[] };
    const running: number[] = [];
    const ok: number[] = [];
    const statuses: string[] = [];
    const cpuRunning: BootCost[] = [];
    const cpuOk: BootCost[] = [];
    const memory: MemoryUse[] = [];
    let markSeenAtDone = 0;
    const left: string[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const b = await bareBootTimes(root, pool, i + 1, { userData: USER_DATA, guest });
      bare.readyMs.push(b.readyMs);
      if (b.okMs !== undefined) bare.okMs.push(b.okMs);
      const before = snapshot(opts.dataDir, server.pid, []);
      let atRunning: CostSnapshot | undefined;
      let atDone: CostSnapshot | undefined;
      let pollsRunning = 0;
      let pollsDone = 0;
      const r = await launchAndWatch(ec2, {
        imageId, instanceType: opts.instanceType, count: 1, userData: USER_DATA, until: 'ok', pollMs: 20, timeoutMs: 180_000,
        onRunning: (w, polls) => { atRunning = snapshot(opts.dataDir, server.pid, [w.id]); pollsRunning = polls; },
        onDone: (w, polls) => { atDone = snapshot(opts.dataDir, server.pid, [w.id]); pollsDone = polls; },
      });
      const w = r.watched[0]!;
      const id = w.id;
      if (w.failed !== undefined) throw new Error(`run ${i + 1}: ${id} ${w.failed}`);
      if (await consoleHas(ec2, id, USER_DATA_MARK)) markSeenAtDone++;
      running.push(w.runningMs!);
      ok.push(w.doneMs!);
      statuses.push(w.status ?? '');
      cpuRunning.push(bootCost(before, atRunning!, id, pollsRunning, perPollS));
      cpuOk.push(bootCost(before, atDone!, id, pollsDone, perPollS));
      await new Promise((res) => setTimeout(res, opts.settleMs));
      const mem = instanceMemory(opts.dataDir, id);
      if (mem) memory.push(mem);
      await terminateAll(ec2, r.ids);
      left.push(...(await leftovers(opts.dataDir, r.ids)));
    }
    const costSummary = (list: BootCost[]) => ({
      totalS: summary(list.map((c) => c.totalS), 3), unitS: summary(list.map((c) => c.unitS), 3),
      serverS: summary(list.map((c) => c.serverS), 3), sharedS: summary(list.map((c) => c.sharedS), 3),
    });
    const mib = (b: number | undefined) => (b === undefined ? NaN : b / 2 ** 20);
    return {
      instanceType: opts.instanceType,
      image: { id: imageId, speaksGuestProtocol: guest },
      userData: USER_DATA,
      runs: opts.runs,
      bare: { readyMs: summary(bare.readyMs), okMs: bare.okMs.length ? summary(bare.okMs) : undefined },
      pcloud: { runningMs: summary(running), okMs: summary(ok), finalStatuses: statuses, userDataMarkOnConsoleAtOk: `${markSeenAtDone}/${opts.runs}` },
      cpuPerBoot: {
        toRunning: costSummary(cpuRunning), toOk: costSummary(cpuOk),
        serverCpuPerPollS: round(perPollS, 5),
        note: 'unit = the instance unit\'s cgroup subtree (supervisor, nspawn, the container); server = pcloud serve and the host commands it ran, less its CPU for the bench\'s polls (measured per poll); shared = the data dir\'s other units (DNS, metadata, nginx). Kernel threads (btrfs, network) are not counted.',
      },
      idleMemoryMiB: {
        settleMs: opts.settleMs,
        current: summary(memory.map((m) => mib(m.bytes))),
        anon: summary(memory.map((m) => mib(m.anonBytes))),
        file: summary(memory.map((m) => mib(m.fileBytes))),
      },
      leftovers: left,
      machine: machine.end(),
    };
  } finally {
    await server.stop();
  }
}
