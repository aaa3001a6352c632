/**
 * How function units sandbox their handlers, as each manager renders the one description (host.unit()): under the
 * direct manager the runtime runs through bwrap and setpriv as the function's user (console proxies excepted: pcloud's
 * own code); under systemd the service carries the whole hardening, passes systemd-analyze verify, and hides the data dir.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_FUNCTION_HOST, FunctionHost, type FunctionUnitOptions } from '../../src/host/functions.js';
import { directSpec } from '../../src/host/units/direct-spec.js';
import { renderSocketUnits } from '../../src/host/units/socket-units.js';
import type { UnitManager, UnitSpec, UnitStatus } from '../../src/host/units/types.js';
import { FAST_TIER } from '../support/tier.js';

const o = (extra: Partial<FunctionUnitOptions> = {}): FunctionUnitOptions => ({
  key: '111122223333-hello-latest', functionName: 'hello', version: '$LATEST', arn: 'arn:aws:lambda:us-east-1:111122223333:function:hello',
  runtime: 'python3.12', handler: 'app.handler', codeDir: '/var/lib/pcloud/functions/111122223333/hello/rev', memoryMiB: 128, timeoutSec: 3,
  environment: { GREETING: 'a\nb; $x %i "q"' }, mode: 'per-request', idleSec: 60, region: 'us-east-1', ...extra,
});
const host = new FunctionHost({ kind: 'direct' } as UnitManager, '/var/lib/pcloud', '/var/lib/pcloud/run');
const box = { uid: 61200, seccomp: '/var/lib/pcloud/run/lambda/sandbox/seccomp.bpf', passwd: '/p', group: '/g' };

describe('function units under the direct manager', () => {
  it('run the runtime in bwrap as the function\'s user, with its environment given to the sandbox only', () => {
    const exec = directSpec(host.unit(o()), box).exec;
    const runtime = exec.indexOf('--');
    expect(exec.slice(0, runtime).filter((a) => a.startsWith('--setenv'))).toEqual([]);
    const sandbox = exec.slice(runtime + 1);
    expect(sandbox.slice(0, 5)).toEqual(['/bin/sh', '-c', 'exec "$@" 9<"$0"', box.seccomp, 'bwrap']);
    const setpriv = sandbox.indexOf('setpriv');
    expect(sandbox.slice(setpriv, setpriv + 8)).toEqual(['setpriv', '--reuid=61200', '--regid=61200', '--clear-groups', '--no-new-privs',
      '--bounding-set=-all', '--inh-caps=-all', '--']);
    expect(sandbox).toContain('--clearenv');
    expect(sandbox.join('\0')).toContain(['--setenv', 'GREETING', 'a\nb; $x %i "q"'].join('\0'));
    expect(sandbox.join('\0')).toContain(['--ro-bind', o().codeDir, '/var/task'].join('\0'));
    expect(sandbox.slice(setpriv + 8)).toContain('--code=/var/task');
    // Nothing of the data dir but the code and the version's own credentials directory (and the passwd files and
    // seccomp program it names) is bound, each at a path of its own outside the data dir (whose parents the sandbox
    // would otherwise show).
    const bound = sandbox.flatMap((a, i) => (['--ro-bind', '--ro-bind-try', '--bind'].includes(a) ? [[sandbox[i + 1]!, sandbox[i + 2]!]] : []));
    expect(bound.filter(([p]) => p!.startsWith('/var/lib/pcloud'))).toEqual([[o().codeDir, '/var/task'], [`/var/lib/pcloud/run/lambda/credentials/${o().key}`, '/run/pcloud-credentials']]);
    expect(sandbox.filter((a, i) => sandbox[i - 1] === '--dir' && a.startsWith('/var/lib'))).toEqual([]);
    expect(() => directSpec(host.unit(o()))).toThrow(/only in its sandbox/);
  });

  it('a console proxy (pcloud\'s own code, the VM\'s VNC socket) runs without the sandbox', () => {
    const exec = directSpec(host.unit(o({ console: { instanceId: 'i-0123456789abcdef0', vncPath: '/run/vnc.sock', idleSec: 60, stateFile: '/s.json' } }))).exec;
    expect(exec).not.toContain('bwrap');
    expect(exec.join(' ')).toContain('console-proxy.js');
  });
});

describe('function units under systemd', () => {
  for (const mode of ['per-request', 'warm'] as const) {
    it.skipIf(FAST_TIER)(`${mode}: the service is a dynamic user in a read-only system without the data dir, and passes systemd-analyze verify`, async () => {
      // (Newlines in environment values are render.ts's to escape: not this test's.)
      const units = renderSocketUnits(host.unit(o({ mode, environment: { GREETING: 'hi' } })));
      const lines = units.service.text.split('\n');
      for (const want of ['DynamicUser=yes', 'ProtectSystem=strict', 'TemporaryFileSystem=/home:ro /root:ro /run/user:ro', 'PrivateTmp=yes', 'PrivateDevices=yes', 'NoNewPrivileges=yes',
        'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6', 'SystemCallFilter=@system-service', 'SystemCallArchitectures=native',
        'ProtectKernelTunables=yes', 'ProtectKernelModules=yes', 'ProtectKernelLogs=yes', 'ProtectControlGroups=yes', 'RestrictNamespaces=yes',
        'RestrictSUIDSGID=yes', 'LockPersonality=yes', 'CapabilityBoundingSet=', 'TemporaryFileSystem=/var/lib/pcloud:ro',
        'InaccessiblePaths=-/run/pcloud', `BindReadOnlyPaths=${o().codeDir}:/var/task`, 'CPUQuota=100%',
        // Per request (Python), one forking parent holds every invoke at once: the function's memory and tasks times
        // the concurrency (100); warm, one worker's.
        ...(mode === 'per-request' ? ['MemoryMax=13488881664', 'TasksMax=6400'] : ['MemoryMax=201326592', 'TasksMax=64'])]) {
        expect(lines).toContain(want);
      }
      expect(lines.filter((l) => l.startsWith('MemoryDenyWriteExecute'))).toEqual([]);
      const dir = mkdtempSync(join(tmpdir(), 'pcloud-fn-units-'));
      for (const { file, text } of [units.socket, units.service]) writeFileSync(join(dir, file), text);
      const res = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, units.socket.file)], { encoding: 'utf8' });
      expect(res.stderr.split('\n').filter((l) => l.includes('pcloud-fn'))).toEqual([]);
      expect(res.status).toBe(0);
    });
  }

  it('refuses a data dir path a unit file could not name plainly', () => {
    const odd = new FunctionHost({ kind: 'systemd' } as UnitManager, '/var/lib/p cloud\nUser=root', '/var/lib/pcloud/run');
    expect(() => renderSocketUnits(odd.unit(o()))).toThrow(/cannot name the path/);
  });
});

describe('a function unit found running when the server starts (either manager)', () => {
  /** A unit manager that only remembers what it was asked. */
  function fakeUnits() {
    const running = new Map<string, UnitSpec>();
    const calls: string[] = [];
    const units = {
      kind: 'direct',
      async status(name: string) { return running.has(name) ? { name, state: 'active' as const } : undefined; },
      async start(spec: UnitSpec) { calls.push(`start ${spec.sandbox ? 'sandboxed' : 'bare'}`); running.set(spec.name, spec); },
      async stop(name: string) { calls.push(`stop ${name}`); running.delete(name); return undefined; },
      async remove() { /* nothing kept */ },
      async list(prefix: string): Promise<UnitStatus[]> {
        return [...running.keys()].filter((n) => n.startsWith(prefix)).map((name) => ({ name, state: 'active' }));
      },
    };
    return { units: units as unknown as UnitManager, calls, running };
  }

  it.skipIf(FAST_TIER)('keeps running what this pcloud would start, and starts again a unit an older pcloud started (unsandboxed)', async () => {
    const base = mkdtempSync(join(tmpdir(), 'pcloud-fn-upgrade-'));
    const opts = { ...DEFAULT_FUNCTION_HOST, sandboxUidDir: join(base, 'uids') };
    try {
      const data = join(base, 'data');
      const { units, calls, running } = fakeUnits();
      const fn = o({ codeDir: join(data, 'functions/x'), environment: { GREETING: 'hi' } });
      await new FunctionHost(units, data, join(data, 'run'), opts).ensure(fn);
      expect(calls).toEqual(['start sandboxed']);
      // A restarted server: the same unit is running, as it would start it.
      await new FunctionHost(units, data, join(data, 'run'), opts).ensure(fn);
      expect(calls).toEqual(['start sandboxed']);
      // An older pcloud's unit (run as root, no record of its spec): started again in the sandbox.
      running.set('pcloud-fn-111122223333-hello-latest', { ...running.get('pcloud-fn-111122223333-hello-latest')!, exec: ['old'] });
      rmSync(join(data, 'run/lambda/111122223333-hello-latest.unit'));
      await new FunctionHost(units, data, join(data, 'run'), opts).ensure(fn);
      expect(calls).toEqual(['start sandboxed', 'stop pcloud-fn-111122223333-hello-latest', 'start sandboxed']);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a unit of a pcloud from before issue 13 (named pcloud-fn@KEY) is listed, and taken down when its function starts', async () => {
    const base = mkdtempSync(join(tmpdir(), 'pcloud-fn-legacy-'));
    const opts = { ...DEFAULT_FUNCTION_HOST, sandboxUidDir: join(base, 'uids') };
    try {
      const data = join(base, 'data');
      const { units, calls, running } = fakeUnits();
      const host = new FunctionHost(units, data, join(data, 'run'), opts);
      running.set('pcloud-fn@111122223333-hello-latest', { ...host.unit(o()), name: 'pcloud-fn@111122223333-hello-latest' });
      running.set('pcloud-fn-111122223333-other-1', { ...host.unit(o()), name: 'pcloud-fn-111122223333-other-1' });
      expect((await host.list()).sort()).toEqual(['111122223333-hello-latest', '111122223333-other-1']);
      await host.ensure(o({ codeDir: join(data, 'functions/x') }));
      expect(calls).toEqual(['stop pcloud-fn@111122223333-hello-latest', 'start sandboxed']);
      expect([...running.keys()].sort()).toEqual(['pcloud-fn-111122223333-hello-latest', 'pcloud-fn-111122223333-other-1']);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it.skipIf(FAST_TIER)('a start that fails leaves nothing: no unit, socket or spec stamp', async () => {
    const base = mkdtempSync(join(tmpdir(), 'pcloud-fn-failed-'));
    const opts = { ...DEFAULT_FUNCTION_HOST, sandboxUidDir: join(base, 'uids') };
    try {
      const data = join(base, 'data');
      const { units, calls, running } = fakeUnits();
      const removed: string[] = [];
      const host = new FunctionHost(units, data, join(data, 'run'), opts);
      const fn = o({ codeDir: join(data, 'functions/x'), environment: { GREETING: 'hi' } });
      // The manager made the unit (and its socket) before the start failed.
      Object.assign(units, {
        async start(spec: UnitSpec) { calls.push('start'); running.set(spec.name, spec); writeFileSync(host.socketPath(fn.key), ''); throw new Error('no supervisor'); },
        async remove(name: string) { removed.push(name); },
      });
      await expect(host.ensure(fn)).rejects.toThrow('no supervisor');
      expect(calls).toEqual(['start', 'stop pcloud-fn-111122223333-hello-latest']);
      // Once before the start (nothing there yet), once after it failed.
      expect(removed).toEqual(['pcloud-fn-111122223333-hello-latest', 'pcloud-fn-111122223333-hello-latest']);
      expect(running.size).toBe(0);
      expect(existsSync(host.socketPath(fn.key))).toBe(false);
      expect(existsSync(join(data, 'run/lambda/111122223333-hello-latest.unit'))).toBe(false);
      // A start refused before the manager had any state of the unit: removed all the same (its files, its user).
      removed.length = 0;
      Object.assign(units, { async start() { throw new Error('no sandbox user free'); } });
      await expect(host.ensure(fn)).rejects.toThrow('no sandbox user free');
      expect(removed.filter((n) => n === 'pcloud-fn-111122223333-hello-latest')).toHaveLength(2);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
