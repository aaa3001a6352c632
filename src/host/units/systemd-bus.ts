/**
 * systemd's D-Bus API on the system bus, the part the systemd unit manager needs: unit state changes pushed as they
 * happen (Manager.Subscribe, then PropertiesChanged on the unit objects and UnitRemoved) and a unit's state asked
 * (Properties.GetAll, as `systemctl show` asks it). The wire protocol is @homebridge/dbus-native's (JavaScript, no
 * libdbus); nothing outside this file knows it. Properties come out as `systemctl show` prints them: name → text.
 */
import dbus, { type Message, type MessageBus } from '@homebridge/dbus-native';

export const SYSTEM_BUS_SOCKET = '/run/dbus/system_bus_socket';

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const UNIT_PATH = '/org/freedesktop/systemd1/unit';
const UNIT = 'org.freedesktop.systemd1.Unit';
const PROPERTIES = 'org.freedesktop.DBus.Properties';
const DBUS = 'org.freedesktop.DBus';
const SIGNAL = 4;
/** systemctl's own bound on a call (sd-bus' default): a systemd that does not answer is an error, not a hang. */
const CALL_TIMEOUT_MS = 25_000;

/** A unit's properties as `systemctl show` prints them: name → text (numbers in decimal, booleans yes/no). */
export type UnitProps = ReadonlyMap<string, string>;

export interface SystemdBusEvents {
  /** A followed unit changed: its Unit properties, with those of its type (Service, Socket) merged in. */
  change(id: string, props: UnitProps): void;
  /** A followed unit was unloaded (a transient unit that ended, a unit reset). */
  removed(id: string): void;
  /** The connection ended, or systemd left the bus (re-executed): nothing more will be pushed. */
  closed(reason: string): void;
}

/** The object path of a unit: its name with each byte but letters (and digits after the first) as `_xx` (sd_bus_path_encode). */
export function unitPath(id: string): string {
  let label = '';
  for (const [i, b] of [...Buffer.from(id)].entries()) {
    const alpha = (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
    const digit = b >= 0x30 && b <= 0x39;
    label += alpha || (digit && i > 0) ? String.fromCharCode(b) : `_${b.toString(16).padStart(2, '0')}`;
  }
  return `${UNIT_PATH}/${label || '_'}`;
}

/** The unit a path under /org/freedesktop/systemd1/unit/ names (sd_bus_path_decode), or undefined for any other path. */
export function unitIdOfPath(path: string): string | undefined {
  if (!path.startsWith(`${UNIT_PATH}/`)) return undefined;
  const label = path.slice(UNIT_PATH.length + 1);
  if (!label || label.includes('/')) return undefined;
  if (label === '_') return '';
  const bytes: number[] = [];
  for (let i = 0; i < label.length; i++) {
    const hex = label[i] === '_' ? /^[0-9a-f]{2}$/.exec(label.slice(i + 1, i + 3)) : null;
    if (hex) {
      bytes.push(parseInt(hex[0], 16));
      i += 2;
    } else {
      bytes.push(label.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString();
}

/** The interface of a unit's own type, whose properties (Result, MainPID, StatusText...) complete the Unit ones. */
function typeInterface(id: string): string | undefined {
  const type = /\.(service|socket)$/.exec(id)?.[1];
  return type === 'service' ? 'org.freedesktop.systemd1.Service' : type === 'socket' ? 'org.freedesktop.systemd1.Socket' : undefined;
}

/**
 * One a{sv} of properties as text. dbus-native gives a variant as [signature tree, [value]]: strings and numbers are
 * kept (a boolean as systemctl prints it), and the unit's Job as its id; everything else (arrays, structs, 64-bit
 * numbers) is left out.
 */
export function propsOf(entries: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(entries)) return out;
  for (const entry of entries) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1]) || !Array.isArray(entry[1][1])) continue;
    const v: unknown = entry[1][1][0];
    if (entry[0] === 'Job' && Array.isArray(v) && typeof v[0] === 'number') out.set('Job', String(v[0])); // (uo): its id, 0 for none
    else if (typeof v === 'string' || typeof v === 'number') out.set(entry[0], String(v));
    else if (typeof v === 'boolean') out.set(entry[0], v ? 'yes' : 'no');
  }
  return out;
}

/** A D-Bus error reply as an Error (dbus-native hands them over as { name, message }). */
function busError(err: unknown): Error {
  if (err instanceof Error) return err;
  const e = err as { name?: string; message?: string };
  return new Error(`${e.name ?? 'D-Bus error'}${e.message ? `: ${e.message}` : ''}`);
}

export class SystemdBus {
  /** The merged properties pushed for each followed unit (a change signal for a type's interface comes first). */
  private readonly pushed = new Map<string, Map<string, string>>();
  /** systemd's unique name on the bus: only its signals are taken (anyone may send a signal to us directly). */
  private owner = '';
  /** Subscribed: from then on a connection that ends is reported (closed). */
  private up = false;
  private ended = false;
  /** Calls waiting for their reply: failed at once when the connection ends. */
  private readonly waiting = new Set<(err: Error) => void>();

  private constructor(private readonly bus: MessageBus, private readonly follows: (id: string) => boolean, private readonly events: SystemdBusEvents) {}

