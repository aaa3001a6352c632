/**
 * Issue 17: RunInstances → running with the state in PostgreSQL (a throwaway Debian cluster, test/support/postgres.ts)
 * beside the same launches with the state in SQLite (the embedded default), in the same run on the same host. Two
 * servers, each on a fresh data dir of its own with the same image imported, both up all along. One at a time, the
 * launches alternate between the two (each instance terminated before the next launch); a few at a time (`atOnce`
 * RunInstances calls of one instance in flight), the servers take turns SQLite, PostgreSQL, PostgreSQL, SQLite (half
 * the launches each turn), their instances left running until the turn ends. A launch's time runs from its
 * RunInstances call to the DescribeInstanceStatus poll that saw it running. Target: PostgreSQL's p50 at most 1.2×
 * SQLite's, both ways.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DescribeInstanceStatusCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ensureImage, startServer } from './launch.js';
import { ec2Client, launchAndWatch, terminateAll } from './ec2.js';
import { FLEET_LIMITS } from './fleet.js';
import { imageRoot } from './container.js';
import { machineWatch, parseProcStatTicks, processCpuSeconds, ticksPerSecond } from './cost.js';
import { benchDown, freePort, round, summary } from './lib.js';
import { postgresBin, postgresMissing, startPostgres, type Postgres } from '../test/support/postgres.js';
import { exportImage } from '../test/support/runs.js';

/** PostgreSQL's p50 over SQLite's, at most. */
export const PG_OVER_SQLITE_TARGET = 1.2;

type Name = 'sqlite' | 'postgres';
interface Side { name: Name; ec2: EC2Client; imageId: string; pid: number; polls: number }

/** One instance launched and seen running (its polls counted on its side): its id and ms; one that ends instead fails the part. */
async function launchOne(side: Side, instanceType: string, pollMs: number): Promise<{ id: string; ms: number }> {
  const r = await launchAndWatch(side.ec2, { imageId: side.imageId, instanceType, count: 1, until: 'running', pollMs, timeoutMs: 300_000 });
  side.polls += r.polls;
  const w = r.watched[0]!;
  if (w.runningMs === undefined) throw new Error(`${side.name}: ${w.id} ${w.failed ?? 'not running'}`);
  return { id: w.id, ms: w.runningMs };
}

/** `count` launches, `atOnce` in flight; the instances terminated after. Each launch's ms and the wall time. */
async function fewAtATime(side: Side, count: number, atOnce: number, instanceType: string) {
  const ms: number[] = [];
  const ids: string[] = [];
  let started = 0;
  const t0 = performance.now();
  try {
    await Promise.all(Array.from({ length: atOnce }, async () => {
      while (started < count) {
        started++;
        const r = await launchOne(side, instanceType, 100);
        ids.push(r.id);
        ms.push(r.ms);
      }
    }));
  } catch (err) {
    await terminateAll(side.ec2, ids).catch(() => undefined);
    throw err;
  }
  const wallMs = performance.now() - t0;
  await terminateAll(side.ec2, ids);
  return { ms, wallMs };
}

const cpuS = (pid: number) => processCpuSeconds(pid).self;

/** The PostgreSQL cluster's CPU seconds: its postmaster, the backends it reaped and those that run now. */
function clusterCpuS(postmaster: number): number {
  const own = processCpuSeconds(postmaster);
  let live = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // Field 4, the parent: the first after the state that follows the command's last `)`.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) live += parseProcStatTicks(stat).self;
    } catch { /* ended meanwhile */ }
  }
  return own.self + own.children + live / ticksPerSecond();
}

function compare(ms: Record<Name, number[]>, wallMs: Record<Name, number>, cpu: Record<Name, number>) {
  const s = { sqlite: summary(ms.sqlite), postgres: summary(ms.postgres) };
  return {
    sqlite: { ...s.sqlite, wallMs: round(wallMs.sqlite), serverCpuSPerLaunch: round(cpu.sqlite / ms.sqlite.length, 3) },
    postgres: { ...s.postgres, wallMs: round(wallMs.postgres), serverCpuSPerLaunch: round(cpu.postgres / ms.postgres.length, 3) },
    pgOverSqlite: { p50: round(s.postgres.p50 / s.sqlite.p50), p95: round(s.postgres.p95 / s.sqlite.p95), wall: round(wallMs.postgres / wallMs.sqlite) },
  };
}

