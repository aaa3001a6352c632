/**
 * Per-request functions' runtime processes, outside any sandbox (systemd-socket-activate hands them their socket as the
 * unit managers do; functions.ts' units run them sandboxed): the front (src/runtime/front.py) relaying each request to
 * a process started one request ahead, bounding requests at once and leaving when idle; and the Python shim's forking
 * parent (python_shim.py --prefork): a child per request with the module state as loaded and the function's memory, a
 * timed out child ended without holding back the others, and nothing left after idle; the Node shim per request.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonCommand } from '../../src/host/function-runtime.js';
import { projectRoot } from '../../src/paths.js';
import { FAST_TIER } from '../support/tier.js';
import { waitFor } from '../support/wait.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-per-request-'));
const started: ChildProcess[] = [];
afterAll(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

/** `argv` listening on `listen` as a socket unit's service (Accept=no): the socket its fd 3. */
function activated(listen: string, argv: string[]): { proc: ChildProcess; exited: Promise<number | null> } {
  const proc = spawn('systemd-socket-activate', ['-l', listen, '--', ...argv], { stdio: ['ignore', 'ignore', 'inherit'] });
  started.push(proc);
  return { proc, exited: new Promise((r) => proc.on('exit', (code) => r(code))) };
}

/** One line sent on a new connection, and everything answered until the connection ends. */
function ask(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(path, () => s.write(`${line}\n`));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

describe.skipIf(FAST_TIER)('the front of a per-request function (front.py)', () => {
  it('relays each request to a process started one request ahead, at most --concurrency at once, and leaves when idle', async () => {
    // A stand-in runtime socket: each connection is a "process" that answers the line it gets, when let go.
    const conns: { socket: Socket; got: string; ended: boolean }[] = [];
    const held: (() => void)[] = [];
    let hold = false;
    const runtime = createServer((socket) => {
      const c = { socket, got: '', ended: false };
      conns.push(c);
      socket.on('data', (d: Buffer) => {
        c.got += d.toString();
        const answer = () => socket.end(`answered ${c.got.trim()} on connection ${conns.indexOf(c) + 1}`);
        if (hold) held.push(answer);
        else answer();
      });
      socket.on('end', () => { c.ended = true; });
    });
    const runtimePath = join(base, 'runtime.sock');
    await new Promise<void>((r) => runtime.listen(runtimePath, r));
    const front = join(base, 'front.sock');
    const { exited } = activated(front, [pythonCommand(), '-I', '-S', join(projectRoot(), 'src/runtime/front.py'), `--workers=${runtimePath}`,
      '--concurrency=2', '--idle=1', '--timeout=30']);
    try {
      await waitFor('the front listening', async () => ask(front, 'first').then(() => true, () => false));
      // The first request went to the connection the front made when it started, and the next was made once it ended.
      await waitFor('the next connection made ahead', async () => conns.length === 2);
      expect(conns.map((c) => c.got.trim())).toEqual(['first', '']);
      expect(await ask(front, 'second')).toBe('answered second on connection 2');
      await waitFor('the next connection made ahead', async () => conns.length === 3);
      expect(conns.map((c) => c.got.trim())).toEqual(['first', 'second', '']);
      // Three at once with two slots: two reach a runtime, the third waits for a slot.
      hold = true;
      const answers = Promise.all(['a', 'b', 'c'].map((l) => ask(front, l)));
      await waitFor('two requests relayed', async () => held.length === 2);
      await new Promise((r) => setTimeout(r, 300));
      expect(held).toHaveLength(2);
      hold = false;
      for (const a of held.splice(0)) a();
      expect((await answers).map((a) => a.replace(/ on connection \d+$/, ''))).toEqual(['answered a', 'answered b', 'answered c']);
      // Idle for 1 s: the connection made ahead is closed unused, and the front exits 133 (its socket takes the next).
      expect(await exited).toBe(133);
      const last = conns.at(-1)!;
      await waitFor('the process ahead told to go', async () => last.ended);
      expect(last.got).toBe('');
    } finally {
      runtime.close();
    }
  }, 30_000);
});

/** One invoke over a function socket, as pcloud sends it. */
function invoke(path: string, event: unknown): Promise<{ status: number; body: string }> {
  const payload = Buffer.from(JSON.stringify(event));
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, method: 'POST', path: '/invoke', agent: false, headers: { 'content-length': payload.length, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe.skipIf(FAST_TIER)("the Python shim's forking parent (--prefork)", () => {
  it('serves every request in a child of its own with the module as loaded and its own memory limit, ends a timed out one alone, and leaves when idle', async () => {
    const code = join(base, 'code');
    mkdirSync(code);
    writeFileSync(join(code, 'app.py'), [
      'import os, time',
      'count = 0',
      'loaded_by = os.getpid()',
      'def handler(event, context):',
      '    global count',
      '    count += 1',
      '    if event.get("mb"):',
      '        bytearray(event["mb"] * 2 ** 20)',
      '    if event.get("sleep"):',
      '        time.sleep(event["sleep"])',
      '    return {"count": count, "forked": os.getpid() != loaded_by}',
      '',
    ].join('\n'));
    const listen = join(base, 'py.sock');
    const { exited } = activated(listen, [pythonCommand(), join(projectRoot(), 'src/runtime/python_shim.py'), '--runtime=python3.12', `--code=${code}`,
      '--handler=app.handler', '--prefork', '--concurrency=2', '--idle=1', '--timeout=1', '--memory=64']);
    await waitFor('the function listening', async () => invoke(listen, {}).then(() => true, () => false));
    for (let i = 0; i < 3; i++) expect(JSON.parse((await invoke(listen, { i })).body)).toEqual({ count: 1, forked: true });
    // One past its timeout, one beside it: the slow one is answered as timed out, the other as usual.
    const [slow, fast] = await Promise.all([invoke(listen, { sleep: 5 }), invoke(listen, {})]);
    expect((JSON.parse(slow.body) as { errorMessage: string }).errorMessage).toMatch(/Task timed out after 1\.00 seconds/);
    expect(JSON.parse(fast.body)).toEqual({ count: 1, forked: true });
    expect(JSON.parse((await invoke(listen, {})).body)).toEqual({ count: 1, forked: true });
    // Each child's memory is the function's: 32 MiB is fine at 64, 256 MiB is the handler's MemoryError.
    expect(JSON.parse((await invoke(listen, { mb: 32 })).body)).toEqual({ count: 1, forked: true });
    expect(JSON.parse((await invoke(listen, { mb: 256 })).body)).toMatchObject({ errorType: 'MemoryError' });
    expect(await exited).toBe(133);
  }, 30_000);
});

describe.skipIf(FAST_TIER)('the Node shim per request (--accept)', () => {
  it("runs an Event's handler to its end after answering 202, then exits", async () => {
    const code = join(base, 'node-code');
    mkdirSync(code);
    writeFileSync(join(code, 'index.mjs'), "export const handler = async (e) => { await new Promise((r) => setTimeout(r, 200)); console.log('handled', e.n); return 1; };\n");
    const listen = join(base, 'node.sock');
    const proc = spawn('systemd-socket-activate', ['-l', listen, '--accept', '--', process.execPath, join(projectRoot(), 'dist/src/runtime/shim.js'),
      '--runtime=nodejs20.x', `--code=${code}`, '--handler=index.handler', '--accept'], { stdio: ['ignore', 'pipe', 'ignore'] });
    started.push(proc);
    let out = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const event = (n: number) => new Promise<number>((resolve, reject) => {
      const payload = JSON.stringify({ n });
      const req = request({ socketPath: listen, method: 'POST', path: '/invoke', agent: false,
        headers: { 'content-length': payload.length, 'x-amz-invocation-type': 'Event', 'x-pcloud-request-id': `event-${n}`, connection: 'close' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(payload);
    });
    await waitFor('the function listening', async () => event(1).then(() => true, () => false));
    expect(await event(2)).toBe(202);
    // Each invoke's process ran its handler to the end (its END line) after its 202.
    await waitFor('both events handled', async () => out.includes('END RequestId: event-1') && out.includes('END RequestId: event-2'), 10_000);
    expect(out).toMatch(/INFO\thandled 2\n/);
  }, 30_000);
});
