/**
 * A real `pcloud serve` (the compiled CLI, as users run it) over a real storage pool, real units and real
 * containers. The data dir is the run's (PCLOUD_TEST_DATA, made fresh for each run by global-setup.ts), shared by the
 * integration and compat suites (they run one file at a time); the default image comes in as a tarball.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, openSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeInstancesCommand, DescribeInstanceStatusCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { until } from './api.js';
import { sweepRun } from './runs.js';
import { unitCgroup } from '../../src/host/units/proc.js';
import { uplinkName } from '../../src/host/network.js';

export const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
export const CLI = join(ROOT, 'dist/src/cli/main.js');
export const DATA = process.env.PCLOUD_TEST_DATA ?? '/var/tmp/pcloud-test';
export const CREDS = { accessKeyId: 'AKIDPCLOUDTEST00001', secretAccessKey: 'pcloud-test-secret-key' };

export interface RealServer {
  endpoint: string;
  port: number;
  dataDir: string;
  imageId: string;
  /** Which unit manager the server chose: direct or systemd. */
  unitManager: string;
  /** Environment for the AWS CLI, boto3 and Terraform against this server. */
  env: Record<string, string>;
  ec2: EC2Client;
  child: ChildProcess;
  /** SIGKILL the server (instances keep running: they are not its children's children in any way that matters). */
  kill9(): Promise<void>;
  /** Start it again on the same port and data dir. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Build (or reuse) the default image in the shared data dir; prints the build's progress on first run. */
export async function ensureImage(dataDir = DATA): Promise<string> {
  mkdirSync(dataDir, { recursive: true });
  // Where there is no network to debootstrap (inside the systemd test node), the image comes as a tarball.
  const tar = process.env.PCLOUD_TEST_IMAGE_TAR;
  if (tar) {
    const list = execFileSync(process.execPath, [CLI, 'image', 'list', '--data', dataDir]).toString();
    const found = list.split('\n').find((l) => l.split('\t')[1] === 'debian-12');
    if (found) return found.split('\t')[0]!;
  }
  const args = tar ? ['image', 'import', tar, '--name', 'debian-12'] : ['image', 'build', 'debian-12'];
  const child = spawn(process.execPath, [CLI, ...args, '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`pcloud image build failed (${code})`);
  return out.trim().split('\t')[0]!;
}

let lastManager = 'unknown';
const START_TIMEOUT_MS = 180_000;

/**
 * `pcloud serve` on a data dir (flags after --listen and --data, environment over the test's and the test key): resolved
 * once it serves, with what it printed. One that ends first rejects; one that never serves is killed, so it holds no
 * lock on a data dir later suites share. Its log goes to the data dir's serve.log.
 */
export function spawnServe(dataDir: string, port: number, flags: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; out: string }> {
  const log = openSync(join(dataDir, 'serve.log'), 'a');
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, ...flags], {
    env: { ...process.env, PCLOUD_ACCESS_KEY_ID: CREDS.accessKeyId, PCLOUD_SECRET_ACCESS_KEY: CREDS.secretAccessKey, ...env },
    stdio: ['ignore', 'pipe', log],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    // A restart finishes what a killed server left under way before it serves (its launches and ends go on after).
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pcloud serve did not start; see ${join(dataDir, 'serve.log')}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('pcloud serving on')) {
        clearTimeout(timer);
        resolve({ child, out });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pcloud serve exited with ${code}; see ${join(dataDir, 'serve.log')}`));
    });
  });
}

async function launch(port: number, dataDir: string, extraEnv: Record<string, string>, metrics = 'off'): Promise<ChildProcess> {
  // Strict shapes: a response member the AWS model does not have fails the request (and names itself in serve.log).
  const { child, out } = await spawnServe(dataDir, port, ['--no-image', '--metrics-listen', metrics, '--access-log', 'off'], { PCLOUD_STRICT_SHAPES: '1', ...extraEnv });
  lastManager = /units (\w+)\)/.exec(out)?.[1] ?? 'unknown';
  return child;
}

/**
 * A real server on the run's data dir (DATA), or on one of the suite's own (`dataDir`: made, the image imported);
 * `metrics`: where its /metrics listens (HOST:PORT; off unless given).
 */
export async function startReal(opts: { env?: Record<string, string>; dataDir?: string; metrics?: string } = {}): Promise<RealServer> {
  const dataDir = opts.dataDir ?? DATA;
  const imageId = await ensureImage(dataDir);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const extraEnv = opts.env ?? {};
  const child = await launch(port, dataDir, extraEnv, opts.metrics);
  const srv: RealServer = {
    endpoint, port, dataDir, imageId, unitManager: lastManager,
    env: {
      AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: endpoint, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    },
    ec2: new EC2Client({ endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 }),
    child,
    async kill9() {
      if (srv.child.exitCode !== null || srv.child.signalCode !== null) return;
      srv.child.kill('SIGKILL');
      await new Promise((r) => srv.child.once('exit', r));
    },
    async restart() {
      srv.child = await launch(port, dataDir, extraEnv, opts.metrics);
    },
    async stop() {
      if (srv.child.exitCode !== null || srv.child.signalCode !== null) return;
      srv.child.kill('SIGTERM');
      await new Promise((r) => srv.child.once('exit', r));
    },
  };
  return srv;
}

/**
 * A second `pcloud serve` on a data dir of its own (its nginx on a port of its own): started, so it reconciles with the
 * host, then stopped with SIGTERM and its data dir swept.
 */
export async function runOtherServer(dataDir: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const child = await launch(await freePort(), dataDir, { PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${await freePort()}` });
  child.kill('SIGTERM');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
  await sweepRun(dataDir);
}

