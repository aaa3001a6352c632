/**
 * The direct manager's function sandbox for real on this host (bwrap and setpriv, as root; no services): the hostile
 * handler of test/fixtures/hostile run in it reads and writes none of the host, as an unprivileged user of its own,
 * with seccomp and no new privileges; fd 3, the exit status and only the given environment pass through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { passwdFiles, sandboxCommand, TASK_ROOT, type SandboxSpec } from '../../src/host/sandbox.js';
import { seccompProgram } from '../../src/host/sandbox-seccomp.js';

const root = process.getuid?.() === 0;
const bwrap = spawnSync('bwrap', ['--version']).status === 0;
const UID = 61999;
const data = mkdtempSync(join(tmpdir(), 'pcloud-sandbox-'));
const code = join(data, 'functions/123456789012/hostile/rev');
let spec: Omit<SandboxSpec, 'command'>;

beforeAll(async () => {
  if (!root || !bwrap) return;
  mkdirSync(code, { recursive: true });
  copyFileSync(join(import.meta.dirname, '../fixtures/hostile/app.py'), join(code, 'app.py'));
  mkdirSync(join(data, 'functions/123456789012/other/rev'), { recursive: true });
  writeFileSync(join(data, 'functions/123456789012/other/rev/secret.py'), 'KEY = 1');
  writeFileSync(join(data, 'pcloud.db'), 'every account\'s secret keys');
  const files = passwdFiles(UID);
  writeFileSync(join(data, 'passwd'), files.passwd);
  writeFileSync(join(data, 'group'), files.group);
  spec = {
    uid: UID, codeDir: code, readOnly: [], seccomp: await seccompProgram(join(data, 'run')), passwd: join(data, 'passwd'), group: join(data, 'group'),
    env: { PATH: '/usr/bin:/bin', GREETING: 'hi; $(id) `id` "\'\n%' },
  };
});

afterAll(() => rmSync(data, { recursive: true, force: true }));

const sandboxed = (command: string[], extra: Omit<SpawnSyncOptions, 'encoding'> = {}) => {
  const [file, ...args] = sandboxCommand({ ...spec, command });
  return spawnSync(file!, args, { ...extra, encoding: 'utf8' });
};

describe.skipIf(!root || !bwrap)('the direct manager\'s function sandbox (bwrap + setpriv as root)', () => {
  it('a hostile handler reads and writes none of the host, as a user of its own, under seccomp and NoNewPrivs', () => {
    const probe = {
      read: ['/etc/shadow', join(data, 'pcloud.db'), data, join(data, 'functions/123456789012/other/rev/secret.py'), '/root', '/run', '/home', '/var/lib'],
      write: ['/etc', '/root', '/usr', '/usr/local', '/var', '/', data, TASK_ROOT, join(data, 'functions')],
    };
    const res = sandboxed(['/usr/bin/python3', `${TASK_ROOT}/app.py`, JSON.stringify(probe)]);
    expect(res.stderr).toBe('');
    const r = JSON.parse(res.stdout) as {
      uid: number; euid: number; gid: number; groups: number[]; read: Record<string, string>; write: Record<string, string>;
      status: Record<string, string>; mount: string; unshare: string; chroot: string; setuid0: string; ptrace: string; netlink: string; tmp: string;
    };
    expect([r.uid, r.euid, r.gid, r.groups]).toEqual([UID, UID, UID, []]);
    expect(Object.values(r.read)).toEqual(probe.read.map(() => 'denied'));
    expect(Object.values(r.write)).toEqual(probe.write.map(() => 'denied'));
    expect(r.status).toEqual({ NoNewPrivs: '1', Seccomp: '2', CapEff: '0000000000000000', CapPrm: '0000000000000000', CapBnd: '0000000000000000' });
    expect([r.mount, r.unshare, r.chroot, r.setuid0, r.ptrace, r.netlink]).toEqual(['denied', 'denied', 'denied', 'denied', 'denied', 'denied']);
    // Its own /tmp and code work.
    expect(r.tmp).toBe('WROTE');
    expect(sandboxed(['/usr/bin/id', '-un']).stdout.trim()).toBe(`sbx_user${UID}`);
  });

  it('passes the request fd 3 through, the exit status back, and only the environment given (hostile values intact)', () => {
    const res = sandboxed(['/bin/sh', '-c', 'printf "on fd 3" >&3; env -0; exit 133'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    expect(res.status).toBe(133);
    expect(res.output[3]?.toString()).toBe('on fd 3');
    expect(res.stdout.split('\0').filter(Boolean).sort()).toEqual(['GREETING=hi; $(id) `id` "\'\n%', 'PATH=/usr/bin:/bin', `PWD=${TASK_ROOT}`]);
  });

  it('refuses to run anything as root', () => {
    expect(() => sandboxCommand({ ...spec, uid: 0, command: ['id'] })).toThrow(/not a sandbox user/);
  });
});
