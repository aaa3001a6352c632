/**
 * Volumes move with their instance (issue 17). A volume's file is in the pool of one host (volumes.host_id); attached
 * to an instance on another host of its zone, it moves to that host first, over iSCSI across the underlay, and the
 * instance's host attaches it as its own (a VM's QEMU and a container's NFS mount stay on one host, as before).
 *
 * The taking host (the instance's: its server took AttachVolume) takes the volume for the instance (`attaching`) and
 * claims its move in one write (move_to: only while the volume is attached to nothing and not moving already), tells
 * `volume:ID` and answers; the rest runs in the background. The volume's host, told, exports its file on its underlay
 * address to the taking host's underlay address only, writes the export's URL in the row (move_source) and tells back.
 * The taking host copies it (qemu-img), then in one write makes the volume its own and the attachment `attached`, and
 * connects it; told, the giving host closes the export and removes its file. Failed, not answered within a heartbeat
 * timeout, detached meanwhile or given up by a restart: the move and the attachment are cleared from the row, the copy
 * removed and the giving host told (it closes its export): the volume is available where it was, nothing left behind.
 * A detach or the instance's end stops the copy at once (through any server: the taker, told, aborts it).
 *
 * Sharing: an account has at most PCLOUD_LIMIT_VOLUME_MOVES volumes moving at once (ResourceLimitExceeded past them,
 * counted in the claiming write), and copies into a host one at a time, in a line of its own before the host's few
 * copy slots: an account with many or large volumes on the move holds one slot of a host, never all of them.
 */
import { and, count, eq, inArray, isNotNull, isNull, type SQL } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { write } from '../db/store.js';
import { volumes } from '../db/tables.js';
import type { Wakeups } from '../db/wakeups.js';
import type { Host } from '../host/index.js';
import { log } from '../log.js';
import { Slots } from '../slots.js';
import type { CloudConfig } from './config.js';
import { CloudError, notFound } from './errors.js';
import { failureDetail } from './errors/host.js';
import { heard } from './hosts/liveness.js';
import type { HostRegistry, HostRow } from './hosts/registry.js';

type Volume = typeof volumes.$inferSelect;

/**
 * Whether a volume is moving between hosts. A moving volume is always attaching to the instance it moves for: a detach
 * or the instance's end gives the move up (GIVEN_UP, in the same write), whatever became of its taker.
 */
export function moving(vol: Pick<Volume, 'moveTo'>): boolean {
  return vol.moveTo !== null;
}

/** The rows a move may claim, or a removal take: not moving. */
export function notMoving(): SQL {
  return isNull(volumes.moveTo);
}

const refused = (message: string) => new CloudError('IncorrectState', message);

/**
 * How many copies of moving volumes a host makes at once, every account together; an account's own copies into a host
 * go one at a time, so an account moving many (or large) volumes holds one of these and never all.
 */
const COPIES_AT_ONCE = 3;

/** A move given up: no longer moving, and attached to nothing (it was attaching to the instance it moved for). */
export const GIVEN_UP = {
  moveTo: null, moveAt: null, moveSource: null, instanceId: null, device: null, attachState: null, attachTime: null, state: 'available',
};

/**
 * Why a volume could not be taken (attached, moved or deleted since it was read): attached meanwhile, moving to
 * another instance's host, moved, or gone.
 */
export async function whyNotTaken(db: Db, id: string): Promise<CloudError> {
  const now = (await db.select().from(volumes).where(eq(volumes.id, id)).limit(1))[0];
  if (now?.instanceId) return new CloudError('VolumeInUse', `${id} is already attached to an instance`);
  if (now && moving(now)) return refused(`The volume '${id}' is moving to the host of an instance it is being attached to: try again in a moment.`);
  if (now) return refused(`The volume '${id}' moved to the host of another instance meanwhile: try again.`);
  return notFound('InvalidVolume.NotFound', id);
}

