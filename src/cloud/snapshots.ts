/**
 * Snapshots (EBS): point-in-time reflink copies of a volume's file (or a VM's root disk), kept in the pool of the host
 * that took them. On a cloud of several hosts a snapshot stays on that host (snapshots.host_id): a volume made from it,
 * or an image registered from it, is made through a server of that host (elsewhere refused, saying where); DeleteSnapshot
 * through any server removes the row, and the snapshot's host, told (`snapshot:ID`), removes its file. A host that
 * missed that (down, its listener lost) removes files of snapshots that no longer exist at its next start, and once its
 * listener is back (sweep()).
 */
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import { byChunks } from '../db/chunks.js';
import type { Db } from '../db/index.js';
import { write } from '../db/store.js';
import { snapshots } from '../db/tables.js';
import type { Wakeups } from '../db/wakeups.js';
import type { Host } from '../host/index.js';
import { log } from '../log.js';
import { CloudError, malformed, notFound } from './errors.js';
import type { HostRegistry } from './hosts/registry.js';
import { isId, newId } from './ids.js';
import type { Tag, Tags } from './tags.js';

export type Snapshot = typeof snapshots.$inferSelect;

export class Snapshots {
  /** Snapshots being taken here: their file is made before their row is written (sweep() leaves it alone). */
  private readonly taking = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly host: Host,
    private readonly tags: Tags,
    /** The hosts (unset: one host, every snapshot here). */
    private readonly hosts?: Pick<HostRegistry, 'list' | 'localHostId'>,
    private readonly wakeups?: Pick<Wakeups, 'tell'>,
  ) {}

  async get(accountId: string, id: string): Promise<Snapshot> {
    if (!isId('snap', id)) throw malformed('InvalidSnapshotID.Malformed', id);
    const row = (await this.db.select().from(snapshots).where(and(eq(snapshots.id, id), eq(snapshots.accountId, accountId))).limit(1))[0];
    if (!row) throw notFound('InvalidSnapshot.NotFound', id);
    return row;
  }

  async list(accountId: string, ids: string[] = []): Promise<Snapshot[]> {
    const conds = [eq(snapshots.accountId, accountId)];
    if (ids.length) conds.push(inArray(snapshots.id, ids));
    return await this.db.select().from(snapshots).where(and(...conds)).orderBy(asc(snapshots.createdAt));
  }

  /**
   * A snapshot of a disk file of this host standing for the volume `volume.id` (a created volume's, or a VM's root
   * disk), kept here; crash-consistent if the disk is in use (as EBS's).
   */
  async take(accountId: string, volume: { id: string; sizeGiB: number; file: string }, description: string, tags: Tag[]): Promise<Snapshot> {
    const id = newId('snap');
    // Called outside any write(): its row is committed (not merely written in an outer transaction) before `taking`
    // lets it go, or a sweep meanwhile would remove its file.
    this.taking.add(id);
    try {
      await this.host.pool.snapshotFile(volume.file, id);
      const row: Snapshot = {
        id, accountId, volumeId: volume.id, sizeGiB: volume.sizeGiB, description, state: 'completed', createdAt: Date.now(),
        hostId: this.hosts?.localHostId() ?? null,
      };
      try {
        await write(this.db, async () => {
          await this.db.insert(snapshots).values(row);
          if (tags.length) await this.tags.put(accountId, [id], tags);
        });
      } catch (err) {
        await this.host.pool.removeSnapshot(id);
        throw err;
      }
      return row;
    } finally {
      this.taking.delete(id);
    }
  }

  /**
   * Whether the snapshot's file is in this host's pool: recorded as this host's, or its file is here (one recorded
   * before snapshots named their host, or by this machine under an earlier hostname).
   */
  async isHere(snap: Pick<Snapshot, 'id' | 'hostId'>): Promise<boolean> {
    const local = this.hosts?.localHostId();
    if (local === undefined || snap.hostId === local) return true;
    return (await this.host.pool.listSnapshots()).includes(snap.id);
  }

  /** Refuse to `doing` (what the caller was asked) with a snapshot kept by another host, saying where to ask instead. */
  async mustBeHere(snap: Snapshot, doing: string): Promise<void> {
    if (await this.isHere(snap)) return;
    const keeper = (await this.hosts!.list()).find((h) => h.id === snap.hostId);
    if (keeper?.state === 'removed') {
      throw new CloudError('IncorrectState', `The snapshot '${snap.id}' was kept by a host that has been removed from this cloud: it can no longer be used (DeleteSnapshot deletes it).`);
    }
    throw new CloudError('IncorrectState', keeper
      ? `The snapshot '${snap.id}' is kept by another host of this cloud than this server's (${keeper.name}, in ${keeper.availabilityZone}): ${doing} through the API of a server of that host.`
      : `The snapshot '${snap.id}' is kept by another host of this cloud than this server's: ${doing} through the API of a server of the host that took it.`);
  }

  async delete(accountId: string, id: string): Promise<void> {
    const snap = await this.get(accountId, id);
    await write(this.db, async () => {
      await this.db.delete(snapshots).where(eq(snapshots.id, id));
      await this.tags.removeAll([id]);
    });
    // Its file goes where it is: here, or on its own host, told.
    if (await this.isHere(snap)) await this.host.pool.removeSnapshot(id);
    else this.wakeups?.tell('snapshot', id);
  }

  /** Another server deleted a snapshot (snapshot:ID): its file here goes, if it is gone from the database. */
  async told(id: string): Promise<void> {
    if (!(await this.host.pool.listSnapshots()).includes(id)) return;
    await this.removeGone(id, 'it was deleted');
  }

  /**
   * At a start, before any request, and when this host hears the others again after its listener was lost: the files
   * here of snapshots that no longer exist go (deleted through another host while this one did not hear it, or a take
   * cut short before its row was written); those recorded before snapshots named their host are named this one's.
   */
  async sweep(): Promise<void> {
    const files = await this.host.pool.listSnapshots();
    // Snapshots recorded before they named their host: this one's, where their file is.
    const local = this.hosts?.localHostId();
    if (local !== undefined) {
      await byChunks(files, (chunk) => this.db.update(snapshots).set({ hostId: local }).where(and(isNull(snapshots.hostId), inArray(snapshots.id, chunk))).returning({ id: snapshots.id }));
    }
    const known = new Set((await byChunks(files, (chunk) => this.db.select({ id: snapshots.id }).from(snapshots).where(inArray(snapshots.id, chunk)))).map((r) => r.id));
    for (const id of files.filter((f) => !known.has(f))) await this.removeGone(id, 'it was deleted while this host did not hear of it');
  }

  /**
   * Remove the file of a snapshot that has no row: unless it is being taken (its row not written yet), looked at
   * first, then the row (a take that ended since the caller looked has written it).
   */
  private async removeGone(id: string, why: string): Promise<void> {
    if (this.taking.has(id)) return;
    if ((await this.db.select({ id: snapshots.id }).from(snapshots).where(eq(snapshots.id, id)).limit(1)).length) return;
    await this.host.pool.removeSnapshot(id);
    log.info(`removed ${id} here: ${why}`);
  }
}
