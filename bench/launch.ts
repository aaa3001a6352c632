/**
 * (a) RunInstances → running, for 1 instance and for a fleet, next to a bare `systemd-nspawn --boot
 * --notify-ready=yes` of the same image (a fork with the same seed, so cloud-init does the same work) in the same run.
 * The bare boot runs twice: as pcloud runs it (its own user namespace, the fork mounted idmapped) and without a user
 * namespace (container root = host root, as before issue 12): their difference is what user namespaces cost.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import unixDgram from 'unix-dgram';
import { eq } from 'drizzle-orm';
import { openDb } from '../src/db/index.js';
import { images } from '../src/db/schema.js';
import { nspawnArgs } from '../src/host/nspawn.js';
import { writeSeed } from '../src/host/seed.js';
import { run } from '../src/host/exec.js';
import { benchDown, ec2Call, freePort, round, stopOnInterrupt, summary, type Creds } from './lib.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

function cli(args: string[], env: Record<string, string> = {}) {
  // The bin itself, as users run it (its node's flags are on its first line).
  return spawn(CLI, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

async function waitOutput(child: ReturnType<typeof cli>, marker: string): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes(marker)) resolve(out);
    });
    child.on('exit', (code) => (code === 0 && marker === '' ? resolve(out) : reject(new Error(`exited ${code}`))));
  });
}

/**
 * The debian-12 image: built, or imported from a tarball (`tar`, default PCLOUD_BENCH_IMAGE_TAR) where there is no
 * network (the test node); `env` for the commands (PCLOUD_DATABASE_URL: the state in PostgreSQL).
 */
export async function ensureImage(dataDir: string, o: { tar?: string; env?: Record<string, string> } = {}): Promise<string> {
  const tar = o.tar ?? process.env.PCLOUD_BENCH_IMAGE_TAR;
  if (tar) {
    const list = await waitOutput(cli(['image', 'list', '--data', dataDir], o.env), '');
    const found = list.split('\n').find((l) => l.split('\t')[1] === 'debian-12');
    if (found) return found.split('\t')[0]!;
  }
  const args = tar ? ['image', 'import', tar, '--name', 'debian-12'] : ['image', 'build', 'debian-12'];
  return (await waitOutput(cli([...args, '--data', dataDir], o.env), '')).trim().split('\t')[0]!;
}

/** One bare boot of a seeded fork: spawn → READY=1, in milliseconds. */
export async function bareBoot(imageRoot: string, pool: string, n: number, userns = true): Promise<number> {
  return (await bareBootTimes(imageRoot, pool, n, { userns })).readyMs;
}

/** Whether an image speaks the guest protocol (it says so in /etc/pcloud/guest-protocol, as the host reads it). */
export async function speaksGuestProtocol(imageRoot: string): Promise<boolean> {
  return (await readFile(join(imageRoot, 'etc/pcloud/guest-protocol'), 'utf8').catch(() => '')).trim() === '1';
}

/**
 * One bare boot of a seeded fork (the same seed pcloud writes, user-data included), in milliseconds from spawn: to
 * PID 1's READY=1 (pid1ReadyMs); with `guest` (an image that speaks the guest protocol, whose socket is bound at
 * /run/pcloud/notify as pcloud binds it) to the guest's READY=1 (the milestone pcloud calls running) and its
 * X_PCLOUD_BOOT=ok or impaired (okMs). readyMs is the milestone pcloud calls running: the guest's READY, or PID 1's.
 */
