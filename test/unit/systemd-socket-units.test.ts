/**
 * What the systemd manager does with a unit that has a socket, on a host without systemd: systemctl and systemd-run
 * are stand-ins on PATH that record their argv (`list-units` answers from a file); the node test
 * (test/host/node.test.ts) runs the real ones with the Lambda suite.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemdUnitManager } from '../../src/host/units/systemd.js';
import { Owners } from '../../src/host/owners.js';
import { UnitValueError } from '../../src/host/units/render.js';
import type { UnitSpec } from '../../src/host/units/types.js';

const dir = mkdtempSync(join(tmpdir(), 'pcloud-systemd-sockets-'));
const calls = join(dir, 'calls');
const listed = join(dir, 'list-units');
const unitDir = join(dir, 'system');
const data = join(dir, 'data');
const path = process.env.PATH;

beforeAll(() => {
  mkdirSync(unitDir);
  for (const cmd of ['systemctl', 'systemd-run', 'journalctl']) {
    writeFileSync(join(dir, cmd), `#!/bin/sh\nprintf '%s\\n' "${cmd} $*" >> ${calls}\n[ "$1" = list-units ] && cat ${listed}\nexit 0\n`);
    chmodSync(join(dir, cmd), 0o755);
  }
  process.env.PATH = `${dir}:${path}`;
});
beforeEach(() => {
  rmSync(calls, { force: true });
  writeFileSync(listed, '');
});
afterAll(() => {
  process.env.PATH = path;
  rmSync(dir, { recursive: true, force: true });
});

const recorded = () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean) : []);
const spec = (extra: Partial<UnitSpec> = {}): UnitSpec => ({
  name: 'pcloud-t-sock', description: 'test socket', exec: ['/bin/cat'], env: { A: 'b c' }, type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5,
  socket: { listen: join(dir, 'x.sock'), accept: true, mode: 0o600 }, ...extra,
});

describe('the systemd manager, a unit with a socket', () => {
  it('writes the socket and its template service, loads them and starts the socket (no transient service)', async () => {
    const m = new SystemdUnitManager(data, unitDir);
    try {
      await m.start(spec());
      expect(readdirSync(unitDir).sort()).toEqual(['pcloud-t-sock.socket', 'pcloud-t-sock@.service']);
      expect(readFileSync(join(unitDir, 'pcloud-t-sock@.service'), 'utf8')).toContain('\nEnvironment="A=b c"\n');
      expect(recorded().filter((c) => !c.startsWith('systemctl show '))).toEqual(['systemctl daemon-reload', 'systemctl start pcloud-t-sock.socket']);
      expect(await new Owners('units', data).recorded()).toContain('pcloud-t-sock');

      rmSync(calls);
      await m.status('pcloud-t-sock');
      await m.stop('pcloud-t-sock');
      expect(m.logCommand('pcloud-t-sock', true)).toEqual(['journalctl', '-u', 'pcloud-t-sock.socket', '-u', 'pcloud-t-sock.service', '-u', 'pcloud-t-sock@*.service',
        '-o', 'cat', '--no-pager', '-f']);
      // Without systemd's bus the manager polls its watched units (`systemctl show`) meanwhile: those are not counted.
      const made = recorded();
      const status = made.find((c) => c.startsWith('systemctl show '));
      const stop = made.find((c) => c.startsWith('systemctl stop '));
      expect(made.filter((c) => !c.startsWith('systemctl show '))).toEqual([stop]);
      expect(status).toMatch(/^systemctl show pcloud-t-sock\.socket -p Id /);
      expect(stop).toBe('systemctl stop pcloud-t-sock.socket pcloud-t-sock.service pcloud-t-sock@*.service');

      rmSync(calls);
      await m.remove('pcloud-t-sock');
      expect(readdirSync(unitDir)).toEqual([]);
      expect(recorded().filter((c) => !c.startsWith('systemctl show '))).toEqual(['systemctl stop pcloud-t-sock.socket pcloud-t-sock.service pcloud-t-sock@*.service', 'systemctl daemon-reload',
        'systemctl reset-failed pcloud-t-sock.socket pcloud-t-sock.service pcloud-t-sock@*.service']);
      expect(await new Owners('units', data).recorded()).not.toContain('pcloud-t-sock');
    } finally {
      m.close();
    }
  });

  it('lists a socket unit once, not its services or their instances', async () => {
    const m = new SystemdUnitManager(data, unitDir);
    try {
      await m.start(spec());
      writeFileSync(listed, ['pcloud-t-sock.socket loaded active listening x', 'pcloud-t-sock@0-1-2.service loaded active running x',
        'pcloud-t-svc.service loaded active running y', ''].join('\n'));
      rmSync(calls);
      await m.list('pcloud-t-');
      // The one show that follows the listing asks for both listed units (a poll's own show of the started unit can
      // come before or after it, on a busy host).
      const made = recorded();
      const shows = made.slice(made.findIndex((c) => c.startsWith('systemctl list-units'))).filter((c) => c.startsWith('systemctl show '));
      expect(shows.filter((c) => c.includes('pcloud-t-svc'))).toEqual([expect.stringMatching(/^systemctl show pcloud-t-sock\.socket pcloud-t-svc\.service -p Id /)]);
      expect(recorded().find((c) => c.startsWith('systemctl list-units'))).toBe('systemctl list-units --all --plain --no-legend --type=service,socket pcloud-t-*');
    } finally {
      await m.remove('pcloud-t-sock');
      await new Owners('units', data).release('pcloud-t-svc');
      m.close();
    }
  });

  it('refuses a socket unit it cannot render, and writes, claims and runs nothing', async () => {
    const m = new SystemdUnitManager(data, unitDir);
    try {
      await expect(m.start(spec({ socket: { listen: '/run/x\nListenStream=0.0.0.0:22', accept: true, mode: 0o600 } }))).rejects.toThrow(UnitValueError);
      expect(readdirSync(unitDir)).toEqual([]);
      expect(recorded().filter((c) => !c.startsWith('systemctl show '))).toEqual([]);
      expect(await new Owners('units', data).recorded()).not.toContain('pcloud-t-sock');
    } finally {
      m.close();
    }
  });
});