/** What the direct manager's supervisor records of an instance's unit; undefined where systemd runs it. */
function directState(id: string, dataDir: string): { state?: string; mainPid?: number; notify?: Record<string, string> } | undefined {
  const file = join(dataDir, 'run/units', `pcloud-instance@${id}`, 'state.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as { state?: string; mainPid?: number; notify?: Record<string, string> } : undefined;
}

/** The PID of an instance's container leader, from whichever unit manager runs it. */
export function leaderOf(id: string, dataDir = DATA): number {
  const state = directState(id, dataDir);
  if (state) return Number(state.notify?.X_NSPAWN_LEADER_PID);
  return Number(execFileSync('machinectl', ['show', id, '-p', 'Leader', '--value']).toString().trim());
}

/** Whether an instance's unit is active (READY), from whichever unit manager runs it. */
export function unitActive(id: string, dataDir = DATA): boolean {
  const state = directState(id, dataDir);
  if (state) return state.state === 'active';
  try {
    return execFileSync('systemctl', ['is-active', `pcloud-instance@${id}.service`]).toString().trim() === 'active';
  } catch {
    return false;
  }
}

/** Kill an instance's unit from outside pcloud (SIGKILL to its main process), as an operator or the OOM killer would. */
export function killUnit(id: string, dataDir = DATA): void {
  const state = directState(id, dataDir);
  if (state) process.kill(Number(state.mainPid), 'SIGKILL');
  else execFileSync('systemctl', ['kill', '--signal=SIGKILL', `pcloud-instance@${id}.service`]);
}

function systemdUnits(): string[] {
  try {
    return execFileSync('systemctl', ['list-units', '--all', '--plain', '--no-legend', 'pcloud-instance@*']).toString()
      .split('\n').map((l) => l.trim().split(/\s+/)[0]!.replace(/\.service$/, '')).filter(Boolean);
  } catch {
    return [];
  }
}

/** What is on the host for pcloud right now: unit dirs, disks, live supervisor and nspawn processes. */
export interface Inventory {
  units: string[];
  disks: string[];
  processes: string[];
  cgroups: string[];
  /** Instance network namespaces. */
  netns: string[];
  /** pcloud's links in the host (VPC uplinks `pu…`, half-made macvlans `pe…`) and instance ports in VPC routers. */
  links: string[];
  /** nftables: the host's tables, and the per-instance security group chains in VPC routers. */
  nft: string[];
}

/** What pcloud holds on this host for instances, to compare before and after: none of it may leak. */
export function hostInventory(dataDir = DATA): Inventory {
  const ls = (d: string) => (existsSync(d) ? execFileSync('ls', [d]).toString().split('\n').filter(Boolean) : []);
  const processes: string[] = [];
  for (const pid of ls('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      // Host-wide services (nginx, tgtd, ganesha, function sockets) start on first use and stay: not instance leftovers.
      // So are a VPC's router and its DNS (dnsmasq): they persist by design while the VPC does.
      const service = /run\/units\/pcloud-(nginx|iscsi|nfs|fn@|dns@)/.test(cmd);
      if (cmd.includes(dataDir) && !service && (cmd.includes('supervisor.js') || cmd.includes('systemd-nspawn'))) processes.push(`${pid} ${cmd.trim()}`);
    } catch { /* gone */ }
  }
  const namespaces = execFileSync('ip', ['netns', 'list']).toString().split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
  const routers = namespaces.filter((n) => n.startsWith('pcloud-vpc-'));
  return {
    units: [...ls(join(dataDir, 'run/units')).filter((u) => u.startsWith('pcloud-instance@') || u.startsWith('pcloud-tpm@')), ...(existsSync('/run/systemd/system') ? systemdUnits() : [])],
    disks: ls(join(dataDir, 'pool/instances')).filter((d) => d.startsWith('i-')),
    processes,
    netns: namespaces.filter((n) => n.startsWith('pcloud-i-')),
    links: [
      // Half-made macvlans, and uplinks whose router is gone (a router's own uplink persists with it, by design).
      ...linkNames(undefined).filter((l) => /^pe[0-9a-f]{12}$/.test(l) || (/^pu[0-9a-f]{12}$/.test(l) && !routers.some((r) => uplinkName(r.slice('pcloud-'.length)) === l))),
      ...routers.flatMap((ns) => linkNames(ns).filter((l) => /^v[0-9a-f]{14}$/.test(l)).map((l) => `${ns}/${l}`)),
    ],
    nft: [
      // The host's own tables (NAT, the filter from uplinks, NFS's) are made with the first router and stay by design:
      // not an instance's leftovers. Any other table is.
      ...execFileSync('nft', ['list', 'tables']).toString().split('\n').filter(Boolean)
        .filter((t) => !/^table (ip pcloud|inet pcloud_host|inet pcloud_nfs_\d+)$/.test(t)),
      ...routers.flatMap((ns) => {
        const out = spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'chains', 'inet', 'pcloud_sg']).stdout?.toString() ?? '';
        return [...out.matchAll(/chain ((?:in|out)_[0-9a-f]+)/g)].map((m) => `${ns}/${m[1]}`);
      }),
    ],
    // This data dir's only (unit cgroups are named for their unit dir: unitCgroup()).
    cgroups: ['systemd', 'memory', 'pids', 'cpu', 'unified', 'devices'].flatMap((c) => ls(`/sys/fs/cgroup/${c}/pcloud`)
      .filter((d) => d.startsWith('pcloud-instance@') && `pcloud/${d}` === unitCgroup(join(dataDir, 'run/units', d.slice(0, d.lastIndexOf('.'))), d.slice(0, d.lastIndexOf('.'))))
      .map((d) => `${c}/${d}`)),
  };
}

