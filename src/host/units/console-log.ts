/**
 * A unit's console under the direct manager (what its processes write to stdout and stderr), kept bounded: tenants
 * write there at will (a container's /dev/console, a handler's prints), and one of them must not fill the host's disk.
 *
 * The supervisor gives the main process the write end of a pipe and copies what comes out of it into console.log,
 * which it moves to console.log.1 (replacing the one before) when it would grow past the bound (1 MiB,
 * PCLOUD_CONSOLE_LOG_BYTES): at most two bounds per unit on disk, the latest output always kept.
 *   - The pipe is a real one (a FIFO unlinked at once), not a socket: `echo > /dev/stdout` works as it did with a file.
 *   - The supervisor holds both of its ends for its whole life: the main process never sees it broken, across its
 *     restarts either. A supervisor that is slow (or stopped) blocks writers once the pipe is full: back-pressure for a
 *     flooding tenant, paid for in its own cgroup's CPU (the supervisor is in it); nothing dies. A supervisor that
 *     dies takes the unit down by design (the manager then kills what is left and starts it again per its policy), so
 *     the SIGPIPE its main process may then get changes nothing. (systemd: stdout goes to a journald stream, which
 *     journald keeps in its fd store across its own restarts, and services ignore SIGPIPE by default.)
 *   - A write that fails (disk full) drops that output, never the unit: the pipe keeps being emptied.
 *   - Each start of the main process gets a blocking write end of its own. A program that makes its stdout
 *     non-blocking (node does) makes it so for the children it shares it with, as with any pipe (and the journal's
 *     socket under systemd): they may see EAGAIN while the pipe is full, which a file never gave.
 *   - Copying costs the supervisor about 1 s of CPU per GB, at 300-500 MB/s on this 2-core host (nspawn's console
 *     forwarding gives ~100 MB/s), and no memory past one 64 KiB buffer; an idle console costs nothing.
 * Under systemd the journal keeps the console instead, within its own limits (SystemMaxUse=, RateLimitBurst=).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Socket, type SocketConstructorOpts } from 'node:net';
import { join } from 'node:path';

export const CONSOLE_LOG = 'console.log';
export const CONSOLE_LOG_OLD = 'console.log.1';
export const DEFAULT_CONSOLE_LOG_BYTES = 1024 * 1024;
const MIN_CONSOLE_LOG_BYTES = 4096;

/** The bound of each of a unit's two console files from PCLOUD_CONSOLE_LOG_BYTES's value: 1 MiB unless set. */
export function consoleLogBytes(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_CONSOLE_LOG_BYTES;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < MIN_CONSOLE_LOG_BYTES) {
    throw new Error(`PCLOUD_CONSOLE_LOG_BYTES=${JSON.stringify(value.slice(0, 40))}: expected a whole number of bytes, at least ${MIN_CONSOLE_LOG_BYTES}`);
  }
  return n;
}

/** console.log in `dir`, moved to console.log.1 whenever it would pass `bound` bytes. Synchronous: one writer. */
export class RotatingLog {
  private fd: number | undefined;
  private size = 0;

  constructor(private readonly dir: string, private readonly bound: number) {
    this.reopen();
  }

