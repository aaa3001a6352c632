/**
 * Some names pcloud makes are host-wide: network namespaces, and units under systemd. Each records the data dir that
 * made it in /run/pcloud/owners/KIND/NAME (gone at reboot, as they are), so a server reconciling takes down only its
 * own and two data dirs on one host leave each other alone. A name with no record (made by an older pcloud) is claimed
 * by the first server that looks.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const OWNERS_ROOT = '/run/pcloud/owners';

export class Owners {
  readonly dir: string;
  private readonly owner: string;

  constructor(kind: 'netns' | 'units', dataDir: string) {
    this.dir = join(OWNERS_ROOT, kind);
    this.owner = resolve(dataDir);
  }

  async claim(name: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(join(this.dir, name), this.owner);
  }

  async release(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true });
  }

  /** Every name recorded as this data dir's. */
  async recorded(): Promise<string[]> {
    const out: string[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (await readFile(join(this.dir, name), 'utf8').catch(() => '') === this.owner) out.push(name);
    }
    return out;
  }

  /** Those of `names` that are this data dir's (claiming those nobody has). */
  async mine(names: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const name of names) {
      const owner = await readFile(join(this.dir, name), 'utf8').catch(() => undefined);
      if (owner === undefined) await this.claim(name);
      else if (owner !== this.owner) continue;
      out.push(name);
    }
    return out;
  }
}
