/**
 * The systemd unit manager, for hosts whose PID 1 is systemd: each unit is a transient service started with
 * `systemd-run` (properties from render.ts), containers register with machined, logs go to the journal. A unit with
 * a socket is a real `.socket` unit and its service instead, written into the runtime unit directory
 * (socket-units.ts) and started; its name is the socket's. State changes are pushed by systemd over the system bus
 * (systemd-bus.ts: the moment they happen, nothing asked while idle) and a unit's state is asked over it too; where
 * the bus cannot be reached, or is lost, they are read with one `systemctl show` for every unit being watched, every
 * 100 ms while one is in transition, every second otherwise, until the bus is back.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, output } from '../exec.js';
import { unitProperties } from './render.js';
import { renderSocketUnits } from './socket-units.js';
import { SystemdBus, SYSTEM_BUS_SOCKET, type UnitProps } from './systemd-bus.js';
import { isFinal, type ActiveState, type UnitManager, type UnitSpec, type UnitStatus } from './types.js';
import { log } from '../../log.js';
import { Owners } from '../owners.js';
import { assertPortsFree } from '../ports.js';

const SHOW = ['Id', 'LoadState', 'ActiveState', 'SubState', 'Result', 'MainPID', 'ExecMainStatus', 'ExecMainCode', 'StatusText', 'NRestarts'];
/** How long to wait between tries to reach the bus again once it was lost (polling meanwhile). */
const RECONNECT_MS = 5000;

/** A unit's status from its properties as `systemctl show` prints them (or the bus gives them, systemd-bus.ts). */
function statusOf(name: string, p: UnitProps): UnitStatus {
  const active = p.get('ActiveState');
  let state = (['activating', 'active', 'deactivating', 'inactive', 'failed'].includes(active!) ? active : 'activating') as ActiveState;
  // Ended but with a job queued (the bus tells the start job of a unit just made before the unit moves): starting.
  if (isFinal(state) && Number(p.get('Job'))) state = 'activating';
  const code = p.get('ExecMainCode'); // 1 = exited, 2 = killed, 3 = dumped
  return {
    name, state, result: p.get('Result') || undefined,
    mainPid: Number(p.get('MainPID')) || undefined,
    exitCode: code === '1' ? Number(p.get('ExecMainStatus')) : undefined,
    signal: code === '2' || code === '3' ? `signal ${p.get('ExecMainStatus')}` : undefined,
    statusText: p.get('StatusText') || undefined,
    restarts: Number(p.get('NRestarts')) || undefined,
  };
}

/** The unit a unit id is for: `NAME.service` or `NAME.socket`. */
function unitName(id: string): string {
  return id.replace(/\.(service|socket)$/, '');
}

