/**
 * container-ready.js, the main process of a container's unit, run for real around a fake nspawn (a process that sends
 * what nspawn sends on NOTIFY_SOCKET): what it tells the unit manager, the guest's socket, signals and exit status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import unixDgram from 'unix-dgram';
import { parseArgs, parseNspawn } from '../../src/host/container-ready.js';
import { projectRoot } from '../../src/paths.js';
import { FAST_TIER } from '../support/tier.js';
import { waitFor } from '../support/wait.js';

const ROOT = projectRoot();

describe('container-ready arguments and nspawn\'s messages', () => {
  it('takes --notify, an optional --guest, then the command', () => {
    expect(parseArgs(['--notify', '/n', '--', 'nspawn', '-b'])).toEqual({ notify: '/n', guest: undefined, command: ['nspawn', '-b'] });
    expect(parseArgs(['--notify', '/n', '--guest', '/g', '--', 'x'])).toEqual({ notify: '/n', guest: '/g', command: ['x'] });
    for (const bad of [[], ['--notify', '/n'], ['--notify', '/n', '--'], ['--guest', '/g', '--', 'x'], ['--other', '/o', '--', 'x'], ['--notify']]) {
      expect(parseArgs(bad), bad.join(' ')).toBeUndefined();
    }
  });

  it('passes on only nspawn\'s leader pid (digits) and reads its READY=1', () => {
    expect(parseNspawn(Buffer.from('STATUS=Container running.\nX_NSPAWN_LEADER_PID=4242'))).toEqual({ ready: false, leader: '4242' });
    expect(parseNspawn(Buffer.from('READY=1'))).toEqual({ ready: true });
    expect(parseNspawn(Buffer.from('X_NSPAWN_LEADER_PID=1;x'))).toEqual({ ready: false });
    expect(parseNspawn(Buffer.from('X_NSPAWN_LEADER_PID=0'))).toEqual({ ready: false });
  });
});

describe.skipIf(FAST_TIER)('container-ready.js around a fake nspawn', () => {
  let dir = '';
  let wrapper: ChildProcess | undefined;
  let manager: ReturnType<typeof unixDgram.createSocket> | undefined;
  afterEach(() => {
    wrapper?.kill('SIGKILL');
    manager?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The wrapper run as a unit manager runs it, with the messages the manager gets. */
  function start(guest: boolean, exitStatus: number) {
    dir = mkdtempSync(join(tmpdir(), 'pcloud-ready-'));
    const got: string[] = [];
    manager = unixDgram.createSocket('unix_dgram', (m: Buffer) => got.push(m.toString()));
    manager.bind(join(dir, 'manager.sock'));
    const socks = { notify: join(dir, 'run/guest/i-1.nspawn'), guest: join(dir, 'run/guest/i-1.guest') };
    const args = [join(ROOT, 'dist/src/host/container-ready.js'), '--notify', socks.notify, ...(guest ? ['--guest', socks.guest] : []),
      '--', process.execPath, join(ROOT, 'test/support/fake-nspawn.mjs'), String(exitStatus)];
    let out = '';
    const proc = spawn(process.execPath, args, { env: { PATH: process.env.PATH, NOTIFY_SOCKET: join(dir, 'manager.sock') }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    wrapper = proc;
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    return { got, socks, proc, exited, out: () => out };
  }

  function sendTo(path: string, text: string | Buffer): void {
    const s = unixDgram.createSocket('unix_dgram');
    const b = Buffer.isBuffer(text) ? text : Buffer.from(text);
    s.send(b, 0, b.length, path);
    s.close();
  }

  it('an image without the protocol: ready on its init\'s READY (status ok), the leader passed on; SIGTERM to nspawn, its exit status (reboot: 133) its own', async () => {
    const w = start(false, 133);
    await waitFor('nspawn up', () => w.out().includes('fake-nspawn: up'));
    await waitFor('leader passed on', () => w.got.some((m) => m.startsWith('X_NSPAWN_LEADER_PID=')));
    expect(existsSync(w.socks.guest)).toBe(false);
    expect(w.got).toEqual(['STATUS=starting', expect.stringMatching(/^X_NSPAWN_LEADER_PID=[0-9]+$/)]);
    const nspawnPid = Number(w.got[1]!.split('=')[1]);
    process.kill(nspawnPid, 'SIGUSR1');
    await waitFor('ready', () => w.got.includes('READY=1\nSTATUS=ok'));
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(133);
    expect(w.out()).toContain('fake-nspawn: SIGTERM');
    expect(existsSync(w.socks.notify)).toBe(false);
  });

  it('an image with it: the guest\'s socket is made (0666); its READY=1 makes the unit ready (running), its word ok; hostile messages change nothing', async () => {
    const w = start(true, 0);
    await waitFor('leader passed on', () => w.got.some((m) => m.startsWith('X_NSPAWN_LEADER_PID=')));
    expect(statSync(w.socks.guest).mode & 0o777).toBe(0o666);
    // Its directory is root's only: the guest reaches the socket through nspawn's bind mount, nobody else at all.
    expect(statSync(dirname(w.socks.guest)).mode & 0o777).toBe(0o700);
    for (const bad of ['MAINPID=1', 'READY=0', 'STATUS=ok', 'X_PCLOUD_BOOT=ok;x', 'X_NSPAWN_LEADER_PID=1', Buffer.alloc(70_000, 'READY=1\n')]) {
      sendTo(w.socks.guest, bad);
    }
    sendTo(w.socks.guest, 'READY=1\nX_PCLOUD_BOOT=initializing\n');
    await waitFor('running', () => w.got.includes('READY=1\nSTATUS=running'));
    sendTo(w.socks.guest, 'X_PCLOUD_BOOT=ok\n');
    await waitFor('ok', () => w.got.includes('STATUS=ok'));
    // The container's init ready later changes nothing.
    process.kill(Number(w.got[1]!.split('=')[1]), 'SIGUSR1');
    sendTo(w.socks.guest, 'X_PCLOUD_BOOT=impaired\n');
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.got.slice(1).filter((m) => !m.startsWith('X_NSPAWN'))).toEqual(['READY=1\nSTATUS=running', 'STATUS=ok']);
    expect(existsSync(w.socks.guest)).toBe(false);
  });
});
