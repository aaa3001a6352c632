/** Every unit pcloud generates is a valid systemd unit: rendered from its spec and checked by systemd-analyze verify. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerUnit } from '../../src/host/nspawn.js';
import { microvmUnit } from '../../src/host/qemu.js';
import { firmwareFor, q35Unit, tpmUnit, vmState } from '../../src/host/q35.js';
import { FunctionHost } from '../../src/host/functions.js';
import { renderSocketUnits } from '../../src/host/units/socket-units.js';
import type { UnitManager } from '../../src/host/units/types.js';
import { renderUnitFile, unitProperties } from '../../src/host/units/render.js';
import { HOSTILE } from '../support/hostile.js';
import { FAST_TIER } from '../support/tier.js';

const samples = {
  'pcloud-instance@i-0123456789abcdef0': containerUnit({
    instanceId: 'i-0123456789abcdef0', rootDir: '/var/lib/pcloud/pool/instances/i-0123456789abcdef0', hostname: 'ip-172-31-0-4',
    vcpus: 2, memoryMiB: 1024, register: true, readyTimeoutSec: 120, runDir: '/var/lib/pcloud/run', guestProtocol: true,
  }),
  'pcloud-instance@i-0123456789abcdef1': microvmUnit({
    instanceId: 'i-0123456789abcdef1', vpcId: 'vpc-0123456789abcdef0', mac: '02:00:00:00:00:01', vcpus: 2, memoryMiB: 2048,
    artifacts: { kernel: '/p/vmlinux', initrd: '/p/initrd.img', disk: '/p/disk.raw' }, disk: '/p/i.raw', runDir: '/run/pcloud/vm/i-1', accel: 'tcg', readyTimeoutSec: 600,
  }),
  'pcloud-instance@i-0123456789abcdef2': q35Unit({
    instanceId: 'i-0123456789abcdef2', vpcId: 'vpc-0123456789abcdef0', mac: '02:00:00:00:00:02', vcpus: 2, memoryMiB: 4096,
    uuid: 'ec2e0000-0000-0000-0000-000000000000', disk: '/p/i.raw', firmware: firmwareFor('windows'), state: vmState('/p/i.state'),
    cdroms: ['/p/installer.iso'], runDir: '/run/pcloud/vm/i-2', accel: 'tcg',
  }),
  'pcloud-tpm@i-0123456789abcdef2': tpmUnit({ instanceId: 'i-0123456789abcdef2', state: vmState('/p/i.state'), runDir: '/run/pcloud/vm/i-2' }),
};

describe('generated units', () => {
  for (const [name, spec] of Object.entries(samples)) {
    it.skipIf(FAST_TIER)(`${name} passes systemd-analyze verify`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'pcloud-units-'));
      const file = join(dir, `${name}.service`);
      const text = renderUnitFile({ ...spec, env: { GREETING: 'hello world' } });
      writeFileSync(file, text);
      const res = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      expect(res.stderr.split('\n').filter((l) => l.includes(name))).toEqual([]);
      expect(res.status).toBe(0);
      // What systemd would run is what the direct manager runs.
      expect(text).toContain(`ExecStart=${spec.exec.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
      expect(text).toMatch(new RegExp(`^Type=${spec.type}$`, 'm'));
      expect(text).toContain('Environment="GREETING=hello world"');
    });
  }

  it.skipIf(FAST_TIER)('a hostile environment leaves every generated unit valid, with no directive of its own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-units-'));
    const env = Object.fromEntries(Object.entries(HOSTILE).map(([k, v]) => [`V_${k}`, v]));
    for (const [name, spec] of Object.entries(samples)) {
      const text = renderUnitFile({ ...spec, env });
      writeFileSync(join(dir, `${name}.service`), text);
      expect(text.split('\n').filter((l) => /^(ExecStartPre|User)=/.test(l))).toEqual([]);
      expect(text.split('\n').filter((l) => l.startsWith('Environment='))).toHaveLength(Object.keys(env).length);
    }
    const res = spawnSync('systemd-analyze', ['verify', '--man=no', ...Object.keys(samples).map((n) => join(dir, `${n}.service`))], { encoding: 'utf8' });
    expect(res.stderr.split('\n').filter((l) => l.includes('pcloud-'))).toEqual([]);
    expect(res.status).toBe(0);
  });

  it('a container unit delegates its cgroup to nspawn and restarts on its reboot', () => {
    const spec = samples['pcloud-instance@i-0123456789abcdef0'];
    const text = renderUnitFile(spec);
    {
      expect(text).toMatch(/^Delegate=yes$/m);
      expect(text).toMatch(/^KillMode=mixed$/m);
      expect(text).toMatch(/^MemoryMax=1073741824$/m);
      expect(text).toMatch(/^CPUQuota=200%$/m);
      expect(text).toMatch(/^RestartForceExitStatus=133$/m);
    }
  });

  it.skipIf(FAST_TIER)('a broken property is caught by the same check (the check can fail)', () => {
    const spec = samples['pcloud-instance@i-0123456789abcdef0'];
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-units-'));
    const file = join(dir, 'broken.service');
    writeFileSync(file, renderUnitFile(spec).replace('Type=notify', 'Type=sometimes'));
    const res = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    expect(res.stderr).toMatch(/Failed to parse service type|sometimes/);
    expect(unitProperties(spec).service.find(([k]) => k === 'Type')?.[1]).toBe('notify');
  });
});

describe('function units under systemd (a socket unit and its service, socket-units.ts)', () => {
  for (const mode of ['per-request', 'warm'] as const) {
    it.skipIf(FAST_TIER)(`${mode}: the socket and its service pass systemd-analyze verify`, () => {
      const o = {
        key: `111122223333-hello-${mode === 'warm' ? '1' : 'latest'}`, functionName: 'hello', version: mode === 'warm' ? '1' : '$LATEST',
        arn: 'arn:aws:lambda:us-east-1:111122223333:function:hello', runtime: 'nodejs20.x', handler: 'index.handler', codeDir: '/var/lib/pcloud/functions/x',
        memoryMiB: 256, timeoutSec: 3, environment: { GREETING: 'hello world' }, mode, idleSec: 60, region: 'us-east-1',
      };
      const units = renderSocketUnits(new FunctionHost({ kind: 'systemd' } as UnitManager, '/var/lib/pcloud', '/run/pcloud').unit(o));
      const dir = mkdtempSync(join(tmpdir(), 'pcloud-fn-units-'));
      for (const { file, text } of [units.socket, units.service]) writeFileSync(join(dir, file), text);
      const res = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, units.socket.file)], { encoding: 'utf8' });
      expect(res.stderr.split('\n').filter((l) => l.includes('pcloud-fn'))).toEqual([]);
      expect(res.status).toBe(0);
      expect(units.socket.text).toMatch(new RegExp(`^Accept=${mode === 'per-request' ? 'yes' : 'no'}$`, 'm'));
      // Per request (Node), the socket is the runtime's, behind the function's front (front.py on KEY.sock).
      expect(units.socket.text).toContain(`\nListenStream=/run/pcloud/lambda/${o.key}${mode === 'per-request' ? '.run' : ''}.sock\n`);
      expect(units.service.file).toBe(mode === 'per-request' ? `pcloud-fn-${o.key}@.service` : `pcloud-fn-${o.key}.service`);
      expect(units.service.text).toContain('Environment="GREETING=hello world"');
      expect(units.service.text).toMatch(/^MemoryMax=335544320$/m);
    });
  }
});
