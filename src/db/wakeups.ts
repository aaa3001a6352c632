/**
 * Wake-ups between the pcloud processes on one state database (issue 17). A change one process makes that another
 * host must act on is told, never polled for: `host:ID` (an instance placed on that host is to be launched, stopped or
 * ended there: its agent converges) and `vpc:ID` (the VPC's instances came, went or changed hosts: every host with a
 * router for it syncs its overlay, names and rules) and `reboot:ID` (RebootInstances of an instance there: a request,
 * as EC2's, not a state), `volume:ID` (a volume moves between hosts, moved, or was deleted away from its host:
 * cloud/volume-moves.ts), `snapshot:ID` (a snapshot deleted away from the host keeping its file: cloud/snapshots.ts)
 * and `functions:ACCOUNT` (the account's functions changed: every host's units and nginx routes follow) and
 * `iam:ACCOUNT` (IAM changed: every server drops what it keeps of IAM, cloud/iam/generation.ts). On PostgreSQL it is
 * LISTEN/NOTIFY on one channel, on a connection of the pool kept for it; a connection lost is made again, and the
 * listener told to catch up on what it missed. A connection can be lost without a word (the server's backend stalled,
 * the peer gone without a reset): every two seconds the listener tells itself a notice on its own connection (a
 * channel of its own), and a notice not back within four has the connection taken as lost (listened again with
 * backoff, which starts over once a new connection has proved itself). hearing() holds only while
 * the last one came back within five seconds (a stalled one is given up within six): what trusts notices (IAM's, cloud/iam/generation.ts) reads the database
 * instead as soon as that lapses. On SQLite (one file in one data dir: one process, one host) nothing crosses
 * processes and nothing is told.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { log } from '../log.js';
import type { Db } from './index.js';
import { dialect } from './tables.js';

export type WakeTopic = 'host' | 'vpc' | 'reboot' | 'volume' | 'snapshot' | 'functions' | 'iam';

export interface Wakeups {
  /** Tell the other processes (after the change is committed); a failure is logged (the others catch up later). */
  tell(topic: WakeTopic, id: string): void;
  /** tell(), resolved once the database has taken the notice (never rejected: a failure is logged). */
  tellNow(topic: WakeTopic, id: string): Promise<void>;
  /**
   * Whether this process hears the others now: listening, on a connection not lost since. What they tell from here on
   * reaches it (what was told before, or while not hearing, did not).
   */
  hearing(): boolean;
  /**
   * Hear what the others tell, and `caughtUp` once listening again after the connection was lost (wake-ups sent
   * meanwhile were missed: the listener looks at everything).
   */
  listen(heard: (topic: WakeTopic, id: string) => void, caughtUp: () => void): Promise<void>;
  close(): Promise<void>;
}

/** The one channel every pcloud listens on. */
const CHANNEL = 'pcloud_wakeups';
/**
 * What a payload may be: a topic, one of pcloud's ids, and the process that told it (anything else on the channel is
 * not ours). A process does not hear its own: it acted already.
 */
const PAYLOAD = /^(?:(host|vpc|reboot|volume|snapshot):([a-z]{1,8}-[0-9a-f]{1,32})|(functions|iam):([0-9]{12})):([0-9a-f]{16})$/;

/** How often the listener proves its connection, how long a proof may take, how old the last may be while hearing. */
export interface Liveness { everyMs: number; answerMs: number; heardMs: number }
const LIVENESS: Liveness = { everyMs: 2000, answerMs: 4000, heardMs: 5000 };

/** The wake-ups of the database this process runs on (`liveness`: the listener's proofs, for tests). */
export function wakeupsOf(db: Db, liveness: Liveness = LIVENESS): Wakeups {
  return dialect === 'pg' ? new PgWakeups(db.$client as unknown as pg.Pool, liveness) : new NoWakeups();
}

/** SQLite: one process per database, so nobody else to tell. */
class NoWakeups implements Wakeups {
  tell(): void {}
  async tellNow(): Promise<void> {}
  hearing(): boolean {
    return false;
  }
  async listen(): Promise<void> {}
  async close(): Promise<void> {}
}

class PgWakeups implements Wakeups {
  private client?: pg.PoolClient;
  private closed = false;
  private retry?: NodeJS.Timeout;
  private prover?: NodeJS.Timeout;
  private readonly origin = randomBytes(8).toString('hex');
  /** The channel only this process listens on: its proofs that its connection still hears. */
  private readonly own = `pcloud_alive_${this.origin}`;
  /** When the listening connection last proved it hears (a notice of its own came back on it). */
  private provenAt = 0;