function linkNames(ns: string | undefined): string[] {
  const out = spawnSync('ip', [...(ns ? ['-n', ns] : []), '-o', 'link', 'show']).stdout?.toString() ?? '';
  return [...out.matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1]!);
}

/** One instance as DescribeInstances shows it. */
export async function describeOne(ec2: EC2Client, id: string): Promise<Instance> {
  return (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
}

/** Wait until the instance is in `want`; an instance that terminates instead fails at once, with its state reason. */
export async function waitForState(ec2: EC2Client, id: string, want: string, timeoutMs = 90_000, everyMs = 200): Promise<Instance> {
  return until(async () => {
    const inst = await describeOne(ec2, id);
    if (inst.State?.Name === 'terminated' && want !== 'terminated') throw new Error(`${id} terminated: ${inst.StateReason?.Message}`);
    return inst.State?.Name === want ? inst : undefined;
  }, timeoutMs, everyMs);
}

/**
 * Wait until the instance's status checks are ok (its guest's boot done: cloud-init finished, user-data ran), as
 * `aws ec2 wait instance-status-ok` does; `running` comes before that. Impaired fails at once.
 */
export async function waitStatusOk(ec2: EC2Client, id: string, timeoutMs = 90_000, everyMs = 200): Promise<void> {
  await until(async () => {
    const st = (await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses?.[0]?.InstanceStatus?.Status;
    if (st === 'impaired') throw new Error(`${id} is impaired`);
    return st === 'ok';
  }, timeoutMs, everyMs);
}