export async function bareBootTimes(imageRoot: string, pool: string, n: number, o: { userns?: boolean; userData?: string; guest?: boolean } = {}): Promise<{ readyMs: number; pid1ReadyMs: number; okMs?: number; boot?: string }> {
  const userns = o.userns ?? true;
  const id = `bench-${process.pid}-${n}`;
  const disk = join(pool, 'instances', `.${id}`);
  await run('btrfs', ['-q', 'subvolume', 'snapshot', imageRoot, disk]);
  const hostname = `bench-${n}`;
  await writeSeed(disk, {
    instanceId: `i-bench${n}`, hostname, machineId: createHash('sha256').update(id).digest('hex').slice(0, 32),
    metaData: `instance-id: i-bench${n}\nlocal-hostname: ${hostname}\n`,
    userData: o.userData === undefined ? undefined : Buffer.from(o.userData),
  });
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-bench-'));
  const at: { pid1?: number; guest?: number; done?: number } = {};
  let boot: string | undefined;
  let settled: () => void;
  const isSettled = new Promise<void>((r) => { settled = r; });
  const check = () => { if (at.pid1 !== undefined && (!o.guest || at.done !== undefined)) settled(); };
  const sockPath = join(dir, 'notify.sock');
  const sock = unixDgram.createSocket('unix_dgram', (msg: Buffer) => {
    if (at.pid1 === undefined && msg.toString().split('\n').includes('READY=1')) { at.pid1 = performance.now(); check(); }
  });
  sock.bind(sockPath);
  const guestSock = join(dir, 'guest.sock');
  const guest = o.guest ? unixDgram.createSocket('unix_dgram', (msg: Buffer) => {
    const lines = msg.toString().split('\n');
    if (at.guest === undefined && lines.includes('READY=1')) at.guest = performance.now();
    const done = lines.find((l) => l === 'X_PCLOUD_BOOT=ok' || l === 'X_PCLOUD_BOOT=impaired');
    if (done && at.done === undefined) { at.done = performance.now(); boot = done.slice('X_PCLOUD_BOOT='.length); check(); }
  }) : undefined;
  if (guest) {
    guest.bind(guestSock);
    chmodSync(guestSock, 0o666);
  }
  const args = nspawnArgs({ instanceId: id, rootDir: disk, hostname, vcpus: 2, memoryMiB: 1024, register: false, readyTimeoutSec: 60 })
    .filter((a) => userns || !a.startsWith('--private-users'));
  if (guest) args.splice(args.indexOf('--boot'), 0, `--bind=${guestSock}:/run/pcloud/notify`);
  // Like a unit: its own cgroup in the name=systemd and unified hierarchies, or concurrent containers collide.
  const cgroups = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((c) => existsSync(`${c}/cgroup.procs`)).map((c) => `${c}/pcloud-bench/${id}`);
  const enter = cgroups.map((c) => `mkdir -p ${c} && echo $$ > ${c}/cgroup.procs`).join(' && ') || 'true';
  const t0 = performance.now();
  const child = spawn('sh', ['-c', `${enter} && exec "$@"`, 'sh', ...args], { env: { ...process.env, NOTIFY_SOCKET: sockPath }, stdio: 'ignore' });
  let ended = false;
  const exited = new Promise((r) => child.on('exit', () => { ended = true; r(undefined); }));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      isSettled,
      exited.then(() => { throw new Error('bare nspawn exited before its boot was done'); }),
      new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('bare boot not done after 180 s')), 180_000); }),
    ]);
  } finally {
    clearTimeout(timer);
    if (!ended) child.kill('SIGTERM');
    await exited;
    sock.close();
    guest?.close();
    rmSync(dir, { recursive: true, force: true });
    await run('btrfs', ['-q', 'subvolume', 'delete', disk]);
    for (const c of cgroups) await run('sh', ['-c', `find ${c} -depth -type d -exec rmdir {} +`], { reject: false });
  }
  const ms = (t?: number) => (t === undefined ? undefined : t - t0);
  return { readyMs: ms(o.guest ? at.guest : at.pid1) ?? NaN, pid1ReadyMs: ms(at.pid1)!, okMs: ms(at.done), boot };
}

