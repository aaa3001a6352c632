/**
 * One server per data dir (an flock that dies with its holder), and a busy --listen port: refused by the compiled
 * CLI in one line, exit 1, before it touches the data dir. Run `npm run build` first.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDirHolder, lockDataDir, DataDirInUseError } from '../../src/host/datalock.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/src/cli/main.js');
const base = mkdtempSync(join(tmpdir(), 'pcloud-guards-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function serve(args: string[]) {
  const res = spawnSync(process.execPath, [CLI, 'serve', '--no-image', ...args], {
    env: { ...process.env, PCLOUD_LAMBDA_LISTEN: '127.0.0.1:18705' }, encoding: 'utf8', timeout: 60_000,
  });
  return { status: res.status, stderr: res.stderr };
}

/** Another process holding a data dir, as a running server does: resolves once it holds it. */
function holder(dir: string): Promise<ReturnType<typeof spawn>> {
  const code = `import(${JSON.stringify(join(ROOT, 'dist/src/host/datalock.js'))}).then(async (m) => {
    await m.lockDataDir(${JSON.stringify(dir)}, 'test holder'); process.stdout.write('held\\n'); setInterval(() => {}, 1000); })`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('held')) resolve(child); });
    child.on('exit', (c) => reject(new Error(`holder exited ${c}`)));
  });
}

describe('the data dir lock', () => {
  it('refuses a second holder while the first lives, and is free again once it is killed (no stale lock)', async () => {
    const dir = join(base, 'd1');
    const child = await holder(dir);
    expect(await dataDirHolder(dir)).toMatch(/^test holder, pid \d+$/);
    const err = await lockDataDir(dir, 'me').then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(DataDirInUseError);
    expect(err?.message).toBe(`data dir ${dir} is in use by another pcloud (test holder, pid ${child.pid}): stop it first, or give this one another --data`);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await dataDirHolder(dir)).toBeUndefined();
    await lockDataDir(dir, 'me');
    expect(await dataDirHolder(join(base, 'd1'))).toBe(`me, pid ${process.pid}`);
  });
});

describe('pcloud serve', () => {
  it('on a data dir another pcloud holds: one line, exit 1, nothing touched', async () => {
    const dir = join(base, 'd2');
    const child = await holder(dir);
    try {
      const res = serve(['--data', dir, '--listen', '127.0.0.1:0']);
      expect(res.status).toBe(1);
      expect(res.stderr).toBe(`pcloud: data dir ${dir} is in use by another pcloud (test holder, pid ${child.pid}): stop it first, or give this one another --data\n`);
      expect(readdirSync(dir)).toEqual(['lock']);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('on a busy --listen port: one line, exit 1, nothing touched', async () => {
    const dir = join(base, 'd3');
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = (held.address() as { port: number }).port;
    try {
      const res = serve(['--data', dir, '--listen', `127.0.0.1:${port}`]);
      expect(res.status).toBe(1);
      expect(res.stderr).toBe(`pcloud: port ${port} on 127.0.0.1 is already in use by another program: stop it, or set --listen (PCLOUD_LISTEN) to a free port\n`);
      expect(existsSync(join(dir, 'pool'))).toBe(false);
    } finally {
      await new Promise((r) => held.close(r));
    }
  });
});
