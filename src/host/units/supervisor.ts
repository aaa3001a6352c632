/**
 * The direct manager's per-unit supervisor: what systemd does for one service, for hosts whose PID 1 is not systemd
 * (podman's conmon plays the same part). Started detached by the server, it outlives the server:
 *   - puts itself in the unit's cgroup (v1 or v2) with the unit's limits, so the main process inherits them;
 *   - runs the main process with NOTIFY_SOCKET pointing at its own datagram socket, and turns READY=1 into `active`;
 *   - stops it with KillSignal, then SIGKILLs what is left of the cgroup after the stop timeout (KillMode=mixed);
 *   - restarts it on RestartForceExitStatus (nspawn's reboot), on SIGHUP, and per the unit's restart policy after it
 *     dies (Restart=on-failure with a doubling delay, giving up after StartLimitBurst starts in StartLimitIntervalSec);
 *   - honours a stop asked before the main process started (SIGTERM, or a `stop` file the manager writes before it
 *     knows the supervisor's pid): it then never starts it;
 *   - reaps it and records how it ended.
 * Its state is one JSON file, written atomically, that the server reads and watches.
 * Usage: node supervisor.js UNIT_DIR   (UNIT_DIR holds spec.json; state.json and the console, bounded by
 * console-log.ts in console.log and console.log.1, are written there)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import unixDgram from 'unix-dgram';
import type { RestartPolicy, UnitSpec, UnitStatus } from './types.js';
import { socketPath } from '../sockets.js';
import { startTicks, unitCgroup } from './proc.js';
import { restartDelayMs } from './restart.js';
import { cgroupV1Rules, devicePolicySupport } from './devices.js';
import { cgroupTreePids, removeCgroupTree } from './cgroup-tree.js';
import { consoleLogBytes, openConsole, type UnitConsole } from './console-log.js';

// A stop can come at any moment, even before the main process exists: take it first of all.
let stopping = false;
let restartRequested = false;
/** Set up and past the first start: a stop from then on ends the unit here (between restarts: at once). */
let running = false;
let child: ChildProcess | undefined;
process.on('SIGTERM', () => {
  stopping = true;
  if (child) stopMain();
  else if (running) {
    status.result = undefined;
    finish('inactive');
  }
});
process.on('SIGHUP', () => {
  restartRequested = true;
  if (child) child.kill(spec.killSignal ?? 'SIGTERM');
});
process.on('SIGINT', () => undefined);

if (!process.argv[2]) {
  process.stderr.write('usage: supervisor UNIT_DIR\n');
  process.exit(2);
}
const dir = resolve(process.argv[2]);
const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')) as UnitSpec;
const status: UnitStatus & { supervisorPid: number; supervisorTicks?: number; mainTicks?: number } = {
  name: spec.name,
  state: 'activating',
  supervisorPid: process.pid,
  supervisorTicks: startTicks(process.pid),
  startedAt: Date.now(),
  notify: {},
};

function save(): void {
  const tmp = join(dir, 'state.json.tmp');
  writeFileSync(tmp, JSON.stringify(status));
  renameSync(tmp, join(dir, 'state.json'));
}

