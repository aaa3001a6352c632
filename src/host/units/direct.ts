/**
 * The direct unit manager: for hosts whose PID 1 is not systemd. Each unit runs under its own detached supervisor
 * (supervisor.ts) that outlives the server; the unit's state is a file in RUN_DIR/units/NAME that the server reads on
 * start (reconcile) and watches for changes. Files of a unit's directory:
 *   spec.json       what to run (the manager, before the supervisor is spawned)
 *   supervisor.pid  the supervisor's pid and start time (the manager, as soon as it is spawned)
 *   stop            a stop asked for before the supervisor could be signalled: it then never starts the main process
 *   state.json      the supervisor's record of the unit (once it has taken the unit)
 *   console.log     the console (stdout, stderr) of its processes, and console.log.1 before it (console-log.ts)
 *   passwd, group   a sandboxed unit's /etc/passwd and /etc/group, naming its user (while it holds one)
 * spec.json is what the supervisor runs: a socket, a sandbox or noNewPrivileges of the unit's description are
 * rendered into its argv first (direct-spec.ts), the sandbox as a user of its own (sandbox-users.ts).
 * A manager that revives (the server holding the data dir) starts again, per its restart policy, a unit whose
 * supervisor died (SIGKILL, OOM) after taking down what was left of it.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile, open, stat } from 'node:fs/promises';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnDetached } from '../exec.js';
import { assertPortsFree } from '../ports.js';
import { alive, sameProcess, startTicks, unitCgroup } from './proc.js';
import { cgroupTreePids, removeCgroupTree } from './cgroup-tree.js';
import { restartDelayMs } from './restart.js';
import { isFinal, type UnitManager, type UnitSpec, type UnitStatus } from './types.js';
import { log } from '../../log.js';
import { consoleCommand, DEFAULT_CONSOLE_LOG_BYTES, readConsoleTail } from './console-log.js';
import { directSpec, type SandboxBox } from './direct-spec.js';
import { passwdFiles } from '../sandbox.js';
import { seccompProgram } from '../sandbox-seccomp.js';
import { SandboxUsers } from '../sandbox-users.js';
import { LocalMachine } from '../machine.js';

interface StoredStatus extends UnitStatus {
  supervisorPid?: number;
  supervisorTicks?: number;
  /** The main process's start (proc.ts startTicks): its pid alone may be another process's by now (after a reboot). */
  mainTicks?: number;
}

interface Supervisor {
  pid: number;
  ticks?: number;
}

/** The cgroup hierarchies a supervisor may have put its unit in (v2, hybrid's named and v1 controllers). */
const HIERARCHIES = ['', 'systemd', 'unified', 'memory', 'pids', 'cpu', 'devices'].map((h) => join('/sys/fs/cgroup', h));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The compiled supervisor script (tests run TypeScript sources; the supervisor always runs compiled). */
export function supervisorScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'supervisor.js');
  return here.replace(/\/src\/host\/units\/direct\.ts$/, '/dist/src/host/units/supervisor.js');
}

export class DirectUnitManager implements UnitManager {
  readonly kind = 'direct' as const;
  readonly registersMachines = false;
  private readonly root: string;
  private readonly listeners = new Set<(s: UnitStatus) => void>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly last = new Map<string, string>();
  private poller: NodeJS.Timeout | undefined;
  /** Supervisors being spawned by this process: a stop waits for the spawn, then signals the supervisor. */
  private readonly spawning = new Map<string, Promise<unknown>>();
  /** Per unit, when this manager started it again after its supervisor died (its restart policy's start limit). */
  private readonly revivals = new Map<string, number[]>();
  private readonly reviving = new Set<string>();
  private readonly revive: boolean;
  private readonly consoleLogBytes: number;
  /** The users sandboxed units run as, one each (systemd's DynamicUser=). */
  private readonly users: SandboxUsers;
  /** The boot this host is in (machine.ts): records of another boot name no process. */
  private readonly bootId: () => Promise<string>;

