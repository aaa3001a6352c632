/**
 * The systemd unit manager, for hosts whose PID 1 is systemd: each unit is a transient service started with
 * `systemd-run` (properties from render.ts), containers register with machined, logs go to the journal. A unit with
 * a socket is a real `.socket` unit and its service instead, written into the runtime unit directory
 * (socket-units.ts) and started; its name is the socket's. State changes are read with one `systemctl show` for every
 * unit being watched.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, output } from '../exec.js';
import { unitProperties } from './render.js';
import { renderSocketUnits } from './socket-units.js';
import { isFinal, type ActiveState, type UnitManager, type UnitSpec, type UnitStatus } from './types.js';
import { log } from '../../log.js';
import { Owners } from '../owners.js';
import { assertPortsFree } from '../ports.js';

const SHOW = ['Id', 'LoadState', 'ActiveState', 'SubState', 'Result', 'MainPID', 'ExecMainStatus', 'ExecMainCode', 'StatusText', 'NRestarts'];

function parseShow(text: string): UnitStatus[] {
  const out: UnitStatus[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const kv = Object.fromEntries(block.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    if (!kv.Id) continue;
    const name = kv.Id.replace(/\.(service|socket)$/, '');
    if (kv.LoadState === 'not-found') continue;
    const state = (['activating', 'active', 'deactivating', 'inactive', 'failed'].includes(kv.ActiveState!) ? kv.ActiveState : 'activating') as ActiveState;
    const code = kv.ExecMainCode; // 1 = exited, 2 = killed, 3 = dumped
    out.push({
      name, state, result: kv.Result || undefined,
      mainPid: Number(kv.MainPID) || undefined,
      exitCode: code === '1' ? Number(kv.ExecMainStatus) : undefined,
      signal: code === '2' || code === '3' ? `signal ${kv.ExecMainStatus}` : undefined,
      statusText: kv.StatusText || undefined,
      restarts: Number(kv.NRestarts) || undefined,
    });
  }
  return out;
}

export class SystemdUnitManager implements UnitManager {
  readonly kind = 'systemd' as const;
  readonly registersMachines = true;
  /** Unit names are host-wide under systemd: each records the data dir that started it (owners.ts). */
  private readonly owners: Owners;

  /** unitDir: where socket units' files are written (runtime units: gone at reboot, as their sockets are). */
  constructor(dataDir: string, private readonly unitDir = '/run/systemd/system') {
    this.owners = new Owners('units', dataDir);
  }

  /** The unit systemd knows by this name: its socket for a socket unit, else its service. */
  private id(name: string): string {
    return existsSync(join(this.unitDir, `${name}.socket`)) ? `${name}.socket` : `${name}.service`;
  }

  /** Everything systemd runs for the unit: a socket unit's socket, its service and the instances of its template. */
  private ids(name: string): string[] {
    const id = this.id(name);
    return id.endsWith('.socket') ? [id, `${name}.service`, `${name}@*.service`] : [id];
  }

  private readonly watched = new Map<string, string>();
  private readonly listeners = new Set<(s: UnitStatus) => void>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  async init(prefixes: string[]): Promise<void> {
    for (const prefix of prefixes) {
      for (const st of await this.list(prefix)) this.watched.set(st.name, key(st));
    }
    this.schedule();
  }

  async start(spec: UnitSpec): Promise<void> {
    const current = await this.status(spec.name);
    if (current && !isFinal(current.state)) throw new Error(`unit ${spec.name} is already ${current.state}`);
    if (current) await this.remove(spec.name);
    // systemd takes down a unit's whole cgroup: nothing of an ended one of ours can hold a port.
    await assertPortsFree(spec.ports ?? []);
    if (spec.socket) return this.startSocket(spec);
    const p = unitProperties(spec);
    const args = [`--unit=${spec.name}.service`, `--description=${spec.description}`, '--no-block', '--quiet'];
    // Unit-section properties (the start limit) go as -p too; the description has its own option.
    for (const [k, v] of p.unit) if (k !== 'Description') args.push('-p', `${k}=${v}`);
    for (const [k, v] of p.service) {
      if (k === 'Environment') args.push(`--setenv=${v}`);
      else args.push('-p', `${k}=${v}`);
    }
    await this.owners.claim(spec.name);
    await run('systemd-run', [...args, '--', ...spec.exec]);
    this.watched.set(spec.name, '');
    this.schedule(50);
  }

  /** The socket's unit files written (the escaping is socket-units.ts'), loaded, and the socket started. */
  private async startSocket(spec: UnitSpec): Promise<void> {
    const files = renderSocketUnits(spec);
    await this.owners.claim(spec.name);
    for (const f of [files.socket, files.service]) await writeFile(join(this.unitDir, f.file), f.text);
    await run('systemctl', ['daemon-reload']);
    await run('systemctl', ['start', files.socket.file]);
    this.watched.set(spec.name, '');
    this.schedule(50);
  }

  async stop(name: string): Promise<UnitStatus | undefined> {
    await run('systemctl', ['stop', ...this.ids(name)], { reject: false });
    return this.status(name);
  }

  async restart(name: string): Promise<void> {
    await run('systemctl', ['restart', '--no-block', this.id(name)]);
    this.schedule(50);
  }

  async signal(name: string, signal: NodeJS.Signals): Promise<void> {
    await run('systemctl', ['kill', '--kill-whom=main', `--signal=${signal}`, this.id(name)], { reject: false });
  }

  async status(name: string): Promise<UnitStatus | undefined> {
    const res = await run('systemctl', ['show', this.id(name), ...SHOW.flatMap((p) => ['-p', p])], { reject: false });
    // A transient unit that ended cleanly is garbage-collected; one we started and watch has ended, then.
    return parseShow(res.stdout)[0] ?? (this.watched.has(name) ? { name, state: 'inactive', result: 'success' } : undefined);
  }

  /** This data dir's units whose names start with `prefix`. */
  async list(prefix: string): Promise<UnitStatus[]> {
    const ids = (await output('systemctl', ['list-units', '--all', '--plain', '--no-legend', '--type=service,socket', `${prefix}*`]))
      .split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n): n is string => Boolean(n));
    const sockets = ids.filter((id) => id.endsWith('.socket')).map((id) => id.slice(0, -'.socket'.length));
    // A socket's services (its one, or its template's instances) are the socket unit's, not units of their own.
    const services = ids.filter((id) => id.endsWith('.service')).map((id) => id.slice(0, -'.service'.length))
      .filter((n) => !sockets.some((s) => n === s || n.startsWith(`${s}@`)));
    const names = await this.owners.mine([...sockets, ...services]);
    if (!names.length) return [];
    const res = await run('systemctl', ['show', ...names.map((n) => this.id(n)), ...SHOW.flatMap((p) => ['-p', p])], { reject: false });
    return parseShow(res.stdout);
  }

  async remove(name: string): Promise<void> {
    this.watched.delete(name);
    const ids = this.ids(name);
    const files = [`${name}.socket`, `${name}.service`, `${name}@.service`].map((f) => join(this.unitDir, f)).filter((f) => existsSync(f));
    if (files.length) {
      // A socket unit's files go with it: stopped first (a socket listening on a deleted unit file is no one's).
      await run('systemctl', ['stop', ...ids], { reject: false });
      for (const f of files) await rm(f, { force: true });
      await run('systemctl', ['daemon-reload']);
    }
    await run('systemctl', ['reset-failed', ...ids], { reject: false });
    await this.owners.release(name);
  }

  async logs(name: string, maxBytes: number): Promise<Buffer> {
    const res = await run('journalctl', [...this.ids(name).flatMap((id) => ['-u', id]), '-o', 'cat', '--no-pager', '-n', '2000'], { reject: false });
    const buf = Buffer.from(res.stdout ? res.stdout + '\n' : '');
    return buf.subarray(Math.max(0, buf.length - maxBytes));
  }

  logCommand(name: string, follow: boolean): string[] {
    return ['journalctl', ...this.ids(name).flatMap((id) => ['-u', id]), '-o', 'cat', '--no-pager', ...(follow ? ['-f'] : [])];
  }

  onChange(listener: (s: UnitStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearTimeout(this.timer);
    this.watched.clear();
  }

  /** Poll quickly while anything is in transition, slowly otherwise. */
  private schedule(ms?: number): void {
    clearTimeout(this.timer);
    const busy = [...this.watched.values()].some((k) => !k.startsWith('active|') && !k.startsWith('inactive|') && !k.startsWith('failed|'));
    this.timer = setTimeout(() => void this.poll(), ms ?? (busy ? 100 : 1000));
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling || !this.watched.size) return this.schedule();
    this.polling = true;
    try {
      const names = [...this.watched.keys()];
      const res = await run('systemctl', ['show', ...names.map((n) => this.id(n)), ...SHOW.flatMap((p) => ['-p', p])], { reject: false });
      const seen = new Map(parseShow(res.stdout).map((s) => [s.name, s]));
      for (const name of names) {
        // A transient unit that ended cleanly is garbage-collected: it shows as not found.
        const st = seen.get(name) ?? { name, state: 'inactive' as const, result: 'success' };
        const k = key(st);
        if (this.watched.get(name) === k) continue;
        if (!this.watched.has(name)) continue;
        this.watched.set(name, k);
        for (const l of this.listeners) l(st);
      }
    } catch (err) {
      log.warn(`polling units: ${(err as Error).message}`);
    } finally {
      this.polling = false;
      this.schedule();
    }
  }
}

function key(s: UnitStatus): string {
  return `${s.state}|${s.result ?? ''}|${s.mainPid ?? ''}`;
}
