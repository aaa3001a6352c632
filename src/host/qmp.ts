/**
 * A small QMP (QEMU Machine Protocol) client over a VM's UNIX socket: greeting, capabilities negotiation, then one
 * command at a time. QEMU serves one client per monitor, so callers connect, ask and close.
 */
import { createConnection, type Socket } from 'node:net';

/** Far above any answer pcloud asks for (query-status, a command's empty return). */
const MAX_LINE = 1 << 20;

export interface QmpError extends Error {
  qmpClass?: string;
}

export class Qmp {
  private buf = '';
  private waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    const end = (err?: Error) => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(err ?? new Error('QMP connection closed'));
    };
    sock.on('error', end);
    sock.on('close', () => end());
  }

  /** Connect, read QEMU's greeting and leave capabilities negotiation mode. */
  static async connect(path: string, timeoutMs = 5000): Promise<Qmp> {
    const sock = createConnection(path);
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`QMP ${path}: no answer in ${timeoutMs} ms`)));
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const qmp = new Qmp(sock);
    await qmp.next(); // {"QMP": {...}}
    await qmp.execute('qmp_capabilities');
    return qmp;
  }

  /** One command's `return`, or its `error` thrown. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('QMP connection closed'));
    this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    return this.next().then((msg) => {
      const m = msg as { return?: T; error?: { class: string; desc: string } };
      if (m.error) {
        const err: QmpError = new Error(`QMP ${command}: ${m.error.desc}`);
        err.qmpClass = m.error.class;
        throw err;
      }
      return m.return as T;
    });
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }

  private next(): Promise<unknown> {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private onData(d: string): void {
    this.buf += d;
    if (this.buf.length > MAX_LINE) {
      this.sock.destroy(new Error('QMP: an answer longer than any QEMU sends'));
      return;
    }
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: { event?: string } | null;
      try {
        msg = JSON.parse(line) as { event?: string } | null;
      } catch {
        msg = null;
      }
      // What is not a JSON object ends the connection (QEMU runs guest code: its monitor is answered with care).
      if (typeof msg !== 'object' || msg === null) {
        this.sock.destroy(new Error('QMP: an answer that is not a JSON object'));
        return;
      }
      if (msg.event) continue; // asynchronous events are not answers
      this.waiting.shift()?.resolve(msg);
    }
  }
}

/** Connect, run one command, close. */
export async function qmpCommand<T = unknown>(path: string, command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T> {
  const qmp = await Qmp.connect(path, timeoutMs);
  try {
    return await qmp.execute<T>(command, args);
  } finally {
    qmp.close();
  }
}