  /**
   * Connect, ask the bus for systemd's signals and subscribe to them. Resolves once subscribed, so that every change
   * from then on is pushed; rejects (connection closed) when the bus or systemd cannot be reached within timeoutMs.
   * `follows` says which units' changes the caller wants.
   */
  static async connect(opts: { socket?: string; follows: (id: string) => boolean; events: SystemdBusEvents; timeoutMs?: number }): Promise<SystemdBus> {
    const bus = dbus.createClient({ socket: opts.socket ?? SYSTEM_BUS_SOCKET });
    const self = new SystemdBus(bus, opts.follows, opts.events);
    let failed: ((err: Error) => void) | undefined;
    const failure = new Promise<never>((_, reject) => { failed = reject; });
    bus.connection.on('error', (err: unknown) => {
      failed?.(busError(err));
      self.end(busError(err).message);
    });
    bus.connection.on('end', () => {
      failed?.(new Error('the bus closed the connection'));
      self.end('the bus closed the connection');
    });
    bus.connection.on('message', (m: Message) => self.message(m));
    const timer = setTimeout(() => failed?.(new Error(`no answer in ${opts.timeoutMs ?? 5000} ms`)), opts.timeoutMs ?? 5000);
    try {
      await Promise.race([failure, (async () => {
        await self.call({ path: '/org/freedesktop/DBus', interface: DBUS, member: 'AddMatch', signature: 's', destination: DBUS,
          body: [`type='signal',sender='${DBUS}',path='/org/freedesktop/DBus',interface='${DBUS}',member='NameOwnerChanged',arg0='${SYSTEMD}'`] });
        await self.call({ path: '/org/freedesktop/DBus', interface: DBUS, member: 'AddMatch', signature: 's', destination: DBUS,
          body: [`type='signal',sender='${SYSTEMD}',interface='${PROPERTIES}',member='PropertiesChanged',path_namespace='${UNIT_PATH}'`] });
        await self.call({ path: '/org/freedesktop/DBus', interface: DBUS, member: 'AddMatch', signature: 's', destination: DBUS,
          body: [`type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER}',member='UnitRemoved'`] });
        const [owner] = await self.call({ path: '/org/freedesktop/DBus', interface: DBUS, member: 'GetNameOwner', signature: 's', destination: DBUS, body: [SYSTEMD] });
        if (typeof owner !== 'string' || !owner) throw new Error('systemd is not on the bus');
        self.owner = owner;
        await self.call({ path: MANAGER_PATH, interface: MANAGER, member: 'Subscribe' });
      })()]);
    } catch (err) {
      self.close();
      throw err;
    } finally {
      clearTimeout(timer);
      failed = undefined;
    }
    self.up = true;
    return self;
  }

  /** A unit's properties as systemd has them now (what `systemctl show` prints): its Unit interface's and its type's. */
  async properties(id: string): Promise<UnitProps> {
    const path = unitPath(id);
    const ifaces = [UNIT, typeInterface(id)].filter((i): i is string => Boolean(i));
    const all = await Promise.all(ifaces.map((i) => this.call({ path, interface: PROPERTIES, member: 'GetAll', signature: 's', body: [i] })));
    return new Map(all.flatMap(([entries]) => [...propsOf(entries)]));
  }

  /** Drop what was pushed for a unit the caller no longer follows. */
  forget(id: string): void {
    this.pushed.delete(id);
  }

  get open(): boolean {
    return !this.ended;
  }

  /** Close the connection (no `closed` event: the caller asked). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.pushed.clear();
    for (const fail of this.waiting) fail(new Error('the bus connection is closed'));
    this.bus.connection.end();
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.close();
    if (this.up) this.events.closed(reason);
  }

  private message(m: Message): void {
    if (m.type !== SIGNAL || this.ended) return;
    const body = m.body ?? [];
    if (m.member === 'NameOwnerChanged' && m.interface === DBUS && m.sender === DBUS && body[0] === SYSTEMD) {
      // systemd re-executed (or left): a new connection of its own, without our subscription.
      if (this.owner && body[2] !== this.owner) this.end('systemd left the bus');
      return;
    }
    if (!this.owner || m.sender !== this.owner) return;
    if (m.member === 'PropertiesChanged' && m.interface === PROPERTIES) {
      const id = unitIdOfPath(m.path ?? '');
      if (id === undefined || !this.follows(id) || typeof body[0] !== 'string') return;
      const props = this.pushed.get(id) ?? new Map<string, string>();
      for (const [k, v] of propsOf(body[1])) props.set(k, v);
      this.pushed.set(id, props);
      // systemd sends a unit's type interface first, then its Unit interface: the state is whole with the latter.
      if (body[0] === UNIT) this.events.change(id, new Map(props));
    } else if (m.member === 'UnitRemoved' && m.interface === MANAGER && m.path === MANAGER_PATH && typeof body[0] === 'string') {
      const id = body[0];
      this.pushed.delete(id);
      if (this.follows(id)) this.events.removed(id);
    }
  }

  /** One method call to systemd (or, with a destination, to the bus) and its reply's body. */
  private call(msg: { path: string; interface: string; member: string; signature?: string; body?: unknown[]; destination?: string }): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      if (this.ended) return reject(new Error('the bus connection is closed'));
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.waiting.delete(fail);
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`${msg.member}: no answer in ${CALL_TIMEOUT_MS / 1000} s`)), CALL_TIMEOUT_MS);
      timer.unref();
      this.waiting.add(fail);
      this.bus.invoke({ destination: SYSTEMD, ...msg }, (err: unknown, ...body: unknown[]) => {
        if (!this.waiting.has(fail)) return;
        clearTimeout(timer);
        this.waiting.delete(fail);
        if (err) reject(busError(err));
        else resolve(body);
      });
    });
  }
}
