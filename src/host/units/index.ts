import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DirectUnitManager } from './direct.js';
import { SystemdUnitManager } from './systemd.js';
import type { UnitManager } from './types.js';
import { holdsDataDir } from '../datalock.js';
import { log } from '../../log.js';

export function systemdIsPid1(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * Pick the unit manager for this host: systemd (transient units, machined, the journal) where PID 1 is systemd, the
 * direct manager (detached supervisors) elsewhere. PCLOUD_UNIT_MANAGER=systemd|direct overrides the choice;
 * PCLOUD_SYSTEMD_UNIT_DIR moves where systemd's socket units are written (/run/systemd/system). The units
 * belong to `dataDir`: the direct manager keeps them under runDir, systemd's are recorded as its (owners.ts). Only the
 * process that holds the data dir (the server, datalock.ts) starts again units whose supervisor died; other commands
 * opening it (image build, logs) only look.
 */
export async function openUnitManager(runDir: string, dataDir = dirname(runDir)): Promise<UnitManager> {
  const want = process.env.PCLOUD_UNIT_MANAGER ?? (systemdIsPid1() ? 'systemd' : 'direct');
  if (want === 'systemd') {
    const m = new SystemdUnitManager(dataDir, process.env.PCLOUD_SYSTEMD_UNIT_DIR);
    await m.init(['pcloud-']);
    return m;
  }
  if (want !== 'direct') throw new Error(`PCLOUD_UNIT_MANAGER=${want}: expected systemd or direct`);
  log.debug('PID 1 is not systemd: units run under the direct manager');
  const m = new DirectUnitManager(runDir, { revive: holdsDataDir(dataDir), dataDir });
  await m.init();
  return m;
}