// ---- cgroups: the unit's limits and device policy, inherited by everything the main process starts ----
const cgroupDirs: string[] = [];
/** Set the unit's cgroups up and enter them; returns why its device policy could not be applied (it must not start). */
function applyLimits(): string | undefined {
  const limits = spec.limits ?? {};
  const pid = String(process.pid);
  const cg = unitCgroup(dir, spec.name);
  /** Files are written in order (devices.deny before each devices.allow line), then the supervisor enters. */
  const writeIn = (base: string, files: [string, string | undefined][]): boolean => {
    try {
      const path = join(base, cg);
      mkdirSync(path, { recursive: true });
      cgroupDirs.push(path);
      for (const [file, value] of files) if (value !== undefined) writeFileSync(join(path, file), value);
      writeFileSync(join(path, 'cgroup.procs'), pid);
      return true;
    } catch (err) {
      status.notify!['X_PCLOUD_CGROUP_ERROR'] = `${base}: ${(err as Error).message}`;
      return false;
    }
  };
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    writeIn('/sys/fs/cgroup', [
      ['memory.max', limits.memoryMaxBytes?.toString()],
      ['pids.max', limits.tasksMax?.toString()],
      ['cpu.max', limits.cpuQuotaPercent ? `${limits.cpuQuotaPercent * 1000} 100000` : undefined],
    ]);
    // No devices files on cgroup v2 (devices.ts): the policy is said to be unenforced, not refused.
    const support = devicePolicySupport();
    if (spec.devices && !support.enforced) status.notify!['X_PCLOUD_DEVICE_POLICY'] = `not enforced: ${support.why}`;
    return undefined;
  }
  // Hybrid hierarchy: nspawn builds the container's cgroup tree (payload/, supervisor/) under its own cgroup in the
  // name=systemd and unified hierarchies. Each unit needs its own there, or concurrent containers share one tree
  // and tear each other down.
  writeIn('/sys/fs/cgroup/systemd', []);
  if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) writeIn('/sys/fs/cgroup/unified', []);
  if (limits.memoryMaxBytes) writeIn('/sys/fs/cgroup/memory', [['memory.limit_in_bytes', String(limits.memoryMaxBytes)]]);
  if (limits.tasksMax) writeIn('/sys/fs/cgroup/pids', [['pids.max', String(limits.tasksMax)]]);
  if (limits.cpuQuotaPercent) {
    writeIn('/sys/fs/cgroup/cpu', [['cpu.cfs_period_us', '100000'], ['cpu.cfs_quota_us', String(limits.cpuQuotaPercent * 1000)]]);
  }
  if (!spec.devices) return undefined;
  // The device policy: closed before the supervisor enters (so nothing it starts ever runs without it), and a unit
  // whose policy cannot be applied does not start.
  const support = devicePolicySupport();
  if (!support.enforced) {
    status.notify!['X_PCLOUD_DEVICE_POLICY'] = `not enforced: ${support.why}`;
    return undefined;
  }
  let rules: ReturnType<typeof cgroupV1Rules>;
  try {
    rules = cgroupV1Rules(spec.devices);
  } catch (err) {
    return (err as Error).message;
  }
  const ok = writeIn('/sys/fs/cgroup/devices', [['devices.deny', rules.deny], ...rules.allow.map((l): [string, string] => ['devices.allow', l])]);
  return ok ? undefined : status.notify!['X_PCLOUD_CGROUP_ERROR'];
}

/** Everything in the unit's cgroups and below them (nspawn's payload and supervisor cgroups), but this supervisor. */
function cgroupPids(): number[] {
  const pids = new Set<number>();
  for (const path of cgroupDirs) cgroupTreePids(path, pids);
  pids.delete(process.pid);
  return [...pids];
}

