/**
 * What an operator does to a host (`pcloud host drain`, `pcloud host remove`). A draining host takes no new instances
 * (placement skips it, a stopped instance of its own does not start there) while what runs on it runs on; it stays
 * draining across its server's restarts until undone. A removed host is a machine gone from the cloud: only one that is
 * not serving (not heard from) can be removed; its instances stay listed (their system status impaired), a
 * TerminateInstances ends them at once in the database (their host is gone with what they held), and they cannot be
 * stopped or started. Its key fetches no more images; its server refuses to serve under that row (and stops if it
 * still served: registry.ts' heartbeat); the machine comes back by joining anew, and what it still holds of the
 * removed host's instances is taken down as orphans at its start.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { write } from '../../db/store.js';
import { hostTokens, hosts, instances } from '../../db/tables.js';
import type { HostsConfig } from '../config.js';
import { COUNTED } from '../instances/types.js';
import { heard } from './liveness.js';
import type { HostRow } from './registry.js';

export type HostChange = 'drain' | 'undrain' | 'remove';

/** A host's row by its id or its name; an error naming what there is otherwise. */
async function hostByRef(db: Pick<Db, 'select'>, ref: string): Promise<HostRow> {
  const all = await db.select().from(hosts);
  const found = all.find((h) => h.id === ref) ?? all.find((h) => h.name === ref);
  if (!found) throw new Error(`no host has the id or name ${JSON.stringify(ref.slice(0, 260))}: \`pcloud host list\` shows them`);
  return found;
}

/** Drain a host, undo it, or remove it; its row as it is now and how many instances it holds (pending to stopping). */
export async function changeHost(db: Db, config: HostsConfig, ref: string, change: HostChange, now = Date.now()): Promise<{ host: HostRow; instances: number }> {
  return await write(db, async (tx) => {
    const host = await hostByRef(tx, ref);
    if (host.state === 'removed') throw new Error(`host ${host.name} was removed from this cloud: that machine joins again to serve (\`pcloud host token\` here, \`pcloud host join\` there)`);
    let state = host.state;
    if (change === 'drain') state = 'draining';
    else if (change === 'undrain') state = 'available';
    else {
      if (host.address === null) throw new Error(`host ${host.name} is an embedded cloud's own machine (it joined nothing): it cannot be removed`);
      if (heard(host, config, now)) {
        throw new Error(`host ${host.name} is serving (heard from ${Math.round((now - host.heartbeatAt) / 1000)} s ago): a host is removed once it is gone. Terminate its instances and stop its server there (instances outlive their server), or power the machine off, then remove it; \`pcloud host drain ${host.name}\` keeps new instances off it meanwhile`);
      }
      state = 'removed';
      // Its key fetches nothing more from the control plane.
      await tx.update(hostTokens).set({ keyHash: null }).where(eq(hostTokens.hostName, host.name));
    }
    if (state !== host.state) await tx.update(hosts).set({ state }).where(eq(hosts.id, host.id));
    const held = await tx.select({ id: instances.id }).from(instances).where(and(eq(instances.hostId, host.id), inArray(instances.state, COUNTED)));
    return { host: { ...host, state }, instances: held.length };
  });
}

/** The hosts removed from the cloud, by id (their instances are ended where the call is taken). */
export async function removedHosts(db: Pick<Db, 'select'>): Promise<Set<string>> {
  return new Set((await db.select({ id: hosts.id }).from(hosts).where(eq(hosts.state, 'removed'))).map((r) => r.id));
}

/**
 * Free the name of a removed host for a machine joining under it: the removed row keeps its id (its instances still
 * name it) under a name of its own.
 */
export async function freeRemovedName(tx: Pick<Db, 'select' | 'update'>, name: string): Promise<void> {
  const gone = (await tx.select({ id: hosts.id }).from(hosts).where(and(eq(hosts.name, name), eq(hosts.state, 'removed'))).limit(1))[0];
  if (gone) await tx.update(hosts).set({ name: `${name} (removed: ${gone.id})` }).where(eq(hosts.id, gone.id));
}
