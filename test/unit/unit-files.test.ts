/** Every unit pcloud generates is a valid systemd unit: rendered from its spec and checked by systemd-analyze verify. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerUnit } from '../../src/host/nspawn.js';
import { renderUnitFile, unitProperties } from '../../src/host/units/render.js';

const samples = {
  'pcloud-instance@i-0123456789abcdef0': containerUnit({
    instanceId: 'i-0123456789abcdef0', rootDir: '/var/lib/pcloud/pool/instances/i-0123456789abcdef0', hostname: 'ip-172-31-0-4',
    vcpus: 2, memoryMiB: 1024, register: true, readyTimeoutSec: 120,
  }),
};

describe('generated units', () => {
  for (const [name, spec] of Object.entries(samples)) {
    it(`${name} passes systemd-analyze verify`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'pcloud-units-'));
      const file = join(dir, `${name}.service`);
      const text = renderUnitFile({ ...spec, env: { GREETING: 'hello world' } });
      writeFileSync(file, text);
      const res = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      expect(res.stderr.split('\n').filter((l) => l.includes(name))).toEqual([]);
      expect(res.status).toBe(0);
      // What systemd would run is what the direct manager runs.
      expect(text).toContain(`ExecStart=${spec.exec.join(' ')}`);
      expect(text).toMatch(/^Type=notify$/m);
      expect(text).toMatch(/^Delegate=yes$/m);
      expect(text).toMatch(/^KillMode=mixed$/m);
      expect(text).toMatch(/^MemoryMax=1073741824$/m);
      expect(text).toMatch(/^CPUQuota=200%$/m);
      expect(text).toMatch(/^RestartForceExitStatus=133$/m);
      expect(text).toContain('Environment="GREETING=hello world"');
    });
  }

  it('a broken property is caught by the same check (the check can fail)', () => {
    const spec = samples['pcloud-instance@i-0123456789abcdef0'];
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-units-'));
    const file = join(dir, 'broken.service');
    writeFileSync(file, renderUnitFile(spec).replace('Type=notify', 'Type=sometimes'));
    const res = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    expect(res.stderr).toMatch(/Failed to parse service type|sometimes/);
    expect(unitProperties(spec).service.find(([k]) => k === 'Type')?.[1]).toBe('notify');
  });
});