function leaveCgroups(): void {
  for (const path of cgroupDirs) {
    const root = path.slice(0, path.indexOf('/pcloud/'));
    try { writeFileSync(join(root, 'cgroup.procs'), String(process.pid)); } catch { /* gone */ }
  }
  // Killed processes take a moment to leave their cgroup, and nspawn may leave its sub-cgroups: remove the tree,
  // retrying for up to a second.
  const deadline = Date.now() + 1000;
  let left = [...cgroupDirs];
  while (left.length && Date.now() < deadline) {
    left = left.filter((path) => !removeCgroupTree(path));
    if (left.length) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

// ---- readiness: sd_notify datagrams ----
const notifyPath = socketPath(join(dir, 'notify.sock'));
try { unlinkSync(notifyPath); } catch { /* absent */ }
const sock = unixDgram.createSocket('unix_dgram', (msg: Buffer) => {
  let changed = false;
  for (const line of msg.toString('utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'READY' && value === '1' && status.state === 'activating') {
      status.state = 'active';
      status.readyAt = Date.now();
      clearTimeout(startTimer);
      changed = true;
    } else if (key === 'STATUS') {
      status.statusText = value;
      changed = true;
    } else if (key !== 'READY') {
      status.notify![key] = value;
      changed = true;
    }
  }
  if (changed) save();
});
sock.bind(notifyPath);

// ---- the main process ----
/** When the main process was started, within the restart policy's interval (its start limit). */
let starts: number[] = [];
let restartTimer: NodeJS.Timeout | undefined;
let startTimer: NodeJS.Timeout | undefined;
let killTimer: NodeJS.Timeout | undefined;
/** The main process's stdout and stderr: a pipe this supervisor copies into a bounded log, the same for every start. */
let unitConsole: UnitConsole | undefined;

function startMain(): void {
  if (stopping) return finish('inactive');
  starts.push(Date.now());
  try {
    // The direct manager hands its supervisors the bound in their environment (direct.ts).
    unitConsole ??= openConsole(dir, consoleLogBytes(process.env.PCLOUD_CONSOLE_LOG_BYTES));
  } catch (err) {
    process.stderr.write(`console: ${(err as Error).message}\n`); // supervisor.log, for the host's operator
    status.result = 'start-failed';
    status.statusText = 'its console could not be set up';
    return finish('failed');
  }
  status.state = spec.type === 'notify' ? 'activating' : 'active';
  status.readyAt = spec.type === 'notify' ? undefined : Date.now();
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...spec.env };
  if (spec.type === 'notify') env.NOTIFY_SOCKET = notifyPath;
  const out = unitConsole.writer();
  const main = spawn(spec.exec[0]!, spec.exec.slice(1), { env, stdio: ['ignore', out, out] });
  child = main;
  closeSync(out);
  status.mainPid = main.pid;
  status.mainTicks = main.pid === undefined ? undefined : startTicks(main.pid);
  // A program that cannot be run emits error and close, not exit: one end, either way.
  let ended = false;
  const end = (code: number | null, signal: NodeJS.Signals | null) => {
    if (ended) return;
    ended = true;
    child = undefined;
    onExit(code, signal);
  };
  main.on('error', (err) => {
    status.result = 'start-failed';
    status.statusText = err.message;
    if (main.pid === undefined) end(null, null);
  });
  main.on('exit', end);
  if (spec.type === 'notify') {
    startTimer = setTimeout(() => {
      status.result = 'timeout';
      stopMain();
    }, spec.startTimeoutSec * 1000);
  }
  save();
}

function stopMain(): void {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  status.state = 'deactivating';
  save();
  child.kill(spec.killSignal ?? 'SIGTERM');
  clearTimeout(killTimer);
  killTimer = setTimeout(() => {
    child?.kill('SIGKILL');
    for (const pid of cgroupPids()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }, spec.stopTimeoutSec * 1000);
}

function onExit(code: number | null, signal: NodeJS.Signals | null): void {
  clearTimeout(startTimer);
  clearTimeout(killTimer);
  // KillMode=mixed: whatever the main process left in the cgroup goes with it.
  for (const pid of cgroupPids()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  const forced = code !== null && (spec.restartForceExitStatus ?? []).includes(code);
  if (!stopping && (forced || restartRequested) && status.result !== 'timeout') {
    restartRequested = false;
    status.notify = {};
    startMain();
    return;
  }
  status.exitCode = code ?? undefined;
  status.signal = signal ?? undefined;
  const clean = code === 0 || (stopping && (signal === 'SIGTERM' || signal === spec.killSignal));
  if (!status.result) status.result = clean ? 'success' : signal ? 'signal' : 'exit-code';
  const policy = spec.restart;
  if (!stopping && policy && (policy.when === 'always' || status.result !== 'success')) return scheduleRestart(policy);
  finish(clean && status.result === 'success' ? 'inactive' : 'failed');
}

/** Start the main process again after the policy's (growing) delay, or give up at its start limit. */
function scheduleRestart(policy: RestartPolicy): void {
  const now = Date.now();
  starts = starts.filter((t) => t > now - policy.intervalSec * 1000);
  const delayMs = restartDelayMs(policy, starts, now);
  if (delayMs === undefined) {
    status.result = 'start-limit-hit';
    return finish('failed');
  }
  status.state = 'activating';
  status.restarts = (status.restarts ?? 0) + 1;
  save();
  restartTimer = setTimeout(() => {
    status.result = undefined;
    status.exitCode = undefined;
    status.signal = undefined;
    status.notify = {};
    startMain();
  }, delayMs);
}

function finish(state: 'inactive' | 'failed'): void {
  clearTimeout(restartTimer);
  unitConsole?.drain();
  status.state = state;
  if (state === 'inactive' && !status.result) status.result = 'success';
  status.exitedAt = Date.now();
  save();
  try { sock.close(); } catch { /* closed */ }
  try { unlinkSync(notifyPath); } catch { /* absent */ }
  leaveCgroups();
  process.exit(0);
}

// The manager writes `stop` when asked to stop a unit whose supervisor it could not signal yet.
if (existsSync(join(dir, 'stop'))) stopping = true;
const deviceError = stopping ? undefined : applyLimits();
running = true;
if (deviceError) {
  // Never run it without its device policy: a device node in its root would open the host's device.
  process.stderr.write(`supervisor: ${spec.name}: device policy not applied: ${deviceError}\n`);
  status.result = 'start-failed';
  status.statusText = 'the unit\'s device policy could not be applied';
  finish('failed');
} else {
  startMain();
}
