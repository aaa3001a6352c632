/**
 * One server per data dir: `pcloud serve` holds an exclusive flock(2) on DATA/lock for as long as it runs, and a second
 * one is refused. The kernel drops the lock when the process ends however it ends (SIGKILL included), so there is no
 * stale lock to clean up and no pid to check against a reused one. Node has no flock(2): util-linux's flock(1) takes
 * it on this process's open file description (its fd 3), which stays locked while this process keeps the file open
 * (Node opens files close-on-exec: units and other children never inherit it).
 */
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runOnFds } from './exec.js';

export class DataDirInUseError extends Error {}

/** Data dirs this process holds, by resolved path. */
const held = new Map<string, FileHandle>();

const lockFile = (dataDir: string) => join(dataDir, 'lock');

/** flock(1) on our open file `fd` (its fd 3): true when taken, false when another process holds it. */
async function flock(fd: number): Promise<boolean> {
  const res = await runOnFds('flock', ['--nonblock', '--exclusive', '--conflict-exit-code', '75', '3'], [fd]);
  if (res.exitCode === 0) return true;
  if (res.exitCode === 75) return false;
  throw new Error(`cannot lock the data dir (flock from util-linux): ${res.stderr || `exit ${res.exitCode}`}`);
}

/**
 * Take the data dir for this process (`what` says what for, in the message a second one gets), or refuse with
 * DataDirInUseError while another process holds it.
 */
export async function lockDataDir(dataDir: string, what: string): Promise<void> {
  const dir = resolve(dataDir);
  if (held.has(dir)) return;
  await mkdir(dir, { recursive: true });
  const fh = await open(lockFile(dir), 'a+', 0o600);
  if (!(await flock(fh.fd))) {
    await fh.close();
    const holder = (await readFile(lockFile(dir), 'utf8').catch(() => '')).trim();
    throw new DataDirInUseError(`data dir ${dir} is in use by another pcloud${holder ? ` (${holder})` : ''}: stop it first, or give this one another --data`);
  }
  await fh.truncate(0);
  await fh.write(`${what}, pid ${process.pid}\n`);
  held.set(dir, fh);
}

/** Whether this process holds the data dir (its unit manager then looks after units whose supervisor died). */
export function holdsDataDir(dataDir: string): boolean {
  return held.has(resolve(dataDir));
}

/** What holds a data dir now (from another process's point of view), or undefined when nothing does. */
export async function dataDirHolder(dataDir: string): Promise<string | undefined> {
  const dir = resolve(dataDir);
  const fh = await open(lockFile(dir), 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    // Taking it and letting go at once (the file closes below) tells whether someone else has it.
    if (await flock(fh.fd)) return undefined;
    return (await readFile(lockFile(dir), 'utf8').catch(() => '')).trim() || 'a pcloud';
  } finally {
    await fh.close();
  }
}

/** Let go of a data dir this process holds (`pcloud down` holds it only while it works); a no-op otherwise. */
export async function releaseDataDir(dataDir: string): Promise<void> {
  const dir = resolve(dataDir);
  const fh = held.get(dir);
  if (!fh) return;
  held.delete(dir);
  await fh.close();
}
