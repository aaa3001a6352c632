/**
 * Density (issue 14: "200 idle t3.nano containers on this host at once, all ok, and terminated cleanly"): BENCH_DENSE
 * (200) t3.nano instances launched together (RunInstances calls of at most 100, all in flight at once), watched until
 * every one is `running` and its status done (or BENCH_DENSE_TIMEOUT_MS, 30 minutes, has passed: it says how many
 * were); once their boots have settled, each one's memory and what they cost the host idle (CPU over BENCH_IDLE_MS);
 * then all terminated, and what is left on the host looked for.
 */
import { readFileSync } from 'node:fs';
import { ensureImage, startServer } from './launch.js';
import { ec2Client, launchAndWatch, terminateAll, USER_DATA, type Watched } from './ec2.js';
import { instanceMemory, machineWatch, parseKeyValues, snapshot } from './cost.js';
import { leftovers } from './leftovers.js';
import { FLEET_LIMITS } from './fleet.js';
import { round, summary } from './lib.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** /proc/meminfo's MemAvailable, MiB. */
function memAvailableMiB(): number {
  const kb = parseKeyValues(readFileSync('/proc/meminfo', 'utf8').replace(/:|kB/g, '')).get('MemAvailable') ?? NaN;
  return round(kb / 1024, 0);
}

export async function benchDense(opts: { dataDir: string; count: number; settleMs: number; idleMs: number; timeoutMs: number }) {
  const imageId = await ensureImage(opts.dataDir);
  const server = await startServer(opts.dataDir, FLEET_LIMITS);
  const ec2 = ec2Client(server.endpoint);
  const machine = machineWatch();
  const ids: string[] = [];
  const availableBefore = memAvailableMiB();
  try {
    const batches: number[] = [];
    for (let left = opts.count; left > 0; left -= 100) batches.push(Math.min(100, left));
    const t0 = performance.now();
    const results = await Promise.allSettled(batches.map((n) => launchAndWatch(ec2, {
      imageId, instanceType: 't3.nano', count: n, userData: USER_DATA, until: 'ok', pollMs: 1000, timeoutMs: opts.timeoutMs,
      onLaunched: (l) => ids.push(...l),
    })));
    const launchWallMs = performance.now() - t0;
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as Error).message));
    const watched: Watched[] = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.watched : ((r.reason as { watched?: Watched[] }).watched ?? [])));
    const statuses = new Map<string, number>();
    for (const w of watched) {
      const k = w.failed !== undefined ? 'ended during launch' : (w.status ?? 'none');
      statuses.set(k, (statuses.get(k) ?? 0) + 1);
    }
    failures.push(...watched.filter((w) => w.failed !== undefined).slice(0, 10).map((w) => `${w.id} ${w.failed}`));
    const running = watched.filter((w) => w.runningMs !== undefined).map((w) => w.runningMs!);
    const done = watched.filter((w) => w.doneMs !== undefined).map((w) => w.doneMs!);

    await sleep(opts.settleMs);
    const mem = ids.map((id) => instanceMemory(opts.dataDir, id)).filter((m) => m !== undefined);
    const mib = (b: number | undefined) => (b === undefined ? NaN : b / 2 ** 20);
    const idle0 = snapshot(opts.dataDir, server.pid, ids);
    await sleep(opts.idleMs);
    const idle1 = snapshot(opts.dataDir, server.pid, ids);
    const idleCpu = ids.map((id) => (idle1.instancesS.get(id) ?? NaN) - (idle0.instancesS.get(id) ?? NaN)).filter(Number.isFinite);
    const availableLoaded = memAvailableMiB();

    const terminateMs = await terminateAll(ec2, ids, 1_800_000);
    const left = await leftovers(opts.dataDir, ids, 30_000);
    return {
      count: opts.count, launched: ids.length, instanceType: 't3.nano', calls: batches, serverSettings: FLEET_LIMITS,
      launchWallMs: round(launchWallMs),
      runningMs: running.length ? { ...summary(running), all: round(Math.max(...running)) } : undefined,
      doneMs: done.length ? { ...summary(done), all: round(Math.max(...done)) } : undefined,
      statuses: Object.fromEntries(statuses),
      failures,
      allOk: failures.length === 0 && statuses.get('ok') === opts.count,
      idle: {
        settleMs: opts.settleMs,
        memoryMiB: {
          measured: mem.length,
          current: summary(mem.map((m) => mib(m.bytes))), anon: summary(mem.map((m) => mib(m.anonBytes))), file: summary(mem.map((m) => mib(m.fileBytes))),
          totalCurrent: round(mem.reduce((a, m) => a + mib(m.bytes), 0), 0),
        },
        hostMemAvailableMiB: { before: availableBefore, allIdle: availableLoaded, used: availableBefore - availableLoaded },
        // Thousandths of a core, over idleMs: what the idle instances (each, all) and the server cost the host.
        cpuMilliCoresEach: summary(idleCpu.map((s) => (s / (opts.idleMs / 1000)) * 1000), 3),
        cpuMilliCoresAll: round((idleCpu.reduce((a, b) => a + b, 0) / (opts.idleMs / 1000)) * 1000, 3),
        serverCpuMilliCores: round(((idle1.serverS - idle0.serverS) / (opts.idleMs / 1000)) * 1000, 1),
      },
      terminateMs: round(terminateMs),
      leftovers: left,
      terminatedCleanly: left.length === 0,
      machine: machine.end(),
    };
  } catch (err) {
    if (ids.length) await terminateAll(ec2, ids, 1_800_000).catch(() => undefined);
    throw err;
  } finally {
    await server.stop();
  }
}