export async function runningAfter(endpoint: string, creds: Creds, count: number, imageId: string, instanceType = 't3.micro', pollMs = 20): Promise<number[]> {
  const t0 = performance.now();
  const res = await ec2Call(endpoint, creds, { Action: 'RunInstances', ImageId: imageId, InstanceType: instanceType, MinCount: String(count), MaxCount: String(count) });
  if (res.status !== 200) throw new Error(res.body);
  const ids = [...new Set([...res.body.matchAll(/<instanceId>(i-[0-9a-f]+)<\/instanceId>/g)].map((m) => m[1]!))];
  const done = new Map<string, number>();
  while (done.size < ids.length) {
    const params: Record<string, string> = { Action: 'DescribeInstances' };
    ids.forEach((id, i) => { params[`InstanceId.${i + 1}`] = id; });
    const d = await ec2Call(endpoint, creds, params);
    for (const m of d.body.matchAll(/<instanceId>(i-[0-9a-f]+)<\/instanceId>.*?<instanceState><code>\d+<\/code><name>([a-z-]+)<\/name>/gs)) {
      if (m[2] === 'running' && !done.has(m[1]!)) done.set(m[1]!, performance.now() - t0);
      if (m[2] === 'terminated') throw new Error(`${m[1]} terminated during launch`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const params: Record<string, string> = { Action: 'TerminateInstances' };
  ids.forEach((id, i) => { params[`InstanceId.${i + 1}`] = id; });
  await ec2Call(endpoint, creds, params);
  for (;;) {
    const d = await ec2Call(endpoint, creds, { Action: 'DescribeInstances', 'Filter.1.Name': 'instance-state-name', 'Filter.1.Value.1': 'shutting-down' });
    if (!d.body.includes('<instanceId>')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return ids.map((id) => done.get(id)!);
}

export const BENCH_CREDS = { accessKeyId: 'AKIDPCLOUDBENCH0001', secretAccessKey: 'pcloud-bench-secret' };

/** A real `pcloud serve` on a free port; resolves with its endpoint and a stop function. */
export async function startServer(dataDir: string, env: Record<string, string> = {}): Promise<{ endpoint: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const server = cli(['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--no-image', '--metrics-listen', 'off', '--access-log', 'off'],
    { PCLOUD_ACCESS_KEY_ID: BENCH_CREDS.accessKeyId, PCLOUD_SECRET_ACCESS_KEY: BENCH_CREDS.secretAccessKey, ...env });
  const ended = new Promise((r) => server.once('exit', r));
  /** The server stopped, then what it started taken down (bench/lib.ts): nothing of it runs into the next part. */
  const stop = async () => {
    forget();
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await ended;
    await benchDown(dataDir);
  };
  const forget = stopOnInterrupt(stop);
  try {
    await waitOutput(server, 'pcloud serving on');
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint: `http://127.0.0.1:${port}`, pid: server.pid!, stop };
}

export async function benchLaunch(opts: { dataDir: string; runs: number; fleet: number }) {
  const creds = BENCH_CREDS;
  const imageId = await ensureImage(opts.dataDir);
  const db = openDb(join(opts.dataDir, 'pcloud.db'));
  const image = (await db.select().from(images).where(eq(images.id, imageId)).limit(1))[0]!;
  db.$client.close();
  const pool = join(opts.dataDir, 'pool');

  // Interleave bare and pcloud runs so that both see the same machine state.
  const server = await startServer(opts.dataDir);
  const endpoint = server.endpoint;
  try {
    await bareBoot(image.rootPath, pool, 0); // warm the page cache for both
    await runningAfter(endpoint, creds, 1, imageId);
    const bare1: number[] = [];
    const bareRoot1: number[] = [];
    const pc1: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      bare1.push(await bareBoot(image.rootPath, pool, i + 1));
      bareRoot1.push(await bareBoot(image.rootPath, pool, 50 + i, false));
      pc1.push(...(await runningAfter(endpoint, creds, 1, imageId)));
    }
    const fleetOf = async (userns: boolean) => {
      const t0 = performance.now();
      const ms = await Promise.all(Array.from({ length: opts.fleet }, (_, i) => bareBoot(image.rootPath, pool, (userns ? 100 : 200) + i, userns)));
      return { ...summary(ms), wallMs: round(performance.now() - t0) };
    };
    const bareFleet = await fleetOf(true);
    const bareRootFleet = await fleetOf(false);
    const pcFleet = await runningAfter(endpoint, creds, opts.fleet, imageId);
    const one = {
      bare: summary(bare1), bareWithoutUserns: summary(bareRoot1), pcloud: summary(pc1),
      ratioP50: round(summary(pc1).p50 / summary(bare1).p50), usernsCostP50Ms: round(summary(bare1).p50 - summary(bareRoot1).p50),
    };
    const fleet = {
      count: opts.fleet,
      bare: bareFleet,
      bareWithoutUserns: bareRootFleet,
      pcloud: { ...summary(pcFleet), wallMs: round(Math.max(...pcFleet)) },
      ratioP50: round(summary(pcFleet).p50 / bareFleet.p50),
      usernsCostP50Ms: round(bareFleet.p50 - bareRootFleet.p50),
    };
    return { one, fleet };
  } finally {
    await server.stop();
  }
}