function parseShow(text: string): UnitStatus[] {
  const out: UnitStatus[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const kv = new Map(block.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const id = kv.get('Id');
    if (!id || kv.get('LoadState') === 'not-found') continue;
    out.push(statusOf(unitName(id), kv));
  }
  return out;
}

export class SystemdUnitManager implements UnitManager {
  readonly kind = 'systemd' as const;
  readonly registersMachines = true;
  /** Unit names are host-wide under systemd: each records the data dir that started it (owners.ts). */
  private readonly owners: Owners;

  /**
   * unitDir: where socket units' files are written (runtime units: gone at reboot, as their sockets are). busSocket:
   * the system bus (a test's stand-in elsewhere).
   */
  constructor(dataDir: string, private readonly unitDir = '/run/systemd/system', private readonly busSocket = SYSTEM_BUS_SOCKET) {
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

  /** The units whose changes are told to the listeners, each with the last state told (state|result|pid|status text; '' none yet). */
  private readonly watched = new Map<string, string>();
  private readonly listeners = new Set<(s: UnitStatus) => void>();
  /** systemd's bus while it is connected: changes are pushed, and nothing is polled. */
  private bus: SystemdBus | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private polling = false;
  /** A poll asked for while one was running: it runs again once that one is done. */
  private pollAgain = false;
  private closed = false;

  async init(prefixes: string[]): Promise<void> {
    await this.connect();
    for (const prefix of prefixes) {
      for (const st of await this.list(prefix)) this.watched.set(st.name, key(st));
    }
    // Subscribed before the units were listed, followed only once listed: a change in between is read once, here.
    if (this.bus) await this.poll(false);
    else this.schedule();
  }

  /**
   * Reach systemd's bus and follow the watched units' changes there; false (and the caller polls) where it cannot,
   * said once (`quiet`: a try again while it is lost).
   */
  private async connect(quiet = false): Promise<boolean> {
    try {
      this.bus = await SystemdBus.connect({
        socket: this.busSocket,
        follows: (id) => this.follows(id),
        events: {
          change: (id, props) => this.changed(statusOf(unitName(id), props)),
          removed: (id) => this.removed(unitName(id)),
          closed: (reason) => this.lost(reason),
        },
      });
      if (this.closed) {
        this.bus.close();
        this.bus = undefined;
        return false;
      }
      log.info('unit states are pushed by systemd over the system bus');
      return true;
    } catch (err) {
      if (!quiet) log.warn(`systemd's bus cannot be reached (${(err as Error).message}): unit states are polled with systemctl`);
      return false;
    }
  }

  /** The bus is gone (the daemon restarted, systemd re-executed): poll, and try to reach it again now and then. */
  private lost(reason: string): void {
    this.bus = undefined;
    if (this.closed) return;
    log.warn(`systemd's bus was lost (${reason}): unit states are polled with systemctl until it is back`);
    this.schedule(0);
    this.reconnect();
  }

  private reconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void (async () => {
      if (this.closed || this.bus) return;
      if (!(await this.connect(true))) return this.reconnect();
      log.info("systemd's bus is back: unit states are pushed again");
      clearTimeout(this.timer);
      // What changed while it was away is read once.
      await this.poll(false);
    })(), RECONNECT_MS);
    this.reconnectTimer.unref();
  }

  /** Whether a change of the unit `id` is one a listener is told of: the watched unit's own id (its socket for a socket unit). */
  private follows(id: string): boolean {
    const name = unitName(id);
    return name !== id && this.watched.has(name) && this.id(name) === id;
  }

  /** A watched unit's state: the listeners are told when it differs from the last one told. */
  private changed(st: UnitStatus): void {
    const last = this.watched.get(st.name);
    if (last === undefined) return;
    const k = key(st);
    if (last === k) return;
    this.watched.set(st.name, k);
    for (const l of this.listeners) l(st);
  }

  /**
   * A watched unit was unloaded: a transient unit that ended cleanly is garbage-collected. Before its new start was
   * seen at all (''), it is the unit it replaces that went.
   */
  private removed(name: string): void {
    const last = this.watched.get(name);
    if (!last) return;
    const [state] = last.split('|') as [ActiveState];
    if (!isFinal(state)) this.changed({ name, state: 'inactive', result: 'success' });
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
    await this.watching(spec.name, () => run('systemd-run', [...args, '--', ...spec.exec]));
  }

  /** The socket's unit files written (the escaping is socket-units.ts'), loaded, and the socket started. */
  private async startSocket(spec: UnitSpec): Promise<void> {
    const files = renderSocketUnits(spec);
    await this.owners.claim(spec.name);
    for (const f of [files.socket, files.service]) await writeFile(join(this.unitDir, f.file), f.text);
    await run('systemctl', ['daemon-reload']);
    await this.watching(spec.name, () => run('systemctl', ['start', files.socket.file]));
  }

  /** Watch a unit from before it is started (its first pushed change may come before systemd-run returns). */
  private async watching(name: string, start: () => Promise<unknown>): Promise<void> {
    this.watched.set(name, '');
    try {
      await start();
    } catch (err) {
      this.watched.delete(name);
      throw err;
    }
    if (!this.bus) this.schedule(50);
  }

  async stop(name: string): Promise<UnitStatus | undefined> {
    await run('systemctl', ['stop', ...this.ids(name)], { reject: false });
    return this.status(name);
  }

  async restart(name: string): Promise<void> {
    await run('systemctl', ['restart', '--no-block', this.id(name)]);
    if (!this.bus) this.schedule(50);
  }

  async signal(name: string, signal: NodeJS.Signals): Promise<void> {
    await run('systemctl', ['kill', '--kill-whom=main', `--signal=${signal}`, this.id(name)], { reject: false });
  }

  /** Asked of systemd each time (over the bus where it is connected): the answer is never older than the call. */
  async status(name: string): Promise<UnitStatus | undefined> {
    // A transient unit that ended cleanly is garbage-collected; one we started and watch has ended, then.
    return (await this.ask(name)) ?? (this.watched.has(name) ? { name, state: 'inactive', result: 'success' } : undefined);
  }

  private async ask(name: string): Promise<UnitStatus | undefined> {
    const bus = this.bus;
    if (bus) {
      try {
        const props = await bus.properties(this.id(name));
        return props.get('LoadState') === 'not-found' ? undefined : statusOf(name, props);
      } catch (err) {
        if (bus.open) log.warn(`asking systemd's bus for ${name}: ${(err as Error).message}`);
      }
    }
    return this.show(name);
  }

  private async show(name: string): Promise<UnitStatus | undefined> {
    const res = await run('systemctl', ['show', this.id(name), ...SHOW.flatMap((p) => ['-p', p])], { reject: false });
    return parseShow(res.stdout)[0];
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
    for (const id of ids) this.bus?.forget(id);
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
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.reconnectTimer);
    this.bus?.close();
    this.bus = undefined;
    this.watched.clear();
  }

  /** Without the bus: poll quickly while anything is in transition, slowly otherwise. */
  private schedule(ms?: number): void {
    clearTimeout(this.timer);
    if (this.closed || this.bus) return;
    const busy = [...this.watched.values()].some((k) => !k.startsWith('active|') && !k.startsWith('inactive|') && !k.startsWith('failed|'));
    this.timer = setTimeout(() => void this.poll(), ms ?? (busy ? 100 : 1000));
    this.timer.unref();
  }

  /** Every watched unit's state read at once (one `systemctl show`; over the bus once it is back), changes told. */
  private async poll(again = true): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    if (!this.watched.size) return again ? this.schedule() : undefined;
    this.polling = true;
    try {
      const names = [...this.watched.keys()];
      const bus = this.bus;
      const seen = new Map<string, UnitStatus>();
      if (bus) {
        for (const st of await Promise.all(names.map((n) => this.status(n)))) if (st) seen.set(st.name, st);
      } else {
        const res = await run('systemctl', ['show', ...names.map((n) => this.id(n)), ...SHOW.flatMap((p) => ['-p', p])], { reject: false });
        for (const st of parseShow(res.stdout)) seen.set(st.name, st);
      }
      // A transient unit that ended cleanly is garbage-collected: it shows as not found.
      for (const name of names) this.changed(seen.get(name) ?? { name, state: 'inactive', result: 'success' });
    } catch (err) {
      log.warn(`polling units: ${(err as Error).message}`);
    } finally {
      this.polling = false;
      if (this.pollAgain) {
        this.pollAgain = false;
        void this.poll(again);
      } else if (again) {
        this.schedule();
      }
    }
  }
}

/** What a change is told on: its state, result and main process, and its status text (a guest's boot stages, guest-boot.ts). */
function key(s: UnitStatus): string {
  return `${s.state}|${s.result ?? ''}|${s.mainPid ?? ''}|${s.statusText ?? ''}`;
}
