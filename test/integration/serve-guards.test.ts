/**
 * Real servers sharing a host: a second `pcloud serve` on a running server's data dir is refused, and so is a server
 * whose function-URL port (PCLOUD_LAMBDA_LISTEN) another server's nginx holds; a server started again on its own data
 * dir keeps the port its own nginx (still running: units outlive the server) holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CLI } from '../support/real.js';
import { BASE, sweepRun } from '../support/runs.js';

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const first = join(BASE, `guards-${stamp}-a`);
const other = join(BASE, `guards-${stamp}-b`);
const lambdaListen = process.env.PCLOUD_LAMBDA_LISTEN ?? '127.0.0.1:18705';
const env = { ...process.env, PCLOUD_LAMBDA_LISTEN: lambdaListen };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `pcloud serve`, resolved once it serves. */
async function serve(dataDir: string): Promise<ChildProcess> {
  mkdirSync(dataDir, { recursive: true });
  const log = openSync(join(dataDir, 'serve.log'), 'a');
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', `127.0.0.1:${await freePort()}`, '--data', dataDir, '--no-image'], {
    env, stdio: ['ignore', 'pipe', log],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('pcloud serving on')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`pcloud serve exited with ${code}; see ${join(dataDir, 'serve.log')}`)));
  });
}

/** `pcloud serve` expected to be refused: its exit status and what it said. */
async function refused(dataDir: string): Promise<{ status: number | null; stderr: string }> {
  const res = spawnSync(process.execPath, [CLI, 'serve', '--listen', `127.0.0.1:${await freePort()}`, '--data', dataDir, '--no-image'], {
    env, encoding: 'utf8', timeout: 120_000,
  });
  return { status: res.status, stderr: res.stderr };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

let server: ChildProcess;
beforeAll(async () => {
  server = await serve(first);
});
afterAll(async () => {
  if (server) await stop(server);
  await sweepRun(first);
  await sweepRun(other);
});

describe('servers sharing a host', () => {
  it('a second server on a running one\'s data dir is refused in one line', async () => {
    const res = await refused(first);
    expect(res.status).toBe(1);
    expect(res.stderr).toBe(`pcloud: data dir ${first} is in use by another pcloud (pcloud serve --listen ${server.spawnargs[4]}, pid ${server.pid}): stop it first, or give this one another --data\n`);
  });

  it('a server whose function-URL port another server\'s nginx holds is refused, naming the port and its setting', async () => {
    const res = await refused(other);
    const [host, port] = [lambdaListen.slice(0, lambdaListen.lastIndexOf(':')), lambdaListen.slice(lambdaListen.lastIndexOf(':') + 1)];
    expect(res.status).toBe(1);
    expect(res.stderr).toBe(`pcloud: port ${port} on ${host} is already in use by another pcloud server (its pcloud-nginx): stop it, or set PCLOUD_LAMBDA_LISTEN to a free port\n`);
  });

  it('a server started again on its own data dir keeps the port its own nginx holds', async () => {
    await stop(server);
    server = await serve(first);
    const res = await fetch(`http://${lambdaListen}/_pcloud_generation`);
    expect(res.status).toBe(200);
  });
});