export async function benchLaunchPg(opts: { dataDir: string; count: number; atOnce: number; instanceType: string }) {
  const missing = postgresMissing();
  if (missing) return { skipped: missing };
  mkdirSync(dirname(opts.dataDir), { recursive: true });
  const work = mkdtempSync(`${opts.dataDir}-launch-pg-`);
  const dirs = { sqlite: join(work, 'sqlite'), postgres: join(work, 'postgres') };
  const stops: (() => Promise<void>)[] = [];
  let pg: Postgres | undefined;
  try {
    pg = await startPostgres();
    // One image for both: the bench's tarball, else the bench data dir's image exported.
    let tar = process.env.PCLOUD_BENCH_IMAGE_TAR;
    if (!tar) {
      tar = join(work, 'debian-12.tar');
      exportImage(await imageRoot(opts.dataDir, await ensureImage(opts.dataDir)), tar);
    }
    const sides = {} as Record<Name, Side>;
    for (const name of ['sqlite', 'postgres'] as const) {
      const env: Record<string, string> = name === 'postgres' ? { PCLOUD_DATABASE_URL: pg.url } : {};
      mkdirSync(dirs[name]);
      const imageId = await ensureImage(dirs[name], { tar, env });
      // Each its own Lambda port: both serve at once.
      const server = await startServer(dirs[name], { ...FLEET_LIMITS, ...env, PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${await freePort()}` });
      stops.push(() => server.stop());
      sides[name] = { name, ec2: ec2Client(server.endpoint), imageId, pid: server.pid, polls: 0 };
    }
    const { sqlite, postgres } = sides;
    // Warm both (page cache, JIT, the default VPC's router and DNS made), then what one poll of a running instance
    // costs each server and the cluster (on SQLite's side: the cluster's idle cost meanwhile).
    const pollCostMs = {} as Record<Name, { server: number; cluster: number }>;
    for (const side of [sqlite, postgres]) {
      const { id } = await launchOne(side, opts.instanceType, 20);
      const [s0, k0] = [cpuS(side.pid), clusterCpuS(pg.pid)];
      for (let i = 0; i < 200; i++) await side.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], IncludeAllInstances: true }));
      pollCostMs[side.name] = { server: round((cpuS(side.pid) - s0) * 5, 3), cluster: round((clusterCpuS(pg.pid) - k0) * 5, 3) };
      await terminateAll(side.ec2, [id]);
    }
    const pollsPerLaunch = () => {
      const r = { sqlite: round(sqlite.polls / opts.count, 1), postgres: round(postgres.polls / opts.count, 1) };
      sqlite.polls = postgres.polls = 0;
      return r;
    };
    pollsPerLaunch();
    const machine = machineWatch();

    const cpu0 = { sqlite: cpuS(sqlite.pid), postgres: cpuS(postgres.pid), cluster: clusterCpuS(pg.pid) };
    const one = { sqlite: [] as number[], postgres: [] as number[] };
    for (let i = 0; i < opts.count; i++) {
      for (const side of i % 2 ? [postgres, sqlite] : [sqlite, postgres]) {
        const r = await launchOne(side, opts.instanceType, 20);
        one[side.name].push(r.ms);
        await terminateAll(side.ec2, [r.id]);
      }
    }
    const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
    const cpu1 = { sqlite: cpuS(sqlite.pid), postgres: cpuS(postgres.pid), cluster: clusterCpuS(pg.pid) };
    const oneAtATime = {
      ...compare(one, { sqlite: sum(one.sqlite), postgres: sum(one.postgres) }, { sqlite: cpu1.sqlite - cpu0.sqlite, postgres: cpu1.postgres - cpu0.postgres }),
      clusterCpuSPerLaunch: round((cpu1.cluster - cpu0.cluster) / opts.count, 3), pollsPerLaunch: pollsPerLaunch(),
    };

    const few = { sqlite: [] as number[], postgres: [] as number[] };
    const fewWall = { sqlite: 0, postgres: 0 };
    const fewCpu = { sqlite: 0, postgres: 0 };
    let clusterCpu = 0;
    const halves = [Math.ceil(opts.count / 2), Math.floor(opts.count / 2)];
    const turns: { database: Name; n: number; p50: number; wallMs: number }[] = [];
    for (const [side, n] of [[sqlite, halves[0]!], [postgres, halves[0]!], [postgres, halves[1]!], [sqlite, halves[1]!]] as const) {
      const c0 = cpuS(side.pid);
      const k0 = clusterCpuS(pg.pid);
      const r = await fewAtATime(side, n, opts.atOnce, opts.instanceType);
      fewCpu[side.name] += cpuS(side.pid) - c0;
      if (side === postgres) clusterCpu += clusterCpuS(pg.pid) - k0;
      few[side.name].push(...r.ms);
      fewWall[side.name] += r.wallMs;
      turns.push({ database: side.name, n, p50: summary(r.ms).p50, wallMs: round(r.wallMs) });
    }
    const fewAtOnce = { ...compare(few, fewWall, fewCpu), clusterCpuSPerLaunch: round(clusterCpu / opts.count, 3), pollsPerLaunch: pollsPerLaunch(), turns };
    const worst = Math.max(oneAtATime.pgOverSqlite.p50, fewAtOnce.pgOverSqlite.p50);
    return {
      count: opts.count, atOnce: opts.atOnce, instanceType: opts.instanceType, image: tar, serverSettings: FLEET_LIMITS,
      databases: {
        sqlite: 'the SQLite file in the data dir (the embedded default)',
        postgres: `PostgreSQL ${basename(dirname(postgresBin()!))} (Debian), a throwaway cluster on this host over its unix socket, fsync and synchronous_commit off`,
      },
      oneAtATime, fewAtOnce, pollCostMs,
      target: { pgOverSqliteP50: PG_OVER_SQLITE_TARGET, measured: worst, met: worst <= PG_OVER_SQLITE_TARGET },
      note: 'ms from RunInstances to the poll (DescribeInstanceStatus, every 20 ms one at a time, every 100 ms a few at a time) that saw the instance running; one at a time the wall time is the launches\' sum; server CPU is the server process\'s own (polls included), cluster CPU PostgreSQL\'s (its postmaster and backends) over the launches on it; pollCostMs: CPU ms of one poll of one running instance (200 polls), the cluster\'s on the SQLite side being its idle cost meanwhile',
      machine: machine.end(),
    };
  } finally {
    for (const stop of stops) await stop();
    await pg?.stop();
    for (const dir of Object.values(dirs)) if (existsSync(dir)) await benchDown(dir, { purge: true });
    rmSync(work, { recursive: true, force: true });
  }
}