  write(data: Buffer): void {
    let rest = data;
    while (rest.length) {
      if (this.size >= this.bound) this.rotate();
      if (this.fd === undefined) this.reopen();
      if (this.fd === undefined) return; // cannot write here at all: the output is lost, the unit is not
      const n = Math.min(rest.length, this.bound - this.size);
      try {
        let done = 0;
        while (done < n) done += writeSync(this.fd, rest, done, n - done);
      } catch {
        // Disk full or gone: drop this output (and count it, so that a file that cannot grow still rotates).
      }
      this.size += n;
      rest = rest.subarray(n);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private rotate(): void {
    try { renameSync(join(this.dir, CONSOLE_LOG), join(this.dir, CONSOLE_LOG_OLD)); } catch { /* gone: start afresh */ }
    this.close();
    this.reopen();
  }

  private reopen(): void {
    try {
      this.fd = openSync(join(this.dir, CONSOLE_LOG), 'a');
      // A console left by the unit's previous run (or by a supervisor before bounds) is appended to, then rotated.
      this.size = fstatSync(this.fd).size;
    } catch {
      this.fd = undefined;
      this.size = 0;
    }
  }
}

/** The supervisor's side of a unit's console: the pipe its main process writes to; what comes out goes to the log. */
export interface UnitConsole {
  /**
   * A write end of the pipe for one start of the main process (its stdout and stderr; close it once given): a file
   * description of its own each time, so that one a main process made non-blocking (node does) is not the next one's.
   */
  writer(): number;
  /** Copy what is still in the pipe to the log (synchronously: the supervisor is about to exit). */
  drain(): void;
}

/** Open the pipe of a unit's console in `dir` and start copying from it into a RotatingLog of `bound` bytes. */
export function openConsole(dir: string, bound: number): UnitConsole {
  const log = new RotatingLog(dir, bound);
  const fifo = join(dir, 'console.pipe');
  try { unlinkSync(fifo); } catch { /* absent */ }
  execFileSync('mkfifo', ['-m', '600', '--', fifo]);
  let fd: number;
  try {
    // Read-write (a FIFO's read-only open would wait for a writer): this end keeps the pipe whole for good.
    fd = openSync(fifo, 'r+');
  } finally {
    unlinkSync(fifo);
  }
  // net makes this end non-blocking and reads it as it fills, into one buffer (no garbage however much comes).
  const buffer = Buffer.alloc(64 * 1024);
  const onread = { buffer, callback: (n: number) => { log.write(buffer.subarray(0, n)); } };
  // (Node's Socket takes onread as net.connect does; its types list it for connect only.)
  const reader = new Socket({ fd, readable: true, writable: false, onread } as SocketConstructorOpts);
  reader.on('error', () => undefined);
  return {
    // The pipe has no name any more: /proc opens it again, in a file description of its own (blocking).
    writer: () => openSync(`/proc/self/fd/${fd}`, 'w'),
    drain() {
      for (;;) {
        let n: number;
        try { n = readSync(fd, buffer, 0, buffer.length, null); } catch { break; } // EAGAIN: empty
        if (n <= 0) break;
        log.write(buffer.subarray(0, n));
      }
    },
  };
}

/**
 * The last `maxBytes` of a unit's console, across console.log.1 and console.log. The supervisor may move the files
 * meanwhile: the older one is opened first and must still be console.log.1 once the newer one is open (else again):
 * then the two follow one another.
 */
export async function readConsoleTail(dir: string, maxBytes: number): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    const older = await open(join(dir, CONSOLE_LOG_OLD), 'r').catch(() => undefined);
    const newer = await open(join(dir, CONSOLE_LOG), 'r').catch(() => undefined);
    try {
      const moved = older ? (await older.stat()).nlink === 0 : await stat(join(dir, CONSOLE_LOG_OLD)).then(() => true, () => false);
      if (moved && attempt < 5) continue;
      // Still moving (a flood, a small bound): the newer file alone, shorter but never two that do not follow.
      const tail = newer ? await readTail(newer, maxBytes) : Buffer.alloc(0);
      const head = older && !moved && tail.length < maxBytes ? await readTail(older, maxBytes - tail.length) : Buffer.alloc(0);
      return Buffer.concat([head, tail]);
    } finally {
      await older?.close();
      await newer?.close();
    }
  }
}

async function readTail(fh: FileHandle, maxBytes: number): Promise<Buffer> {
  const size = (await fh.stat()).size;
  const len = Math.min(size, maxBytes);
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, size - len);
  return buf.subarray(0, bytesRead);
}

/** The command that prints a unit's console (console.log.1, then console.log) and with follow keeps following it. */
export function consoleCommand(dir: string, follow: boolean): string[] {
  // The paths go as arguments of a fixed script: nothing of them is read as shell. tail -F follows console.log by
  // name, to the new file each time it is moved (and waits for it while there is none).
  const script = follow ? 'if [ -e "$1" ]; then cat -- "$1"; fi; exec tail -n +1 -F -- "$2"' : 'for f do if [ -e "$f" ]; then cat -- "$f"; fi; done';
  return ['sh', '-c', script, 'sh', join(dir, CONSOLE_LOG_OLD), join(dir, CONSOLE_LOG)];
}
