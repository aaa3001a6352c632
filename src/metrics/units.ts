/**
 * Where the unit gauges' numbers come from: the units this data dir's unit manager knows (`pcloud-…`), each by its
 * kind (a fixed table: never the rest of its name, which holds ids and function keys), its state and its restarts.
 */
import type { UnitManager } from '../host/units/types.js';

/** Unit names' beginnings, and the kind each is counted as (the longest beginning first). */
const KINDS: readonly (readonly [string, string])[] = [
  ['pcloud-instance@', 'instance'], ['pcloud-tpm@', 'tpm'], ['pcloud-dns@', 'dns'], ['pcloud-fnfront-', 'function-front'],
  ['pcloud-fn-', 'function'], ['pcloud-fn@', 'function'], ['pcloud-nginx', 'nginx'], ['pcloud-iscsi', 'iscsi'], ['pcloud-nfs', 'nfs'],
];

export const unitKindOf = (name: string): string => KINDS.find(([prefix]) => name.startsWith(prefix))?.[1] ?? 'other';

export function unitSource(units: Pick<UnitManager, 'list'>): () => Promise<{ kind: string; state: string; restarts: number }[]> {
  return async () => (await units.list('pcloud-')).map((u) => ({ kind: unitKindOf(u.name), state: u.state, restarts: u.restarts ?? 0 }));
}