/** A move given up by someone else (a detach, the instance's end), found so by the taker: not a failure of its own. */
class MoveGivenUp extends Error {}

export class VolumeMoves {
  /** Requests waiting for a volume's row to change (told by the giving host), by volume id. */
  private readonly waiting = new Map<string, Set<() => void>>();
  /** What is under way for a volume here, by id: one step at a time each. */
  private readonly steps = new Map<string, Promise<void>>();
  /** Copies into this host, a few at a time: many moves at once share the underlay rather than flood it. */
  private readonly copies = new Slots(() => COPIES_AT_ONCE);
  /** Each account's copies into this host, one at a time, by account id (while it has one running or waiting). */
  private readonly accountCopies = new Map<string, Slots>();
  /**
   * The moves to this host under way here, by volume id: `stop` aborts one when it is given up (a detach, say);
   * `finished` settles once its clean-up is done (a new move of the volume here waits for it).
   */
  private readonly underway = new Map<string, { stop: AbortController; finished: Promise<void> }>();

  constructor(
    private readonly db: Db,
    private readonly host: Host,
    private readonly hosts: Pick<HostRegistry, 'local' | 'list' | 'localHostId'>,
    private readonly wakeups: Pick<Wakeups, 'tell'>,
    private readonly config: Pick<CloudConfig, 'hosts' | 'limits'>,
  ) {}

  /** This host's id, once registered: recorded as a new volume's. */
  hostId(): string | undefined {
    return this.hosts.localHostId();
  }

  /** Whether the volume's file is in this host's pool (a volume recorded without a host: if its file is here). */
  async isHere(vol: Pick<Volume, 'id' | 'hostId'>): Promise<boolean> {
    const local = this.hosts.localHostId();
    if (vol.hostId === null || local === undefined) return (await this.host.pool.listVolumes()).includes(vol.id);
    return vol.hostId === local;
  }

  /**
   * Take an available volume of another host for an instance of this host (attaching, at `device`), and claim its move
   * here, in one write; or refuse saying why. complete() moves it.
   */
  async begin(vol: Volume, instanceId: string, device: string): Promise<Pick<Volume, 'instanceId' | 'device' | 'attachState' | 'attachTime' | 'state' | 'moveAt'>> {
    // An earlier move of it here, given up, finishes its clean-up (its copy removed, its row freed) before a new one.
    await this.underway.get(vol.id)?.finished;
    const [here, all] = await Promise.all([this.hosts.local(), this.hosts.list()]);
    const from = all.find((h) => h.id === vol.hostId);
    if (!here || !from || from.state === 'removed') throw refused(`The volume '${vol.id}' is on a host that has left this cloud: it can no longer be attached.`);
    if (!here.address || !from.address) {
      throw refused(`The volume '${vol.id}' is on another host of this cloud, and a volume moves only between hosts joined over an underlay: attach it to an instance of its own host.`);
    }
    if (!heard(from, this.config.hosts, Date.now())) {
      throw refused(`The volume '${vol.id}' is on a host of this cloud that is not heard from: it moves to the instance's host when attached, once its host answers again. Try again then.`);
    }
    const now = Date.now();
    const set = { instanceId, device, attachState: 'attaching', attachTime: now, state: 'in-use' };
    const claimed = await write(this.db, async (tx) => {
      const taken = await tx.select({ id: volumes.id }).from(volumes).where(and(eq(volumes.instanceId, instanceId), eq(volumes.device, device))).limit(1);
      if (taken.length) throw new CloudError('InvalidParameterValue', `Attachment point ${device} is already in use`);
      const claims = (await tx.update(volumes).set({ ...set, moveTo: here.id, moveAt: now, moveSource: null })
        .where(and(eq(volumes.id, vol.id), eq(volumes.hostId, from.id), isNull(volumes.instanceId), notMoving())).returning({ id: volumes.id })).length;
      if (!claims) return 0;
      // Counted in the transaction that claims (write-locked from its start: two attachments at once cannot both pass),
      // this claim included; past the limit, the claim is rolled back with the refusal.
      const limit = this.config.limits.volumeMoves;
      const n = (await tx.select({ n: count() }).from(volumes).where(and(eq(volumes.accountId, vol.accountId), isNotNull(volumes.moveTo))))[0]?.n ?? 0;
      if (n > limit) {
        throw new CloudError('ResourceLimitExceeded', `You have exceeded an Amazon EC2 resource limit: your account may have ${limit} volumes moving to the hosts of the instances they are attached to at once, and has ${n - 1}. `
          + 'Try again once one of them is attached (DescribeVolumes), or attach this volume to an instance on its own host.');
      }
      return claims;
    });
    if (!claimed) throw await whyNotTaken(this.db, vol.id);
    this.wakeups.tell('volume', vol.id);
    return { ...set, moveAt: now };
  }