  constructor(private readonly pool: pg.Pool, private readonly liveness: Liveness) {}

  tell(topic: WakeTopic, id: string): void {
    void this.tellNow(topic, id);
  }

  async tellNow(topic: WakeTopic, id: string): Promise<void> {
    if (this.closed) return;
    await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, `${topic}:${id}:${this.origin}`])
      .catch((err: Error) => log.warn(`telling other hosts (${topic} ${id}): ${err.message}`));
  }

  hearing(): boolean {
    return this.client !== undefined && Date.now() - this.provenAt <= this.liveness.heardMs;
  }

  /**
   * Every `everyMs`, a notice on its own channel sent on the listening connection: it comes back on it before the query
   * that sent it answers (`proved`); the connection is lost (`lost`) when that query failed, or has not answered after
   * `answerMs` (seen at the next tick: within answerMs + everyMs).
   */
  private prove(mine: pg.PoolClient, lost: (err: Error) => void, proved: () => void): void {
    let asked = 0;
    let nonce = '';
    mine.on('notification', (msg) => {
      if (msg.channel !== this.own || msg.payload !== nonce || this.client !== mine) return;
      this.provenAt = Date.now();
      proved();
    });
    const tick = (): void => {
      if (this.client !== mine) return;
      if (asked) {
        // (Looked at again once what the socket holds is read: a loop that stalled past it is not the connection's fault.)
        if (Date.now() - asked > this.liveness.answerMs) {
          setImmediate(() => {
            if (asked && this.client === mine) lost(new Error(`its own notice did not come back within ${this.liveness.answerMs / 1000} s`));
          });
        }
        return;
      }
      asked = Date.now();
      nonce = randomBytes(8).toString('hex');
      mine.query('SELECT pg_notify($1, $2)', [this.own, nonce]).then(() => { asked = 0; }, (err: Error) => lost(err));
    };
    clearInterval(this.prover);
    this.prover = setInterval(tick, this.liveness.everyMs);
    this.prover.unref();
  }

  async listen(heard: (topic: WakeTopic, id: string) => void, caughtUp: () => void): Promise<void> {
    let delay = 1000;
    const connect = async (again: boolean): Promise<void> => {
      if (this.closed) return;
      let client: pg.PoolClient | undefined;
      try {
        client = await this.pool.connect();
        const mine = client;
        const lost = (err?: Error) => {
          if (this.client !== mine) return;
          this.client = undefined;
          clearInterval(this.prover);
          mine.removeAllListeners('notification');
          mine.release(err ?? true);
          if (this.closed) return;
          log.warn(`the database's wake-ups were lost${err ? ` (${err.message})` : ''}: listening again in ${delay / 1000} s`);
          this.retry = setTimeout(() => void connect(true), delay);
          delay = Math.min(delay * 2, 30_000);
        };
        mine.on('notification', (msg) => {
          const m = msg.channel === CHANNEL ? PAYLOAD.exec(msg.payload ?? '') : null;
          if (m && m[5] !== this.origin) heard((m[1] ?? m[3]) as WakeTopic, (m[2] ?? m[4])!);
        });
        mine.on('error', lost);
        mine.on('end', () => lost());
        await mine.query(`LISTEN ${CHANNEL}; LISTEN ${this.own}`);
        if (this.closed) {
          mine.removeAllListeners('notification');
          mine.release(true);
          return;
        }
        this.client = mine;
        this.provenAt = Date.now();
        // The backoff starts over once this connection has proved it hears (not merely connected).
        this.prove(mine, lost, () => { delay = 1000; });
        if (again) caughtUp();
      } catch (err) {
        if (client && this.client !== client) client.release(true);
        if (this.closed) return;
        if (!again) throw err;
        log.warn(`listening for the database's wake-ups: ${(err as Error).message}; again in ${delay / 1000} s`);
        delay = Math.min(delay * 2, 30_000);
        this.retry = setTimeout(() => void connect(true), delay);
      }
    };
    await connect(false);
  }

  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.prover);
    const client = this.client;
    this.client = undefined;
    if (client) {
      // Ended, not given back: its LISTENs end with it, and a stalled connection is not waited on.
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.release(true);
    }
    return Promise.resolve();
  }
}
