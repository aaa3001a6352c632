/** Host services restart on failure under both managers: the policy as systemd gets it, checked by systemd-analyze verify. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IscsiTarget, ISCSI_UNIT } from '../../src/host/iscsi.js';
import { renderUnitFile, unitProperties } from '../../src/host/units/render.js';
import { SERVICE_RESTART } from '../../src/host/units/restart.js';
import type { UnitManager } from '../../src/host/units/types.js';
import { FAST_TIER } from '../support/tier.js';

describe('a host service unit (tgtd)', () => {
  const spec = new IscsiTarget({} as UnitManager, { controlPort: 25, port: 13265 }).unit();

  it('restarts on failure with a start limit, and declares its host-wide port and the setting that moves it', () => {
    expect(spec.restart).toEqual(SERVICE_RESTART);
    expect(spec.ports).toEqual([{ host: '127.0.0.1', port: 13265, setting: 'PCLOUD_ISCSI_PORT' }]);
    const p = unitProperties(spec);
    expect(p.service).toEqual(expect.arrayContaining([['Restart', 'on-failure'], ['RestartSec', '0.5s']]));
    // The start limit is a [Unit] setting: systemd ignores it in [Service].
    expect(p.unit).toEqual(expect.arrayContaining([['StartLimitIntervalSec', '30s'], ['StartLimitBurst', '5']]));
    expect(p.service.map(([k]) => k)).not.toContain('StartLimitBurst');
  });

  it.skipIf(FAST_TIER)('passes systemd-analyze verify', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-service-units-'));
    const file = join(dir, `${ISCSI_UNIT}.service`);
    const text = renderUnitFile(spec);
    writeFileSync(file, text);
    const res = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    expect(res.stderr.split('\n').filter((l) => l.includes(ISCSI_UNIT))).toEqual([]);
    expect(res.status).toBe(0);
    expect(text).toMatch(/^\[Unit\]\nDescription=.*\nStartLimitIntervalSec=30s\nStartLimitBurst=5\n/);
    expect(text).toMatch(/^Restart=on-failure$/m);
  });
});