  /**
   * Move a volume begin() took here: wait for its host's export, copy it, make it this host's (still attaching: the
   * instance's side connects it), in one write. Whether it did; if not, nothing is left of it here and it is available
   * where it was.
   */
  async complete(vol: Volume, instanceId: string, moveAt: number): Promise<boolean> {
    const hereId = this.hosts.localHostId()!;
    const file = this.host.pool.volumePath(vol.id);
    let finished!: () => void;
    const underway = { stop: new AbortController(), finished: new Promise<void>((resolve) => { finished = resolve; }) };
    this.underway.set(vol.id, underway);
    // This claim's row: moving here since moveAt (another claim of it, later, is not this one's to change).
    const mine = and(eq(volumes.id, vol.id), eq(volumes.moveTo, hereId), eq(volumes.moveAt, moveAt));
    const signal = underway.stop.signal;
    try {
      const source = await this.sourceOf(vol.id, hereId, vol.hostId!, signal);
      // At least about 30 MB/s: a volume whose copy takes longer is given up (and stays where it was). The account's
      // line first, then the host's: an account has one copy at a time here, waiting or running.
      await this.copyLine(vol.accountId, () => this.copies.run(() => this.host.iscsi.copyFrom(source, file, 60_000 + vol.sizeGiB * 30_000, signal), signal), signal);
      signal.throwIfAborted();
      const taken = await write(this.db, async (tx) => (await tx.update(volumes).set({ hostId: hereId, moveTo: null, moveAt: null, moveSource: null })
        .where(and(mine, eq(volumes.instanceId, instanceId))).returning({ id: volumes.id })).length);
      if (!taken) throw new MoveGivenUp('the volume was detached or changed while it moved');
    } catch (err) {
      // A commit whose answer was lost is a move done: the copy is the volume now.
      const row = await this.db.select({ hostId: volumes.hostId }).from(volumes).where(eq(volumes.id, vol.id)).limit(1).catch(() => []);
      if (row[0]?.hostId === hereId) return true;
      if (signal.aborted || err instanceof MoveGivenUp) {
        log.info(`moving ${vol.id} here from host ${vol.hostId} for ${instanceId} stopped: ${((signal.aborted ? signal.reason : err) as Error).message}`);
      }
      else log.warn(`moving ${vol.id} here from host ${vol.hostId} for ${instanceId} failed, given up: ${failureDetail(err)}`);
      await this.host.pool.removeVolume(vol.id).catch((e: Error) => log.warn(`removing the copy of ${vol.id}: ${e.message}`));
      await this.db.update(volumes).set(GIVEN_UP).where(mine);
      this.wakeups.tell('volume', vol.id);
      return false;
    } finally {
      if (this.underway.get(vol.id) === underway) this.underway.delete(vol.id);
      finished();
    }
    this.wakeups.tell('volume', vol.id);
    log.info(`moved ${vol.id} here from host ${vol.hostId} for ${instanceId}`);
    return true;
  }

