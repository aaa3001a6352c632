/**
 * Images on a joined host (issue 17): an image this host lacks is fetched from the control plane (host/image-source.ts)
 * once, however many launches ask for it at once, and unpacked into this host's pool ahead of the fork, so a launch
 * still only forks. Its image id names it in the pool as anywhere (an image never changes); the transfer is checked
 * against the sha256 the control plane recorded in the database (image-export.ts) while it streams, before anything
 * is unpacked. The tar is hostile all the same (host/image-tar.ts). Everything in the making is under `.fetch-<id>`,
 * marked as this process's: a fetch that fails removes it, and one a crash cut short is removed by Images.reconcile.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/index.js';
import { images, instances } from '../db/tables.js';
import { removeDeviceNodes } from '../host/images.js';
import type { ImageSource } from '../host/image-source.js';
import { replaceDir, spool, unpackImage } from '../host/image-tar.js';
import type { HostPool } from '../host/index.js';
import { log } from '../log.js';

/** What of an image a host needs to know to hold it: its id and whether it has a root ('' for a disk image). */
export interface ImageFiles {
  id: string;
  rootPath: string;
}

/** The image `pcloud serve` builds and most launches use (cli/main.ts): fetched ahead on every joined host. */
const DEFAULT_IMAGE = 'debian-12';
/** The states of instances whose image a (re)launch here forks or boots (a VM boots its image's kernel each start). */
const USING = ['pending', 'running', 'stopping', 'stopped'];
const SHA256 = /^[0-9a-f]{64}$/;

export class ImageFetch {
  /** Fetches under way, by image: a launch that asks meanwhile waits for the same one. */
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(private readonly db: Db, private readonly pool: HostPool, private readonly source: ImageSource) {}

  /** This host's root of the image ('' for a disk image), fetched first if this host lacks the image's files. */
  async local(image: ImageFiles): Promise<string> {
    if (!this.has(image)) await this.once(image);
    return image.rootPath ? this.pool.imagePath(image.id) : '';
  }

  /**
   * Fetch ahead, one after the other, what launches here will ask for: the default image and the images of this
   * host's instances that may launch again (a fetch for a launch meanwhile is the same fetch). Returns how many were
   * fetched; one that fails is logged, the next launch of it tries again.
   */
  async prefetch(hostId: string): Promise<number> {
    const wanted = [
      ...await this.db.select({ id: images.id, rootPath: images.rootPath }).from(images)
        .where(and(eq(images.name, DEFAULT_IMAGE), eq(images.isPublic, true), eq(images.state, 'available'))),
      ...await this.db.selectDistinct({ id: images.id, rootPath: images.rootPath }).from(instances)
        .innerJoin(images, eq(images.id, instances.imageId))
        .where(and(eq(instances.hostId, hostId), inArray(instances.state, USING), eq(images.state, 'available'))),
    ];
    let fetched = 0;
    for (const image of new Map(wanted.map((w) => [w.id, w])).values()) {
      if (this.has(image)) continue;
      await this.once(image).then(() => fetched++, (err: unknown) => log.warn(`fetching the image ${image.id} ahead: ${(err as Error).message}`));
    }
    return fetched;
  }

  /** Whether the image's files are in this host's pool (each appears whole, by a rename, once unpacked). */
  has(image: ImageFiles): boolean {
    return existsSync(image.rootPath ? this.pool.imagePath(image.id) : this.pool.vmDir(image.id));
  }

  private once(image: ImageFiles): Promise<void> {
    let fetch = this.fetching.get(image.id);
    if (!fetch) {
      fetch = this.fetch(image).finally(() => this.fetching.delete(image.id));
      this.fetching.set(image.id, fetch);
    }
    return fetch;
  }

  private async fetch(image: ImageFiles): Promise<void> {
    const started = performance.now();
    const name = `.fetch-${image.id}`;
    const root = image.rootPath ? await this.pool.createImageRoot(name) : undefined;
    if (!root) await this.pool.markOwner(name);
    // The tar and the VM files land beside the root, in the pool (root's only), and go with it should this fail.
    const stage = this.pool.vmDir(name);
    try {
      await rm(stage, { recursive: true, force: true });
      await mkdir(stage, { mode: 0o700 });
      const tar = join(stage, 'image.tar');
      const sent = await this.source.open(image.id);
      // Read once the control plane answered: it records the hash before it sends the tar.
      const recorded = (await this.db.select({ sha: images.contentSha256 }).from(images).where(eq(images.id, image.id)).limit(1))[0]?.sha;
      if (!recorded || sent.sha256 !== recorded) {
        sent.body.destroy();
        const named = SHA256.test(sent.sha256) ? sent.sha256 : 'no sha256';
        throw new Error(`the control plane sent the image ${image.id} as ${named}, but the database records ${recorded ?? 'none'} for it: not taken`);
      }
      const got = await spool(sent.body, tar);
      if (got.sha256 !== recorded) throw new Error(`the image ${image.id} arrived with the sha256 ${got.sha256}, not the ${recorded} recorded for it: not taken`);
      const vm = join(stage, 'vm');
      await unpackImage(tar, { root, vm });
      await rm(tar);
      // As an imported image's (images.ts register): a device node opens the host's device of its numbers.
      if (root) await removeDeviceNodes(root);
      if (!root || (await readdir(vm)).length) await replaceDir(vm, this.pool.vmDir(image.id));
      await rm(stage, { recursive: true, force: true });
      if (root) await this.pool.sealImage(root, image.id);
      else await this.pool.markOwner(name, false);
      log.info(`image ${image.id} fetched from the control plane (${got.size} bytes, ${Math.round(performance.now() - started)} ms)`);
    } catch (err) {
      await this.pool.removeImage(name).catch((e: unknown) => log.warn(`removing ${name}: ${(e as Error).message}`));
      throw err;
    }
  }
}
