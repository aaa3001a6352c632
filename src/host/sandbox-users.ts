/**
 * The users sandboxed units (function versions' handlers) run as under the direct unit manager: one per unit, from the
 * range systemd keeps for DynamicUser= (61184-65519: no account of the host's own has one), so no two live functions
 * share a user (one cannot signal, read the /tmp files of, or share the limits of another).
 *
 * A unit's user is the first free one from a point its key (the unit's name) and data dir choose, so it is the same
 * each time while it is free. Taken users are recorded host-wide (several pcloud servers, each with its own data dir,
 * share the host's users): one file per user in /run/pcloud/uids, created exclusively (O_EXCL), naming the data dir
 * and the unit that holds it (found again after a restart). A record whose data dir is gone is stale and taken over.
 * Claimed when the direct manager starts the unit, released when it removes it (units/direct.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SANDBOX_UID_DIR } from './config.js';
import { SANDBOX_UID_FIRST, SANDBOX_UID_LAST } from '../runtime/sandbox-range.js';

export { SANDBOX_UID_FIRST, SANDBOX_UID_LAST };

export class SandboxUsers {
  private readonly held = new Map<string, number>();

  constructor(
    private readonly dataDir: string,
    private readonly registry = SANDBOX_UID_DIR,
    private readonly first = SANDBOX_UID_FIRST,
    private readonly last = SANDBOX_UID_LAST,
  ) {}

  private owner(key: string): string {
    return JSON.stringify({ dataDir: this.dataDir, key });
  }

  /** The user of the unit `key`, claimed for it (the one it had, while it holds it). */
  async claim(key: string): Promise<number> {
    const had = this.held.get(key) ?? await this.find(key);
    if (had !== undefined && (await this.holder(had)) === this.owner(key)) {
      this.held.set(key, had);
      return had;
    }
    await mkdir(this.registry, { recursive: true, mode: 0o700 });
    const size = this.last - this.first + 1;
    const start = createHash('sha256').update(this.owner(key)).digest().readUInt32BE(0) % size;
    for (let i = 0; i < size; i++) {
      const uid = this.first + ((start + i) % size);
      if (await this.take(uid, key)) {
        this.held.set(key, uid);
        return uid;
      }
    }
    throw new Error('No sandbox user is free on this host: too many functions are running; delete some or try again later.');
  }

  /** The unit no longer runs: its user is free for others. Returns the user it had (if it held one). */
  async release(key: string): Promise<number | undefined> {
    const uid = this.held.get(key) ?? await this.find(key);
    this.held.delete(key);
    if (uid === undefined || (await this.holder(uid)) !== this.owner(key)) return undefined;
    await rm(join(this.registry, String(uid)), { force: true });
    return uid;
  }

  private async holder(uid: number): Promise<string | undefined> {
    return readFile(join(this.registry, String(uid)), 'utf8').catch(() => undefined);
  }

  private async take(uid: number, key: string): Promise<boolean> {
    const file = join(this.registry, String(uid));
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(file, this.owner(key), { flag: 'wx', mode: 0o600 });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await this.holder(uid);
      if (holder === this.owner(key)) return true;
      if (holder === undefined || !this.stale(holder)) return false;
      await rm(file, { force: true });
    }
    return false;
  }

  /** A record of a data dir that no longer exists (or unreadable garbage). */
  private stale(holder: string): boolean {
    try {
      const { dataDir } = JSON.parse(holder) as { dataDir?: unknown };
      return typeof dataDir !== 'string' || !existsSync(dataDir);
    } catch {
      return true;
    }
  }

  /** The user recorded for key by an earlier process of this data dir (after a restart). */
  private async find(key: string): Promise<number | undefined> {
    const files = await readdir(this.registry).catch(() => [] as string[]);
    for (const f of files) {
      const uid = Number(f);
      if (Number.isInteger(uid) && uid >= this.first && uid <= this.last && (await this.holder(uid)) === this.owner(key)) return uid;
    }
    return undefined;
  }
}
