import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DirectUnitManager } from './direct.js';
import { SystemdUnitManager } from './systemd.js';
import type { UnitManager } from './types.js';
import type { HostConfig } from '../config.js';
import { holdsDataDir } from '../datalock.js';
import { log } from '../../log.js';

export function systemdIsPid1(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * Pick the unit manager for this host: systemd (transient units, machined, the journal) where PID 1 is systemd, the
 * direct manager (detached supervisors) elsewhere. The host's settings (config.ts) may name the manager
 * (PCLOUD_UNIT_MANAGER), where systemd's socket units are written (PCLOUD_SYSTEMD_UNIT_DIR; /run/systemd/system), the
 * direct manager's console bound and its record of sandbox users. The units belong to `dataDir`: the direct manager
 * keeps them under runDir, systemd's are recorded as its (owners.ts). Only the process that holds the data dir (the
 * server, datalock.ts) starts again units whose supervisor died; other commands opening it (image build, logs) only look.
 */
export async function openUnitManager(
  runDir: string,
  dataDir = dirname(runDir),
  settings: Partial<Pick<HostConfig, 'unitManager' | 'systemdUnitDir' | 'consoleLogBytes' | 'sandboxUidDir'>> = {},
): Promise<UnitManager> {
  const want = settings.unitManager ?? (systemdIsPid1() ? 'systemd' : 'direct');
  if (want === 'systemd') {
    const m = new SystemdUnitManager(dataDir, settings.systemdUnitDir);
    await m.init(['pcloud-']);
    return m;
  }
  log.debug('PID 1 is not systemd: units run under the direct manager');
  const m = new DirectUnitManager(runDir, {
    revive: holdsDataDir(dataDir), dataDir, consoleLogBytes: settings.consoleLogBytes, sandboxUidDir: settings.sandboxUidDir,
  });
  await m.init();
  return m;
}
