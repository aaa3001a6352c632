/**
 * vm-ready.js, the main process of a microvm's unit, run for real around a stand-in for QEMU: the guest's lines on its
 * readiness port (here: a connection to the socket QEMU would connect) become READY=1 and the boot's STATUS=.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import unixDgram from 'unix-dgram';
import { projectRoot } from '../../src/paths.js';
import { FAST_TIER } from '../support/tier.js';
import { waitFor } from '../support/wait.js';

describe.skipIf(FAST_TIER)('vm-ready.js: the guest protocol on the readiness port', () => {
  let dir = '';
  let proc: ChildProcess | undefined;
  let manager: ReturnType<typeof unixDgram.createSocket> | undefined;
  let guest: Socket | undefined;
  afterEach(async () => {
    guest?.destroy();
    // SIGTERM, which it passes on to its "QEMU" (a SIGKILL alone would leave that one running, orphaned).
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    proc?.kill('SIGKILL');
    manager?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<{ got: string[]; write: (s: string) => Promise<void> }> {
    dir = mkdtempSync(join(tmpdir(), 'pcloud-vmready-'));
    const got: string[] = [];
    manager = unixDgram.createSocket('unix_dgram', (m: Buffer) => got.push(m.toString().replace(/\nMAINPID=[0-9]+$/, '')));
    manager.bind(join(dir, 'manager.sock'));
    const ready = join(dir, 'ready.sock');
    proc = spawn(process.execPath, [join(projectRoot(), 'dist/src/host/vm-ready.js'), ready, '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'], {
      env: { PATH: process.env.PATH, NOTIFY_SOCKET: join(dir, 'manager.sock') }, stdio: 'ignore',
    });
    await waitFor('starting', () => got.includes('STATUS=starting'));
    guest = await waitFor('the readiness socket', () => new Promise<Socket | undefined>((resolve) => {
      const s = connect(ready, () => resolve(s));
      s.on('error', () => resolve(undefined));
    }));
    const g = guest;
    return { got, write: (s) => new Promise((r) => g.write(s, () => r())) };
  }

  it('READY=1 with X_PCLOUD_BOOT=initializing: running; then ok; later words change nothing', async () => {
    const { got, write } = await start();
    await write('X_PCLOUD_BOOT=bogus\nMAINPID=1\nREADY=0\n');
    await write('READY=1\nX_PCLOUD_BOOT=initializing\n');
    await waitFor('running', () => got.includes('READY=1\nSTATUS=running'));
    await write('X_PCLOUD_BO');
    await write('OT=impaired\n');
    await waitFor('impaired', () => got.includes('STATUS=impaired'));
    await write('X_PCLOUD_BOOT=ok\n');
    await write(`${'A'.repeat(10_000)}\nREADY=1\n`);
    // What it read before it ends (SIGTERM, passed on to "QEMU") is what it acted on.
    const exited = new Promise((r) => proc!.on('exit', r));
    proc!.kill('SIGTERM');
    await exited;
    expect(got).toEqual(['STATUS=starting', 'READY=1\nSTATUS=running', 'STATUS=impaired']);
  });

  it('READY=1 alone (an image from before the protocol): running and ok at once', async () => {
    const { got, write } = await start();
    await write('READY=1\n');
    await waitFor('ok', () => got.includes('READY=1\nSTATUS=ok'));
  });
});
