/**
 * The direct manager running a unit with a socket (real supervisors: `npm run build` first, and systemd-socket-activate):
 * the program per connection in its sandbox as a user of its own (bubblewrap, setpriv, the seccomp program: Debian's
 * bubblewrap, util-linux and python3-seccomp), or with no new privileges; remove() frees the user and its files.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { SANDBOX_UID_FIRST, SANDBOX_UID_LAST } from '../../src/host/sandbox-users.js';
import type { UnitSpec } from '../../src/host/units/types.js';
import { waitFor } from '../support/wait.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-direct-sockets-'));
const uids = join(base, 'uids');
afterAll(() => { rmSync(base, { recursive: true, force: true }); });

/** What the unit's program writes to a connection. */
function askOnce(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(path);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

/**
 * The socket's answer. Its file appears at bind(), a moment before systemd-socket-activate listens on it: a connection
 * refused then is tried again (anything else fails).
 */
function ask(path: string): Promise<string> {
  return waitFor('the socket accepting', () => askOnce(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNREFUSED') return undefined;
    throw err;
  }));
}

const spec = (name: string, extra: Partial<UnitSpec>): UnitSpec => ({
  name, description: 'test', type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5, exec: ['/bin/true'],
  socket: { listen: join(base, `${name}.sock`), accept: true, mode: 0o600 }, ...extra,
});

describe('the direct manager, a unit with a socket', () => {
  it('runs the program per connection in its sandbox as a user of its own, with its environment only; remove() frees the user', async () => {
    const m = new DirectUnitManager(join(base, 'run'), { sandboxUidDir: uids });
    const code = join(base, 'code');
    mkdirSync(code);
    const name = 'pcloud-t-boxed';
    try {
      await m.start(spec(name, {
        exec: ['/bin/sh', '-c', 'id -u >&3; echo "$GREETING|$HOME|$(pwd)" >&3; ls /var/lib /root 2>&3 >&3 || true'],
        env: { GREETING: 'hi there' }, sandbox: { code, readOnly: [], hidden: [] },
      }));
      await waitFor('the socket listening', async () => (await m.status(name))?.state === 'active' && existsSync(join(base, `${name}.sock`)));
      const [uid, env, ...listing] = (await ask(join(base, `${name}.sock`))).split('\n');
      expect(Number(uid)).toBeGreaterThanOrEqual(SANDBOX_UID_FIRST);
      expect(Number(uid)).toBeLessThanOrEqual(SANDBOX_UID_LAST);
      expect(env).toBe('hi there||/var/task');
      // Nothing of the host but what the sandbox binds.
      expect(listing.filter((l) => l.includes('No such file or directory'))).toHaveLength(2);
      expect(readdirSync(uids)).toEqual([uid]);
      expect(existsSync(join(base, 'run/units', name, 'passwd'))).toBe(true);
    } finally {
      await m.remove(name);
      m.close();
    }
    expect(readdirSync(uids)).toEqual([]);
    expect(existsSync(join(base, 'run/units', name))).toBe(false);
  });

  it('runs a program that may not gain privileges, given its environment through the activator', async () => {
    const m = new DirectUnitManager(join(base, 'run'), { sandboxUidDir: uids });
    const name = 'pcloud-t-nnp';
    try {
      await m.start(spec(name, { exec: ['/bin/sh', '-c', 'grep NoNewPrivs /proc/self/status >&3; echo "$GREETING" >&3'], env: { GREETING: 'a b' }, noNewPrivileges: true }));
      await waitFor('the socket listening', async () => (await m.status(name))?.state === 'active' && existsSync(join(base, `${name}.sock`)));
      expect(await ask(join(base, `${name}.sock`))).toBe('NoNewPrivs:\t1\na b\n');
    } finally {
      await m.remove(name);
      m.close();
    }
  });
});
