import { existsSync } from 'node:fs';
import { DirectUnitManager } from './direct.js';
import type { UnitManager } from './types.js';
import { log } from '../../log.js';

export function systemdIsPid1(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * Pick the unit manager for this host. The systemd manager (transient units, machined) is issue #3; until it lands,
 * every host runs units under the direct manager, which needs nothing from PID 1.
 */
export async function openUnitManager(runDir: string): Promise<UnitManager> {
  if (systemdIsPid1()) log.info('systemd is PID 1, but the systemd unit manager is not built yet: using the direct manager');
  const m = new DirectUnitManager(runDir);
  await m.init();
  return m;
}
