/**
 * The socket section of a unit description as systemd unit files (units/socket-units.ts): every value escaped by
 * render.ts' rules or refused, checked by systemd's own parser (`systemd --test`) and `systemd-analyze verify`.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnitValueError } from '../../src/host/units/render.js';
import { renderSocketUnits } from '../../src/host/units/socket-units.js';
import type { SocketSection, UnitSpec } from '../../src/host/units/types.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { between, decodeCommandLine, systemdDump } from '../support/systemd-dump.js';

const socket = (extra: Partial<SocketSection> = {}): SocketSection => ({ listen: '/run/pcloud/t/x.sock', accept: true, mode: 0o600, ...extra });
const spec = (extra: Partial<UnitSpec> = {}): UnitSpec => ({
  name: 'pcloud-t-sock', description: 'test socket', exec: ['/bin/cat'], type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5,
  socket: socket(), ...extra,
});

function verify(files: ReturnType<typeof renderSocketUnits>): void {
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-socket-units-'));
  try {
    for (const { file, text } of [files.socket, files.service]) writeFileSync(join(dir, file), text);
    const res = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, files.socket.file)], { encoding: 'utf8' });
    expect(res.stderr.split('\n').filter((l) => l.includes('pcloud-t'))).toEqual([]);
    expect(res.status).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a socket unit', () => {
  it('is a socket and a template service with Accept=yes, a socket and its service without', () => {
    const accept = renderSocketUnits(spec({ socket: socket({ maxConnections: 7 }) }));
    expect(accept.socket.file).toBe('pcloud-t-sock.socket');
    expect(accept.service.file).toBe('pcloud-t-sock@.service');
    expect(accept.socket.text).toContain('\n[Socket]\nListenStream=/run/pcloud/t/x.sock\nSocketMode=0600\nAccept=yes\nMaxConnections=7\n');
    verify(accept);
    const one = renderSocketUnits(spec({ socket: socket({ accept: false, mode: 0o660 }) }));
    expect(one.service.file).toBe('pcloud-t-sock.service');
    expect(one.socket.text).toContain('\nSocketMode=0660\nAccept=no\n\n');
    verify(one);
  });

  it('renders each process\'s limits and runtime on the service, the unit\'s own nowhere (systemd has no cgroup above them)', () => {
    const files = renderSocketUnits(spec({
      limits: { memoryMaxBytes: 999 * 2 ** 20, tasksMax: 999, cpuQuotaPercent: 999 },
      socket: socket({ serviceLimits: { memoryMaxBytes: 2 ** 27, tasksMax: 64, cpuQuotaPercent: 150 }, serviceRuntimeMaxSec: 8 }),
      restartForceExitStatus: [133],
    }));
    const lines = files.service.text.split('\n');
    for (const want of ['MemoryMax=134217728', 'RuntimeMaxSec=8s', 'TasksMax=64', 'CPUQuota=150%', 'SuccessExitStatus=133']) expect(lines).toContain(want);
    expect(files.service.text).not.toContain('999');
    expect(lines.filter((l) => l.startsWith('Restart'))).toEqual([]);
    verify(files);
  });

  it('a socket path with `;{}$%"\'` stays one path, exactly (specifiers doubled)', () => {
    const path = '/run/p;c{l}o$u%d"\'/x.sock';
    const files = renderSocketUnits(spec({ socket: socket({ listen: path }) }));
    expect(files.socket.text).toContain(`\nListenStream=${path.replace('%', '%%')}\n`);
    // (The dump shows ListenStream= with its quotes escaped: the path as systemd took it is the one it mounts for.)
    expect(systemdDump(files.socket.file, files.socket.text)).toContain(`\t\tRequiresMountsFor: ${path} (origin-file)\n`);
    verify(files);
  });

  it('refuses a socket path, description or name a unit file cannot carry, and never renders a directive of its own', () => {
    for (const [what, v] of Object.entries({ ...HOSTILE, nul: NUL })) {
      for (const listen of [v, `/run/${v}`]) {
        let files: ReturnType<typeof renderSocketUnits> | undefined;
        try {
          files = renderSocketUnits(spec({ socket: socket({ listen }) }));
        } catch (err) {
          expect(err, what).toBeInstanceOf(UnitValueError);
        }
        if (files) expect(files.socket.text.split('\n').filter((l) => l.startsWith('ListenStream=')), what).toHaveLength(1);
      }
      let files: ReturnType<typeof renderSocketUnits> | undefined;
      try {
        files = renderSocketUnits(spec({ description: v }));
      } catch (err) {
        expect(err, what).toBeInstanceOf(UnitValueError);
      }
      if (files) {
        expect(files.socket.text.split('\n').filter((l) => /^(ExecStartPre|User|ListenStream)=/.test(l)), what).toEqual(['ListenStream=/run/pcloud/t/x.sock']);
        // (systemd describes a unit with an empty Description= by its name.)
        expect(systemdDump(files.socket.file, files.socket.text), what).toContain(`\t\tDescription: ${v || files.socket.file}\n`);
      }
      if (v) expect(() => renderSocketUnits(spec({ name: `pcloud-t-${v}` })), what).toThrow(UnitValueError);
    }
    expect(() => renderSocketUnits(spec({ socket: socket({ listen: 'x.sock' }) }))).toThrow(/absolute/);
    expect(() => renderSocketUnits(spec({ socket: socket({ listen: `/run/${'a'.repeat(103)}` }) }))).toThrow(/107 bytes/);
    expect(() => renderSocketUnits(spec({ name: 'pcloud-fn@x' }))).toThrow(UnitValueError);
  });

  it('refuses a mode, a count or a limit that is not one', () => {
    for (const mode of [-1, 0o10000, 1.5, NaN]) expect(() => renderSocketUnits(spec({ socket: socket({ mode }) })), String(mode)).toThrow(UnitValueError);
    for (const n of [0, -3, 2.5, Infinity]) {
      expect(() => renderSocketUnits(spec({ socket: socket({ maxConnections: n }) })), String(n)).toThrow(UnitValueError);
      // (A limit of 0 is no limit, as on every unit: render.ts' unitProperties.)
      if (n) expect(() => renderSocketUnits(spec({ socket: socket({ serviceLimits: { tasksMax: n } }) })), String(n)).toThrow(UnitValueError);
    }
    expect(renderSocketUnits(spec({ socket: socket({ mode: 0 }) })).socket.text).toContain('\nSocketMode=0000\n');
  });

  it('carries a hostile environment and argv into the service exactly (its sandbox and no new privileges too)', () => {
    const env = Object.fromEntries(Object.entries(HOSTILE).map(([k, v]) => [`V_${k}`, v]));
    // (Without Accept: systemd's parser loads a service, not a template without an instance.)
    const files = renderSocketUnits(spec({ env, exec: ['/bin/echo', HOSTILE.newline!, HOSTILE.dollar!], noNewPrivileges: true, socket: socket({ accept: false }) }));
    const dump = systemdDump(files.service.file, files.service.text);
    expect(between(dump, '\t\tProcSubset: all\n', '\t\tRuntimeDirectoryPreserve:')).toBe(
      Object.entries(env).map(([k, v]) => `\t\tEnvironment: ${k}=${v}\n`).join(''));
    // (systemd's dump does not show NoNewPrivileges=.)
    expect(files.service.text.split('\n')).toContain('NoNewPrivileges=yes');
    expect(dump).not.toContain('\t\t-> ExecStartPre:');
    expect(decodeCommandLine(between(dump, '\t\t\tCommand Line: ', '\n\t\t')).map((w) => w.replaceAll('$$', '$'))).toEqual(['/bin/echo', HOSTILE.newline, HOSTILE.dollar]);
    const boxed = renderSocketUnits(spec({ sandbox: { code: '/srv/code', readOnly: ['/opt/node'], hidden: ['/var/lib/pcloud'] }, socket: socket({ accept: false }) }));
    expect(boxed.service.text).toContain('\nBindReadOnlyPaths=/srv/code:/var/task\nBindReadOnlyPaths=/opt/node\nWorkingDirectory=/var/task\n');
    expect(systemdDump(boxed.service.file, boxed.service.text)).toMatch(/\n\t\tDynamicUser: yes\n/);
    expect(() => renderSocketUnits(spec({ sandbox: { code: '/srv/co de', readOnly: [], hidden: [] } }))).toThrow(/cannot name the path/);
    expect(() => renderSocketUnits(spec({ sandbox: { code: '/srv/code', readOnly: ['/opt/x\nUser=root'], hidden: [] } }))).toThrow(/cannot name the path/);
  });
});
