/**
 * The one runner for host commands. Every program pcloud runs on the host goes through here, so that each
 * command is logged (PCLOUD_LOG=debug) and tests can record what a driver did.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { execa } from 'execa';
import { log } from '../log.js';

export interface CommandRecord {
  file: string;
  args: readonly string[];
  exitCode: number | undefined;
  ms: number;
  detached?: boolean;
}

export interface RunOptions {
  input?: string | Buffer;
  cwd?: string;
  env?: Record<string, string>;
  /** Resolve with the failure instead of throwing. */
  reject?: boolean;
  timeoutMs?: number;
  /** Ends the command (SIGTERM) when it aborts: it fails as any other failure does. */
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  failed: boolean;
}

export class CommandError extends Error {
  constructor(
    readonly file: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(`${file} ${args.join(' ')} failed (exit ${exitCode ?? '?'}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

type Recorder = (rec: CommandRecord) => void;
const recorders = new Set<Recorder>();

/** Record every host command until the returned function is called (tests). */
export function recordCommands(into: CommandRecord[]): () => void {
  const fn: Recorder = (r) => into.push(r);
  recorders.add(fn);
  return () => recorders.delete(fn);
}

function record(rec: CommandRecord): void {
  log.debug(`$ ${rec.file} ${rec.args.join(' ')}`, { exit: rec.exitCode, ms: rec.ms, detached: rec.detached });
  for (const r of recorders) r(rec);
}

export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const res = await execa(file, args, {
    input: opts.input,
    cwd: opts.cwd,
    env: opts.env,
    reject: false,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    stripFinalNewline: true,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
  });
  const exitCode = res.exitCode ?? (res.failed ? -1 : 0);
  record({ file, args, exitCode, ms: Math.round(performance.now() - started) });
  const out: RunResult = { stdout: String(res.stdout ?? ''), stderr: String(res.stderr ?? ''), exitCode, failed: res.failed };
  if (res.failed && opts.reject !== false) {
    throw new CommandError(file, args, res.exitCode, out.stderr || String(res.message ?? ''));
  }
  return out;
}

/**
 * Run a short command on open files of this process, given to it as its fds 3, 4, ... (flock(1) locking a file this
 * process keeps open). Resolves with how it ended; never throws for a non-zero exit.
 */
export function runOnFds(file: string, args: readonly string[], fds: readonly number[]): Promise<RunResult> {
  const started = performance.now();
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe', ...fds] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => {
    let settled = false;
    const done = (exitCode: number) => {
      if (settled) return;
      settled = true;
      record({ file, args, exitCode, ms: Math.round(performance.now() - started) });
      resolve({ stdout: stdout.trim(), stderr: stderr.trim(), exitCode, failed: exitCode !== 0 });
    };
    child.on('error', (err) => { stderr = err.message; done(-1); });
    child.on('close', (code) => done(code ?? -1));
  });
}

/** Run and return stdout; throws CommandError on failure. */
export async function output(file: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return (await run(file, args, opts)).stdout;
}

/** Where Debian's packages put programs (and an operator's own, /usr/local): every program pcloud runs is in one. */
const BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Where an installed program is (an executable file of that name in those dirs), or undefined. No shell: the name is
 * a file name, refused if it is anything else.
 */
export async function which(program: string): Promise<string | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(program)) throw new Error('not a program name');
  for (const dir of BIN_DIRS) {
    const file = join(dir, program);
    const found = await stat(file).then((s) => s.isFile(), () => false) && await access(file, constants.X_OK).then(() => true, () => false);
    if (found) return file;
  }
  return undefined;
}

/**
 * Start a long-lived process detached from this one (its own session, no pipes back to us), so that it survives
 * the server's exit. Returns its pid.
 */
export function spawnDetached(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; stdoutFd?: number } = {},
): number {
  const started = performance.now();
  const out = opts.stdoutFd ?? 'ignore';
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  child.on('error', () => undefined);
  child.unref();
  record({ file, args, exitCode: undefined, ms: Math.round(performance.now() - started), detached: true });
  if (child.pid === undefined) throw new CommandError(file, args, undefined, 'spawn failed');
  return child.pid;
}

/**
 * Run a Node helper (through `file`, e.g. `ip netns exec NS node helper.js`) that sends back a listening socket over
 * the IPC channel (listen-child.ts), and resolve with it.
 */
export function receiveServer(file: string, args: readonly string[], timeoutMs = 10_000): Promise<Server> {
  const started = performance.now();
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-2000); });
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: Error, server?: Server) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      record({ file, args, exitCode: err ? -1 : 0, ms: Math.round(performance.now() - started) });
      if (err) { child.kill(); reject(err); } else resolve(server!);
    };
    const timer = setTimeout(() => done(new CommandError(file, args, undefined, `no socket after ${timeoutMs} ms ${stderr}`)), timeoutMs);
    child.on('message', (msg: { error?: string }, handle: unknown) => {
      if (msg.error || !handle) done(new CommandError(file, args, undefined, msg.error ?? 'no socket sent'));
      else done(undefined, handle as Server);
    });
    child.on('exit', (code) => { if (code) done(new CommandError(file, args, code ?? undefined, stderr)); });
    child.on('error', (err) => done(err));
  });
}

/** Run a command and hand each line of its stdout and stderr to onLine as it comes (long steps with progress). */
export async function runLines(file: string, args: readonly string[], onLine: (line: string) => void): Promise<void> {
  const started = performance.now();
  const child = execa(file, args, { reject: false, stdin: 'ignore', all: true, buffer: false });
  let tail = '';
  let rest = '';
  child.all?.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString('utf8');
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) {
      onLine(l);
      tail = (tail + l + '\n').slice(-4000);
    }
  });
  const res = await child;
  if (rest) onLine(rest);
  record({ file, args, exitCode: res.exitCode, ms: Math.round(performance.now() - started) });
  if (res.failed) throw new CommandError(file, args, res.exitCode, tail + rest);
}
