/**
 * What nginx tells pcloud of the invocations it serves itself (Invoke through it, function URLs: pcloud's API never
 * sees those requests). nginx/pcloud.conf logs every request that reached a function's socket, one syslog datagram
 * per request, to a UNIX datagram socket pcloud binds in nginx's directory (only root may write to it):
 *
 *   <PRI>TIMESTAMP pcloud_invocation: ACCOUNT/NAME/MODE STATUS UPSTREAM_TIME COLD
 *
 * ACCOUNT/NAME/MODE is pcloud's own (written into the route, or answered by its authorizer); STATUS and
 * UPSTREAM_TIME (the socket's answer time, `-` when no socket was reached: refused, throttled) are nginx's; COLD is
 * the runtime's X-Pcloud-Cold-Start header as it gave it (`-` when none), last on the line and compared whole.
 * Anything that does not read exactly so is dropped.
 */
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import unixDgram from 'unix-dgram';
import { log } from '../log.js';
import { socketPath } from './sockets.js';

export interface NginxInvocation {
  accountId: string;
  name: string;
  mode: 'per-request' | 'warm';
  status: number;
  seconds: number;
  coldStart: boolean;
}

/**
 * Where nginx sends its lines: beside its configuration; a short stand-in where that path is too long for a socket, or
 * holds a character nginx's `syslog:` parameter would split on (a comma).
 */
export const invocationLogPath = (prefix: string): string => socketPath(join(prefix, 'invocations.sock'), true);

const TAG = 'pcloud_invocation: ';
const LINE = /^(\d{12})\/([A-Za-z0-9_-]{1,64})\/(per-request|warm) ([1-5]\d\d) ((?:[\d.]+|-)(?:(?:, | : )(?:[\d.]+|-))*) (.*)$/s;
/** The longest answer counted as a time (Lambda's longest timeout is 15 minutes; a console's socket stays open a day). */
const MAX_SECONDS = 86_400;

/** One datagram as nginx sends it: the invocation it reports, or undefined for anything else. */
export function parseInvocationLine(datagram: string): NginxInvocation | undefined {
  const at = datagram.indexOf(TAG);
  if (at < 0 || datagram.length > 4096) return undefined;
  const m = LINE.exec(datagram.slice(at + TAG.length).replace(/\n$/, ''));
  if (!m) return undefined;
  // The socket's answer time: the last attempt's (nginx lists one per upstream it tried); none: nothing was reached.
  const times = m[5]!.split(/, | : /).filter((t) => /^\d+(\.\d+)?$/.test(t));
  if (!times.length) return undefined;
  const seconds = Number(times[times.length - 1]);
  if (!Number.isFinite(seconds) || seconds > MAX_SECONDS) return undefined;
  return { accountId: m[1]!, name: m[2]!, mode: m[3] as NginxInvocation['mode'], status: Number(m[4]), seconds, coldStart: m[6] === '1' };
}

/** The socket nginx reports to, bound (an old one removed first) until close(). */
export class InvocationLog {
  private readonly socket = unixDgram.createSocket('unix_dgram');

  private constructor(private readonly path: string) {}

  static open(path: string, onInvocation: (i: NginxInvocation) => void): InvocationLog {
    rmSync(path, { force: true });
    const l = new InvocationLog(path);
    l.socket.on('message', (msg: Buffer) => {
      const i = parseInvocationLine(msg.toString('utf8'));
      if (i) onInvocation(i);
    });
    l.socket.on('error', (err: Error) => log.warn(`invocation log ${path}: ${err.message}`));
    l.socket.bind(path);
    try {
      // root's only: nobody else reports invocations.
      chmodSync(path, 0o600);
    } catch (err) {
      log.warn(`invocation log ${path}: not bound (${(err as Error).message}): invocations through nginx go uncounted`);
    }
    return l;
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // closed already
    }
    rmSync(this.path, { force: true });
  }
}
