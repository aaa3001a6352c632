/** What pcloud uses of @homebridge/dbus-native beyond its own declarations (systemd-bus.ts). */
import type { MessageBus } from '@homebridge/dbus-native';

declare module '@homebridge/dbus-native' {
  /** One D-Bus message as the library reads it (type 1 call, 2 return, 3 error, 4 signal); a variant is [signature tree, [value]]. */
  interface Message {
    type: number;
    serial: number;
    path?: string;
    interface?: string;
    member?: string;
    sender?: string;
    destination?: string;
    signature?: string;
    body?: unknown[];
  }
  interface BusConnection {
    /** Close the connection (its stream's end). */
    end(): void;
  }
  /** A client on a bus: `socket` is its UNIX socket's path; `direct` skips Hello (a peer, not a bus). */
  function createClient(opts: { socket?: string; busAddress?: string; direct?: boolean }): MessageBus;
}
