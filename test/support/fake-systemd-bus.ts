/**
 * A stand-in for the system bus with systemd on it, on a UNIX socket of its own: the bus' own calls (Hello, AddMatch,
 * GetNameOwner), systemd's Subscribe and Properties.GetAll on unit objects answered from `units`, and the signals a
 * test pushes (PropertiesChanged, UnitRemoved, NameOwnerChanged) sent to every client. It speaks the real wire
 * protocol (dbus-native's marshalling), EXTERNAL authentication included, so the client under test is the real one.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wire = require('@homebridge/dbus-native/lib/message.js') as {
  marshall(msg: object): Buffer;
  unmarshalMessages(stream: Socket, onMessage: (m: WireMessage) => void, opts?: object): void;
};

interface WireMessage {
  type: number;
  serial: number;
  path?: string;
  interface?: string;
  member?: string;
  destination?: string;
  signature?: string;
  body?: unknown[];
}

const SYSTEMD_NAME = ':1.1';
/** A property's value: a string, a number (u), a boolean, or a unit's Job as [id, path] ((uo)). */
type Value = string | number | boolean | [number, string];

function variant(v: Value): [string, unknown] {
  if (Array.isArray(v)) return ['(uo)', v];
  return typeof v === 'string' ? ['s', v] : typeof v === 'boolean' ? ['b', v] : ['u', v];
}

export class FakeSystemdBus {
  /** Each unit's properties, by id, as GetAll answers them (the Unit and the type interface alike); others are not found. */
  readonly units = new Map<string, Record<string, Value>>();
  /** Every method call received, as `interface.member path [first argument]`. */
  readonly calls: string[] = [];
  /** The name systemd has on the bus; a test may move it (systemd re-executed). */
  systemdName = SYSTEMD_NAME;
  /** Leave method calls unanswered (a hung systemd). */
  mute = false;
  private readonly clients = new Set<Socket>();
  private readonly server: Server;
  private serial = 1;

  constructor(readonly path: string) {
    this.server = createServer((s) => this.accept(s));
  }

  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(this.path, r));
  }

  /** Stop listening and drop every client (the daemon went away). */
  async stop(): Promise<void> {
    for (const c of this.clients) c.destroy();
    await new Promise((r) => this.server.close(r));
  }

  /** Drop every client but keep listening (the daemon restarted). */
  drop(): void {
    for (const c of this.clients) c.destroy();
  }

  get connected(): number {
    return this.clients.size;
  }

  /** systemd's PropertiesChanged for one of a unit's interfaces, as it sends it. */
  propertiesChanged(unitPath: string, iface: string, props: Record<string, Value>, sender = this.systemdName): void {
    this.signal({ path: unitPath, interface: 'org.freedesktop.DBus.Properties', member: 'PropertiesChanged', signature: 'sa{sv}as', sender,
      body: [iface, Object.entries(props).map(([k, v]) => [k, variant(v)]), []] });
  }

  unitRemoved(id: string, unitPath: string): void {
    this.signal({ path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager', member: 'UnitRemoved', signature: 'so',
      sender: this.systemdName, body: [id, unitPath] });
  }

  /** The bus says org.freedesktop.systemd1 changed hands (systemd re-executed and came back with a new name). */
  ownerChanged(newOwner: string): void {
    const old = this.systemdName;
    this.systemdName = newOwner;
    this.signal({ path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged', signature: 'sss',
      sender: 'org.freedesktop.DBus', body: ['org.freedesktop.systemd1', old, newOwner] });
  }

  private signal(msg: object): void {
    const buf = wire.marshall({ type: 4, serial: this.serial++, ...msg });
    for (const c of this.clients) c.write(buf);
  }

  private accept(socket: Socket): void {
    this.clients.add(socket);
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => socket.destroy());
    // The SASL exchange: a NUL, AUTH EXTERNAL <uid>, then BEGIN; the binary protocol follows at once.
    let text = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      text = Buffer.concat([text, chunk]);
      for (;;) {
        const nl = text.indexOf('\r\n');
        if (nl < 0) return;
        const line = text.subarray(0, nl).toString().replace(/^\0/, '');
        text = text.subarray(nl + 2);
        if (line.startsWith('AUTH EXTERNAL')) {
          socket.write('OK 0123456789abcdef0123456789abcdef\r\n');
        } else if (line.startsWith('AUTH')) {
          socket.write('REJECTED EXTERNAL\r\n');
        } else if (line === 'BEGIN') {
          socket.off('data', onData);
          socket.pause();
          if (text.length) socket.unshift(text);
          wire.unmarshalMessages(socket, (m) => this.answer(socket, m));
          return;
        }
      }
    };
    socket.on('data', onData);
  }

  private reply(socket: Socket, to: WireMessage, signature?: string, body?: unknown[]): void {
    socket.write(wire.marshall({ type: 2, serial: this.serial++, replySerial: to.serial, sender: to.destination, ...(signature ? { signature, body } : {}) }));
  }

  private error(socket: Socket, to: WireMessage, name: string, text: string): void {
    socket.write(wire.marshall({ type: 3, serial: this.serial++, replySerial: to.serial, errorName: name, signature: 's', body: [text] }));
  }

  private answer(socket: Socket, m: WireMessage): void {
    if (m.type !== 1) return;
    const arg = m.body?.[0];
    this.calls.push(`${m.interface}.${m.member} ${m.path}${typeof arg === 'string' ? ` ${arg}` : ''}`);
    if (this.mute) return;
    if (m.destination === 'org.freedesktop.DBus') {
      if (m.member === 'Hello') return this.reply(socket, m, 's', [':1.42']);
      if (m.member === 'AddMatch') return this.reply(socket, m);
      if (m.member === 'GetNameOwner' && arg === 'org.freedesktop.systemd1') return this.reply(socket, m, 's', [this.systemdName]);
      return this.error(socket, m, 'org.freedesktop.DBus.Error.UnknownMethod', `no ${m.member}`);
    }
    if (m.member === 'Subscribe' && m.path === '/org/freedesktop/systemd1') return this.reply(socket, m);
    if (m.member === 'GetAll' && m.interface === 'org.freedesktop.DBus.Properties') {
      const id = [...this.units.keys()].find((u) => unitObjectPath(u) === m.path);
      const props = id ? this.units.get(id)! : { LoadState: 'not-found', ActiveState: 'inactive' };
      return this.reply(socket, m, 'a{sv}', [Object.entries(props).map(([k, v]) => [k, variant(v)])]);
    }
    return this.error(socket, m, 'org.freedesktop.DBus.Error.UnknownMethod', `no ${m.member}`);
  }
}

/** A unit's object path as systemd makes it, written out here on its own (the code under test has its own). */
export function unitObjectPath(id: string): string {
  const label = [...Buffer.from(id)].map((b, i) =>
    /[A-Za-z]/.test(String.fromCharCode(b)) || (i > 0 && /[0-9]/.test(String.fromCharCode(b))) ? String.fromCharCode(b) : `_${b.toString(16).padStart(2, '0')}`).join('');
  return `/org/freedesktop/systemd1/unit/${label || '_'}`;
}