  /**
   * revive: start again units whose supervisor died (only the server that holds the data dir does).
   * consoleLogBytes: the bound of each of a unit's two console files (console-log.ts; 1 MiB unless said).
   * dataDir: whose units these are, in the host-wide record of sandbox users (runDir's parent unless said).
   * sandboxUidDir: where that record is (sandbox-users.ts' default unless said).
   * bootId: the boot the host is in (machine.ts' unless said).
   */
  constructor(
    runDir: string,
    opts: { revive?: boolean; consoleLogBytes?: number; dataDir?: string; sandboxUidDir?: string; bootId?: () => Promise<string> } = {},
  ) {
    this.root = resolve(runDir, 'units');
    this.revive = opts.revive ?? false;
    this.bootId = opts.bootId ?? (() => new LocalMachine().bootId());
    this.consoleLogBytes = opts.consoleLogBytes ?? DEFAULT_CONSOLE_LOG_BYTES;
    this.users = new SandboxUsers(opts.dataDir ?? dirname(resolve(runDir)), opts.sandboxUidDir);
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    if (this.revive) await this.forgetLastBoot();
    for (const name of await readdir(this.root)) this.watchUnit(name);
    // inotify is the fast path; a slow poll catches a supervisor that died without writing its last state.
    this.poller = setInterval(() => void this.pollAll(), 2000);
    this.poller.unref();
  }

  /**
   * Once the host booted again (the holder of the data dir tells at its start; teardown.ts before it stops anything,
   * the data dir then held by it or by nothing): the records of the last boot's units name no process any more. A pid
   * and its start ticks (counted from the kernel's boot) may both be a new boot's process's by chance, which would then
   * pass for the unit's supervisor (the unit shown active, its stop signalling that process): they are forgotten, so
   * those units read as their supervisors' death, and nothing is signalled.
   */
  async forgetLastBoot(): Promise<void> {
    const file = `${this.root}.boot`;
    const now = await this.bootId();
    const before = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (before && before !== now) {
      for (const name of await readdir(this.root)) {
        await rm(join(this.dir(name), 'supervisor.pid'), { force: true });
        const st = await this.read(name);
        if (!st || isFinal(st.state)) continue;
        const { supervisorPid: _p, supervisorTicks: _t, mainPid: _m, mainTicks: _mt, ...rest } = st;
        await writeFile(join(this.dir(name), 'state.json.tmp'), JSON.stringify(rest));
        await rename(join(this.dir(name), 'state.json.tmp'), join(this.dir(name), 'state.json'));
      }
    }
    if (before !== now) await writeFile(file, `${now}\n`);
  }

  private dir(name: string): string {
    return join(this.root, name);
  }

  async start(spec: UnitSpec): Promise<void> {
    const name = spec.name;
    const dir = this.dir(name);
    // One start of a unit at a time (the server's and a revival's): taken before anything is awaited.
    if (this.spawning.has(name)) throw new Error(`unit ${name} is already activating`);
    const spawned = (async () => {
      const current = await this.status(name);
      if (current && !isFinal(current.state)) throw new Error(`unit ${name} is already ${current.state}`);
      // Host-wide ports: free, or held only by what is left of this very unit (taken down before it starts again).
      await assertPortsFree(spec.ports ?? [], (pid) => this.cgroupPids(name).has(pid));
      this.killLeftovers(name);
      await mkdir(dir, { recursive: true });
      for (const f of ['state.json', 'stop', 'supervisor.pid']) await rm(join(dir, f), { force: true });
      await writeFile(join(dir, 'spec.json'), JSON.stringify(await this.runnable(spec)));
      this.last.delete(name);
      this.watchUnit(name);
      const out = await open(join(dir, 'supervisor.log'), 'a');
      try {
        const env = { PATH: process.env.PATH ?? '', PCLOUD_CONSOLE_LOG_BYTES: String(this.consoleLogBytes) };
        const pid = spawnDetached(process.execPath, [supervisorScript(), dir], { stdoutFd: out.fd, env });
        const sup: Supervisor = { pid, ticks: startTicks(pid) };
        await writeFile(join(dir, 'supervisor.pid'), `${sup.pid} ${sup.ticks ?? ''}\n`);
        return sup;
      } catch (err) {
        // No supervisor: no unit either (not one `activating` for ever).
        await rm(join(dir, 'spec.json'), { force: true });
        throw err;
      } finally {
        await out.close();
      }
    })();
    this.spawning.set(name, spawned);
    let sup: Supervisor;
    try {
      sup = await spawned;
    } finally {
      this.spawning.delete(name);
    }
    await this.taken(name, sup, spec.startTimeoutSec);
  }

