/**
 * Images for hosts that lack them (issue 17), on the control plane: an image's files as one tar (host/image-tar.ts),
 * made once and kept in DATA/cache/exports/<sha256>.tar, its sha256 recorded on the image's row (content_sha256) so
 * that hosts check what they fetch against the database (image-fetch.ts). Made again only when the file is gone; a
 * tar no image records any longer goes when the next one is made.
 */
import { eq, isNotNull } from 'drizzle-orm';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/index.js';
import { write } from '../db/store.js';
import { images } from '../db/tables.js';
import { packImage, sha256File } from '../host/image-tar.js';
import type { HostPool } from '../host/index.js';
import { log } from '../log.js';
import { CloudError } from './errors.js';

/** The header the tar's sha256 is sent in (the host side reads it: host/image-source.ts). */
export { CONTENT_SHA256 } from '../host/image-source.js';

/** An image's tar, ready to send. */
export interface ImageExport {
  file: string;
  sha256: string;
  size: number;
}

const TAR = /^([0-9a-f]{64})\.tar$/;

export class ImageExports {
  /** Tars being made, by image: requests for one image at once share its making. */
  private readonly making = new Map<string, Promise<ImageExport>>();
  /** What an earlier process left half-made, removed before this one makes its first. */
  private swept?: Promise<void>;

  constructor(private readonly db: Db, private readonly pool: HostPool, private readonly dir: string) {}

  /** The image's tar: the one made before if it is still there, else made now (once, however many ask). */
  async export(imageId: string): Promise<ImageExport> {
    const row = (await this.db.select().from(images).where(eq(images.id, imageId)).limit(1))[0];
    if (!row || row.state !== 'available') throw new CloudError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
    if (row.contentSha256) {
      const file = join(this.dir, `${row.contentSha256}.tar`);
      const size = await stat(file).then((s) => s.size, () => undefined);
      if (size !== undefined) return { file, sha256: row.contentSha256, size };
    }
    let made = this.making.get(imageId);
    if (!made) {
      made = this.make(imageId, row.rootPath !== '').finally(() => this.making.delete(imageId));
      this.making.set(imageId, made);
    }
    return made;
  }

  private async make(imageId: string, hasRoot: boolean): Promise<ImageExport> {
    const root = hasRoot ? this.pool.imagePath(imageId) : undefined;
    const vm = this.pool.vmDir(imageId);
    // The files are where the image was built or imported: another server of this cloud may be that host.
    if (root ? !existsSync(root) : !existsSync(vm)) {
      throw new CloudError('IncorrectState', `The files of the image '${imageId}' are not on this server: fetch it from the control plane of the host that built or imported it.`);
    }
    await mkdir(this.dir, { recursive: true });
    this.swept ??= this.sweepParts();
    await this.swept;
    const part = join(this.dir, `.part-${imageId}.tar`);
    try {
      await packImage({ root, vm: existsSync(vm) ? vm : undefined }, part);
      const { sha256, size } = await sha256File(part);
      const file = join(this.dir, `${sha256}.tar`);
      await rename(part, file);
      await write(this.db, async (tx) => { await tx.update(images).set({ contentSha256: sha256 }).where(eq(images.id, imageId)); });
      log.info(`image ${imageId}: its tar for hosts made (${size} bytes, sha256 ${sha256})`);
      await this.prune().catch((err) => log.warn(`image exports: ${(err as Error).message}`));
      return { file, sha256, size };
    } finally {
      await rm(part, { force: true });
    }
  }

  /** Half-made tars of an earlier process (one server per data dir: none is this one's yet). */
  private async sweepParts(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith('.part-') || name.startsWith('.empty-')) await rm(join(this.dir, name), { recursive: true, force: true });
    }
  }

  /** Tars no image records (deregistered images', or made again): a host fetching one still reads its open file. */
  private async prune(): Promise<void> {
    const kept = new Set((await this.db.select({ sha: images.contentSha256 }).from(images).where(isNotNull(images.contentSha256))).map((r) => r.sha));
    for (const name of await readdir(this.dir)) {
      const sha = TAR.exec(name)?.[1];
      if (sha && !kept.has(sha)) await rm(join(this.dir, name), { force: true });
    }
  }
}