  /**
   * The URL the giving host exports the volume at, once it does: within a heartbeat timeout, and while that host is
   * heard from.
   */
  private async sourceOf(volumeId: string, hereId: string, fromId: string, signal: AbortSignal): Promise<string> {
    const deadline = Date.now() + this.config.hosts.heartbeatTimeoutSec * 1000;
    const late = () => new Error(`its host did not export it within ${this.config.hosts.heartbeatTimeoutSec} s, or stopped being heard from`);
    for (;;) {
      signal.throwIfAborted();
      const row = (await this.db.select().from(volumes).where(eq(volumes.id, volumeId)).limit(1))[0];
      if (row?.moveTo !== hereId) throw new MoveGivenUp('the volume was deleted or its move given up meanwhile');
      if (row.moveSource) return row.moveSource;
      const from = (await this.hosts.list()).find((h) => h.id === fromId);
      const left = deadline - Date.now();
      if (left <= 0 || !from || !heard(from, this.config.hosts, Date.now())) throw late();
      // Woken when the giving host tells; the row read again at least once a second (a wake-up is a hint).
      await this.changeOf(volumeId, Math.min(left, 1000));
    }
  }

  private changeOf(volumeId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiting.get(volumeId) ?? new Set<() => void>();
      this.waiting.set(volumeId, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (!set.size && this.waiting.get(volumeId) === set) this.waiting.delete(volumeId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  /** Run `copy` in the account's line of copies into this host (one at a time); the line goes when it is empty. */
  private async copyLine(accountId: string, copy: () => Promise<void>, signal: AbortSignal): Promise<void> {
    const line = this.accountCopies.get(accountId) ?? new Slots(() => 1);
    this.accountCopies.set(accountId, line);
    try {
      await line.run(copy, signal);
    } finally {
      if (!line.load && this.accountCopies.get(accountId) === line) this.accountCopies.delete(accountId);
    }
  }

  /** Tell the other hosts the volume changed (its host removes its file if it was deleted). */
  tell(volumeId: string): void {
    this.wakeups.tell('volume', volumeId);
  }

  /**
   * The volume's move was given up here (a detach, the instance's end, in the write that did): its copy, if this
   * process is making it, stops now rather than run to its end; the other hosts are told.
   */
  givenUp(volumeId: string): void {
    this.underway.get(volumeId)?.stop.abort(new Error('the move was given up (detached, or its instance ended)'));
    this.tell(volumeId);
  }

  /** Another host changed the volume (volume:ID): a request waiting on it reads it again; this host does its part. */
  told(volumeId: string): Promise<void> {
    for (const done of [...(this.waiting.get(volumeId) ?? [])]) done();
    const before = this.steps.get(volumeId) ?? Promise.resolve();
    const step = before.then(() => this.follow(volumeId)).catch((err: Error) => log.warn(`following ${volumeId}: ${err.message}`))
      .finally(() => { if (this.steps.get(volumeId) === step) this.steps.delete(volumeId); });
    this.steps.set(volumeId, step);
    return step;
  }

  /** This host's part in a volume's state: export what moves from here, close what moved, remove what is not ours. */
  private async follow(volumeId: string): Promise<void> {
    const here = await this.hosts.local();
    if (!here) return;
    // The copy under way before the row is read: a move claimed meanwhile is not the one this row can say was given up.
    const underway = this.underway.get(volumeId);
    const row = (await this.db.select().from(volumes).where(eq(volumes.id, volumeId)).limit(1))[0];
    // A move here given up elsewhere (detached through another server, deleted): its copy stops.
    if (row?.moveTo !== here.id) underway?.stop.abort(new Error('the move was given up elsewhere'));
    if (row && row.hostId === here.id) {
      if (moving(row)) await this.give(row, here);
      // A move ended (or given up): its export closes. A volume attached here keeps its own (a VM's).
      else if (!row.instanceId) await this.host.iscsi.unexport(volumeId);
      return;
    }
    // Deleted, or moved to another host: its file here goes. Only then: a row naming a host this machine no longer is
    // (its hostname changed, a data dir restored elsewhere) or one not heard from keeps its file; so does the copy of a
    // move to here, under way.
    if (row && !(await this.movedAway(row, here))) return;
    if (!(await this.host.pool.listVolumes()).includes(volumeId)) return;
    await this.host.iscsi.unexport(volumeId).catch((err: Error) => log.warn(`closing the export of ${volumeId}: ${err.message}`));
    await this.host.pool.removeVolume(volumeId);
    log.info(`removed ${volumeId} here: ${row ? `it is host ${row.hostId}'s now` : 'it was deleted'}`);
  }

  /** Whether a volume's row says it moved from this host to another: both joined over an underlay, that one heard. */
  private async movedAway(row: Volume, here: HostRow): Promise<boolean> {
    if (row.hostId === null || row.hostId === here.id || row.moveTo === here.id || !here.address) return false;
    const owner = (await this.hosts.list()).find((h) => h.id === row.hostId);
    return !!owner?.address && owner.state !== 'removed' && heard(owner, this.config.hosts, Date.now());
  }

  /** Export a volume of this host to the host taking it (its underlay address only) and say where. */
  private async give(row: Volume, here: HostRow): Promise<void> {
    const to = (await this.hosts.list()).find((h) => h.id === row.moveTo);
    if (!to?.address || !here.address) return; // the taker gives up in time
    await this.host.iscsi.ensure();
    await this.host.iscsi.addPortal(here.address);
    await this.host.iscsi.export(row.id, this.host.pool.volumePath(row.id), to.address, { readOnly: true });
    if (row.moveSource) return;
    const source = this.host.iscsi.uri(row.id, here.address);
    const told = await this.db.update(volumes).set({ moveSource: source })
      .where(and(eq(volumes.id, row.id), eq(volumes.hostId, here.id), eq(volumes.moveTo, to.id), isNull(volumes.moveSource))).returning({ id: volumes.id });
    if (told.length) this.wakeups.tell('volume', row.id);
  }

  /**
   * Catch up (a start, wake-ups lost): moves to this host that a previous process left are given up; moves from it
   * are exported again (tgtd may have restarted); exports of moves that ended or were given up meanwhile close; files
   * of volumes that are other hosts' now go. With `orphans` (a start, before any request: no volume is being created)
   * also files of volumes that no longer exist.
   */
  async sweep(orphans: boolean): Promise<void> {
    const here = await this.hosts.local();
    if (!here) return;
    const files = await this.host.pool.listVolumes();
    if (orphans) {
      const abandoned = await this.db.update(volumes).set(GIVEN_UP).where(eq(volumes.moveTo, here.id)).returning({ id: volumes.id });
      for (const { id } of abandoned) this.wakeups.tell('volume', id);
      // Volumes recorded before they named their host: this one's, where their file is.
      if (files.length) await this.db.update(volumes).set({ hostId: here.id }).where(and(isNull(volumes.hostId), inArray(volumes.id, files)));
    }
    const rows = files.length ? await this.db.select({ id: volumes.id, hostId: volumes.hostId }).from(volumes).where(inArray(volumes.id, files)) : [];
    const hostOf = new Map(rows.map((r) => [r.id, r.hostId]));
    const elsewhere = files.filter((id) => hostOf.has(id) ? ![null, here.id].includes(hostOf.get(id)!) : orphans);
    const giving = await this.db.select({ id: volumes.id }).from(volumes).where(and(eq(volumes.hostId, here.id), isNotNull(volumes.moveTo)));
    // Exports here: each looked at again (one of a move no longer under way, or of a volume attached to nothing, closes).
    const exported = await this.host.iscsi.exportedVolumes();
    const ids = new Set([...elsewhere, ...giving.map((r) => r.id), ...exported]);
    for (const id of ids) await this.told(id);
  }
}
