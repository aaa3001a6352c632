/**
 * The access log: one JSON line per API request (calls.ts says what a request's record holds, and what it never
 * holds), to stdout or appended to a file. A file is opened again on reopen() (the server calls it on SIGHUP), so
 * logrotate's usual rename-then-HUP rotates it.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type DestinationStream } from 'pino';
import { log } from '../log.js';
import type { ApiCall } from './calls.js';

export interface AccessLog {
  write(call: ApiCall): void;
  /** Open the file again by its name (after a rotation renamed it); stdout: nothing to do. */
  reopen(): void;
  /** Write out what is buffered (before the process exits). */
  flush(): void;
}

/** The access log on `dest` (stdout, a file, or a test's stream): JSON.stringify's lines (members left out when absent). */
export function accessLogOn(dest: DestinationStream & { reopen?: () => void; flushSync?: () => void }): AccessLog {
  return {
    write(c) {
      dest.write(JSON.stringify({
        time: new Date().toISOString(), requestId: c.requestId, account: c.accountId, principal: c.principalArn, service: c.service,
        action: c.action, status: c.status, errorCode: c.errorCode, ms: Math.round(c.ms * 10) / 10, sourceIp: c.sourceIp,
      }) + '\n');
    },
    reopen: () => dest.reopen?.(),
    flush() {
      try {
        dest.flushSync?.();
      } catch {
        // Not open yet: nothing was written to it.
      }
    },
  };
}

/**
 * `-`: stdout; else the file (made with its directory if missing, mode 0640: it names accounts and addresses),
 * appended to. A file that cannot be opened is refused here, at once; a write that fails later is logged.
 */
export function openAccessLog(target: string): AccessLog {
  if (target !== '-') {
    try {
      mkdirSync(dirname(target), { recursive: true });
      closeSync(openSync(target, 'a', 0o640));
    } catch (err) {
      throw new Error(`cannot write the access log ${target} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): give --access-log a file pcloud can write, - for stdout, or off`);
    }
  }
  const dest = target === '-'
    ? pino.destination({ fd: 1, sync: false })
    : pino.destination({ dest: target, append: true, sync: false, mode: 0o640 });
  dest.on('error', (err: Error) => log.error(`access log ${target === '-' ? '(stdout)' : target}: ${err.message}`));
  return accessLogOn(dest);
}
