/**
 * sd_notify's sender: datagrams to the socket a service manager names in NOTIFY_SOCKET (systemd's Type=notify, or
 * pcloud's own unit supervisor). Used by instance units' main processes (container-ready.ts, vm-ready.ts) and by
 * `pcloud serve` itself under systemd (READY=1 once it serves, STOPPING=1 when it stops).
 */
import unixDgram from 'unix-dgram';

/** A function that sends sd_notify messages to `target` (NOTIFY_SOCKET; `@name` is abstract), or to nobody without one. */
export function notifier(target: string | undefined): (msg: string) => void {
  if (!target) return () => undefined;
  const path = target.startsWith('@') ? `\0${target.slice(1)}` : target;
  const sock = unixDgram.createSocket('unix_dgram');
  sock.on('error', () => undefined);
  return (msg) => {
    const buf = Buffer.from(msg);
    sock.send(buf, 0, buf.length, path);
  };
}
