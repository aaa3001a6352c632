/**
 * A fat lambda's state file: the console proxy (src/runtime/console-proxy.ts) writes how many websockets are open and
 * when the last one was active, beside the function's socket; pcloud reads it to stop an idle VM, and restarts the
 * count when a request opens the console.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';

export interface ConsoleState {
  connections: number;
  lastActive: number;
}

export class FatLambdaState {
  /** The state file of the console function listening on `socket`. */
  fileFor(socket: string): string {
    return socket.replace(/\.sock$/, '.console.json');
  }

  /** What the proxy last wrote; undefined when nothing was written (or it cannot be read as a state). */
  async read(file: string): Promise<ConsoleState | undefined> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { connections, lastActive } = parsed as Record<string, unknown>;
    return typeof connections === 'number' && typeof lastActive === 'number' ? { connections, lastActive } : undefined;
  }

  /** The console was opened at `now`: no connection yet, active from then. */
  async opened(file: string, now: number): Promise<void> {
    await writeFile(file, JSON.stringify({ connections: 0, lastActive: now }));
  }

  async clear(file: string): Promise<void> {
    await rm(file, { force: true });
  }
}