  /** Wait until the supervisor has taken the unit (written its state), or ended before (a stop came first). */
  private async taken(name: string, sup: Supervisor, startTimeoutSec: number): Promise<void> {
    // Node starting up takes a fraction of a second, seconds on a loaded host.
    const deadline = Date.now() + Math.max(30, startTimeoutSec) * 1000;
    for (;;) {
      if (await this.read(name)) return;
      if (!sameProcess(sup.pid, sup.ticks)) {
        if ((await this.read(name)) || (await this.stopAsked(name))) return;
        const why = (await readFile(join(this.dir(name), 'supervisor.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ');
        throw new Error(`unit ${name}: its supervisor ended before starting it${why ? `: ${why}` : ''}`);
      }
      if (Date.now() > deadline) {
        process.kill(sup.pid, 'SIGKILL');
        throw new Error(`unit ${name}: its supervisor did not start it in time`);
      }
      await sleep(10);
    }
  }

  async stop(name: string): Promise<UnitStatus | undefined> {
    // A start in flight in this process: its supervisor's pid is known once spawned.
    await this.spawning.get(name)?.catch(() => undefined);
    const spec = await this.spec(name);
    if (!spec) return this.status(name);
    const first = await this.read(name);
    if (first && isFinal(first.state)) return first;
    // Whoever spawns the supervisor and whenever: it reads this before it starts the main process.
    await writeFile(join(this.dir(name), 'stop'), '').catch(() => undefined);
    const deadline = Date.now() + (spec.stopTimeoutSec + 5) * 1000;
    let signalled: number | undefined;
    for (;;) {
      const st = await this.status(name);
      if (!st || isFinal(st.state)) return st;
      const sup = await this.supervisor(name);
      if (sup && signalled !== sup.pid && sameProcess(sup.pid, sup.ticks)) {
        process.kill(sup.pid, 'SIGTERM');
        signalled = sup.pid;
      }
      if (Date.now() > deadline) break;
      await sleep(25);
    }
    log.warn(`unit ${name} did not stop in time: killing it`);
    const sup = await this.supervisor(name);
    if (sup && sameProcess(sup.pid, sup.ticks)) process.kill(sup.pid, 'SIGKILL');
    this.killLeftovers(name);
    return this.status(name);
  }

  async restart(name: string): Promise<void> {
    const st = await this.read(name);
    if (!st || isFinal(st.state) || !sameProcess(st.supervisorPid, st.supervisorTicks)) throw new Error(`unit ${name} is not running`);
    process.kill(st.supervisorPid!, 'SIGHUP');
  }

  async signal(name: string, signal: NodeJS.Signals): Promise<void> {
    const st = await this.status(name);
    if (st && !isFinal(st.state) && alive(st.mainPid)) process.kill(st.mainPid!, signal);
  }

  async status(name: string): Promise<UnitStatus | undefined> {
    const st = await this.read(name);
    if (!st) {
      if (!(await this.spec(name))) return undefined;
      // Being started (no supervisor yet, or one not yet past its start), or a supervisor that ended before taking the
      // unit: stopped before it started, or killed.
      const [sup, stopAsked] = [await this.supervisor(name), await this.stopAsked(name)];
      if (sup ? sameProcess(sup.pid, sup.ticks) : !stopAsked) return { name, state: 'activating' };
      if (await this.read(name)) return this.status(name); // it took the unit (and ended) since the read above
      return stopAsked ? { name, state: 'inactive', result: 'success' } : { name, state: 'failed', result: 'supervisor-died' };
    }
    if (!isFinal(st.state) && !sameProcess(st.supervisorPid, st.supervisorTicks)) {
      // It may have recorded its end and exited since the read above.
      const again = await this.read(name);
      if (again && (isFinal(again.state) || again.supervisorPid !== st.supervisorPid)) return this.status(name);
      // The supervisor died without recording an end (SIGKILL, OOM): the unit has failed; take down what is left of it.
      // Only the very process it started: a pid recorded without its start, or reused since, is left alone.
      if (st.mainTicks !== undefined && sameProcess(st.mainPid, st.mainTicks)) process.kill(st.mainPid!, 'SIGKILL');
      this.killLeftovers(name);
      const { supervisorPid: _p, supervisorTicks: _t, mainTicks: _m, ...rest } = st;
      return { ...rest, state: 'failed', result: 'supervisor-died' };
    }
    const { supervisorPid: _p, supervisorTicks: _t, mainTicks: _m, ...rest } = st;
    return rest;
  }

  async list(prefix: string): Promise<UnitStatus[]> {
    const names = (await readdir(this.root).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
    const out: UnitStatus[] = [];
    for (const n of names) {
      const st = await this.status(n);
      if (st) out.push(st);
    }
    return out;
  }

  async remove(name: string): Promise<void> {
    const st = this.spawning.has(name) ? undefined : await this.status(name);
    if (this.spawning.has(name) || (st && !isFinal(st.state))) await this.stop(name);
    this.watchers.get(name)?.close();
    this.watchers.delete(name);
    this.last.delete(name);
    this.revivals.delete(name);
    // A supervisor that was killed leaves its cgroups behind: they are empty once its unit has ended.
    for (const path of this.cgroupPaths(name)) removeCgroupTree(path);
    if (existsSync(join(this.dir(name), 'passwd'))) await this.users.release(name);
    await rm(this.dir(name), { recursive: true, force: true });
  }

  async logs(name: string, maxBytes: number): Promise<Buffer> {
    return readConsoleTail(this.dir(name), maxBytes).catch(() => Buffer.alloc(0));
  }

  logCommand(name: string, follow: boolean): string[] {
    return consoleCommand(this.dir(name), follow);
  }

  onChange(listener: (s: UnitStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.poller);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** The spec as its supervisor runs it (direct-spec.ts): a sandboxed unit's user claimed (released by remove()). */
  private async runnable(spec: UnitSpec): Promise<UnitSpec> {
    if (!spec.socket && !spec.sandbox && !spec.noNewPrivileges) return spec;
    return directSpec(spec, spec.sandbox ? await this.sandboxBox(spec.name) : undefined);
  }

  /** A sandboxed unit's user (claimed), the passwd and group files naming it, and the seccomp program. */
  private async sandboxBox(name: string): Promise<SandboxBox> {
    const seccomp = await seccompProgram(join(dirname(this.root), 'sandbox'));
    const uid = await this.users.claim(name);
    const files = passwdFiles(uid);
    const [passwd, group] = [join(this.dir(name), 'passwd'), join(this.dir(name), 'group')];
    try {
      await writeFile(passwd, files.passwd, { mode: 0o644 });
      await writeFile(group, files.group, { mode: 0o644 });
    } catch (err) {
      // remove() releases the user of a unit with a passwd file: without one, the claim is given back here.
      await rm(passwd, { force: true });
      await this.users.release(name);
      throw err;
    }
    return { uid, seccomp, passwd, group };
  }

  private async spec(name: string): Promise<UnitSpec | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(name), 'spec.json'), 'utf8')) as UnitSpec;
    } catch {
      return undefined;
    }
  }

  private async supervisor(name: string): Promise<Supervisor | undefined> {
    const st = await this.read(name);
    if (st?.supervisorPid) return { pid: st.supervisorPid, ticks: st.supervisorTicks };
    const text = await readFile(join(this.dir(name), 'supervisor.pid'), 'utf8').catch(() => '');
    const [pid, ticks] = text.trim().split(' ');
    return pid ? { pid: Number(pid), ticks: ticks ? Number(ticks) : undefined } : undefined;
  }

  private stopAsked(name: string): Promise<boolean> {
    return stat(join(this.dir(name), 'stop')).then(() => true, () => false);
  }

  /** The unit's cgroups, in every hierarchy (and where supervisors before per-data-dir cgroups put them). */
  private cgroupPaths(name: string): string[] {
    return HIERARCHIES.flatMap((h) => [join(h, unitCgroup(this.dir(name), name)), join(h, 'pcloud', name)]);
  }

  private cgroupPids(name: string): Set<number> {
    const pids = new Set<number>();
    for (const path of this.cgroupPaths(name)) {
      // The pre-digest path was shared by every data dir: never count (or kill) what runs there.
      if (!path.endsWith(`/pcloud/${name}`)) cgroupTreePids(path, pids);
    }
    return pids;
  }

  /** SIGKILL what is left in an ended unit's cgroup (its supervisor was killed, or would not stop). */
  private killLeftovers(name: string): void {
    for (const pid of this.cgroupPids(name)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }

  private async read(name: string): Promise<StoredStatus | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(name), 'state.json'), 'utf8')) as StoredStatus;
    } catch {
      return undefined;
    }
  }

  private watchUnit(name: string): void {
    if (this.watchers.has(name)) return;
    try {
      const w = watch(this.dir(name), (_event, file) => {
        if (file === 'state.json') void this.check(name);
      });
      w.on('error', () => this.watchers.delete(name));
      w.unref();
      this.watchers.set(name, w);
    } catch {
      /* directory gone */
    }
  }

  private async check(name: string): Promise<void> {
    const st = await this.status(name);
    if (!st) return;
    // Its status text too: a guest's boot stages (guest-boot.ts) are told as they come, for the instance status check.
    const key = `${st.state}|${st.result ?? ''}|${st.mainPid ?? ''}|${st.readyAt ?? ''}|${st.restarts ?? ''}|${st.statusText ?? ''}`;
    if (this.last.get(name) === key) return;
    this.last.set(name, key);
    for (const l of this.listeners) l(st);
    if (st.result === 'supervisor-died' && this.revive) void this.reviveUnit(name);
  }

  /** Start again, per its restart policy, a unit whose supervisor died; at its start limit it stays failed. */
  private async reviveUnit(name: string): Promise<void> {
    // Taken before anything is awaited: one revival of a unit at a time.
    if (this.reviving.has(name)) return;
    this.reviving.add(name);
    let started = false;
    try {
      const spec = await this.spec(name);
      const policy = spec?.restart;
      if (!spec || !policy) return;
      // The start its supervisor made counts as the first.
      const now = Date.now();
      const starts = [...(this.revivals.get(name) ?? []).filter((t) => t > now - policy.intervalSec * 1000), now];
      const delay = restartDelayMs(policy, starts, now);
      if (delay === undefined) {
        const st = await this.status(name);
        await this.writeState(name, { ...st, name, state: 'failed', result: 'start-limit-hit' });
        return;
      }
      this.revivals.set(name, starts);
      log.warn(`unit ${name}: its supervisor died; starting it again in ${delay} ms`);
      await sleep(delay);
      const st = await this.status(name);
      if (st?.result !== 'supervisor-died') return; // stopped, removed or started meanwhile
      await this.start(spec);
      started = true;
    } catch (err) {
      log.warn(`unit ${name}: could not start it again: ${(err as Error).message}`);
    } finally {
      this.reviving.delete(name);
    }
    // The supervisor it started may have died before this revival ended: check() saw that death while this one ran and
    // let it pass, and sees it no more (nothing changes after), so it is taken up here.
    if (started && (await this.status(name))?.result === 'supervisor-died') void this.reviveUnit(name);
  }

  private async writeState(name: string, st: UnitStatus): Promise<void> {
    const file = join(this.dir(name), 'state.json');
    await writeFile(`${file}.tmp`, JSON.stringify(st));
    await rename(`${file}.tmp`, file);
  }

  private async pollAll(): Promise<void> {
    for (const name of this.watchers.keys()) await this.check(name);
  }
}
