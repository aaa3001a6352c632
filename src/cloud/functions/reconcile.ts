/** At start: socket units of function versions that no longer exist, or cannot be served, are stopped. */
import type { HostFunctions } from '../../host/index.js';
import { log } from '../../log.js';
import type { FunctionRecords } from './records.js';
import { functionKey } from './types.js';

/** Stops the units no servable function version owns (deleted while the server died mid-way); resolves to how many. */
export async function reconcileUnits(records: FunctionRecords, host: Pick<HostFunctions, 'list' | 'stop'>): Promise<number> {
  const live = new Set<string>();
  for (const r of (await records.servable())) {
    live.add(functionKey(r.accountId, r.name, '$LATEST'));
    for (const v of (await records.versionNumbers(r.accountId, r.name))) live.add(functionKey(r.accountId, r.name, v));
  }
  let removed = 0;
  for (const key of await host.list()) {
    if (live.has(key)) continue;
    try {
      await host.stop(key);
      removed++;
    } catch (err) {
      log.error(`stopping the function unit ${key}, skipped: ${(err as Error).message}`);
    }
  }
  return removed;
}
