/**
 * The direct unit manager: for hosts whose PID 1 is not systemd. Each unit runs under its own detached supervisor
 * (supervisor.ts) that outlives the server; the unit's state is a file in RUN_DIR/units/NAME that the server reads on
 * start (reconcile) and watches for changes.
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile, open, stat } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnDetached } from '../exec.js';
import { alive } from './proc.js';
import { isFinal, type UnitManager, type UnitSpec, type UnitStatus } from './types.js';
import { log } from '../../log.js';

interface StoredStatus extends UnitStatus {
  supervisorPid?: number;
}

/** The compiled supervisor script (tests run TypeScript sources; the supervisor always runs compiled). */
export function supervisorScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'supervisor.js');
  return here.replace(/\/src\/host\/units\/direct\.ts$/, '/dist/src/host/units/supervisor.js');
}

async function removeCgroupTree(path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(path, e.name));
  await rmdir(path).catch(() => undefined);
}

export class DirectUnitManager implements UnitManager {
  readonly kind = 'direct' as const;
  private readonly root: string;
  private readonly listeners = new Set<(s: UnitStatus) => void>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly last = new Map<string, string>();
  private poller: NodeJS.Timeout | undefined;

  constructor(runDir: string) {
    this.root = join(runDir, 'units');
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    for (const name of await readdir(this.root)) this.watchUnit(name);
    // inotify is the fast path; a slow poll catches a supervisor that died without writing its last state.
    this.poller = setInterval(() => void this.pollAll(), 2000);
    this.poller.unref();
  }

  private dir(name: string): string {
    return join(this.root, name);
  }

  async start(spec: UnitSpec): Promise<void> {
    const dir = this.dir(spec.name);
    const current = await this.status(spec.name);
    if (current && !isFinal(current.state)) throw new Error(`unit ${spec.name} is already ${current.state}`);
    await mkdir(dir, { recursive: true });
    await rm(join(dir, 'state.json'), { force: true });
    await writeFile(join(dir, 'spec.json'), JSON.stringify(spec));
    this.last.delete(spec.name);
    this.watchUnit(spec.name);
    const out = await open(join(dir, 'supervisor.log'), 'a');
    try {
      spawnDetached(process.execPath, [supervisorScript(), dir], { stdoutFd: out.fd, env: { PATH: process.env.PATH ?? '' } });
    } finally {
      await out.close();
    }
  }

  async stop(name: string): Promise<UnitStatus | undefined> {
    const st = (await this.read(name)) as StoredStatus | undefined;
    if (!st || isFinal(st.state)) return st;
    const spec = await this.spec(name);
    const deadline = Date.now() + ((spec?.stopTimeoutSec ?? 10) + 5) * 1000;
    if (alive(st.supervisorPid)) process.kill(st.supervisorPid!, 'SIGTERM');
    for (;;) {
      const now = await this.status(name);
      if (!now || isFinal(now.state)) return now;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    log.warn(`unit ${name} did not stop in time: killing it`);
    for (const pid of [st.supervisorPid, st.mainPid]) if (alive(pid)) process.kill(pid!, 'SIGKILL');
    return this.status(name);
  }

  async restart(name: string): Promise<void> {
    const st = (await this.read(name)) as StoredStatus | undefined;
    if (!st || isFinal(st.state) || !alive(st.supervisorPid)) throw new Error(`unit ${name} is not running`);
    process.kill(st.supervisorPid!, 'SIGHUP');
  }

  async signal(name: string, signal: NodeJS.Signals): Promise<void> {
    const st = await this.status(name);
    if (st && !isFinal(st.state) && alive(st.mainPid)) process.kill(st.mainPid!, signal);
  }

  async status(name: string): Promise<UnitStatus | undefined> {
    const st = (await this.read(name)) as StoredStatus | undefined;
    if (!st) {
      // Started but the supervisor has not written yet, or never started.
      return (await this.spec(name)) ? { name, state: 'activating' } : undefined;
    }
    if (!isFinal(st.state) && !alive(st.supervisorPid)) {
      // The supervisor died without recording an end (SIGKILL, OOM): the unit has failed; take its main process down.
      if (alive(st.mainPid)) process.kill(st.mainPid!, 'SIGKILL');
      return { ...st, state: 'failed', result: 'supervisor-died' };
    }
    return st;
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
    this.watchers.get(name)?.close();
    this.watchers.delete(name);
    this.last.delete(name);
    await rm(this.dir(name), { recursive: true, force: true });
    // A supervisor that was killed leaves its cgroups behind: they are empty once its unit has ended.
    for (const ctrl of ['memory', 'pids', 'cpu', 'systemd', 'unified', '']) {
      await removeCgroupTree(join('/sys/fs/cgroup', ctrl, 'pcloud', name));
    }
  }

  async logs(name: string, maxBytes: number): Promise<Buffer> {
    const file = join(this.dir(name), 'console.log');
    try {
      const size = (await stat(file)).size;
      const fh = await open(file, 'r');
      try {
        const len = Math.min(size, maxBytes);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, size - len);
        return buf;
      } finally {
        await fh.close();
      }
    } catch {
      return Buffer.alloc(0);
    }
  }

  logCommand(name: string, follow: boolean): string[] {
    return ['tail', '-n', '+1', ...(follow ? ['-F'] : []), join(this.dir(name), 'console.log')];
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

  private async spec(name: string): Promise<UnitSpec | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(name), 'spec.json'), 'utf8')) as UnitSpec;
    } catch {
      return undefined;
    }
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
    const key = `${st.state}|${st.result ?? ''}|${st.mainPid ?? ''}|${st.readyAt ?? ''}`;
    if (this.last.get(name) === key) return;
    this.last.set(name, key);
    for (const l of this.listeners) l(st);
  }

  private async pollAll(): Promise<void> {
    for (const name of this.watchers.keys()) await this.check(name);
  }
}
