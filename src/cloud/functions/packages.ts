/**
 * Deployment packages by content, for a cloud of several hosts (issue 17): a function created or updated through one
 * host's API runs on every host (any host's nginx serves its URL, any host's API invokes it), so each host must have
 * its code. The zips (a function's, a layer's) are kept in the shared state database by sha256 while something names
 * them; a host that lacks a revision's code or a layer's content takes the zip from there, checks its hash and unpacks
 * it once, before the function's unit starts (nginx's routes are synced with the code in place: an invoke only starts).
 *
 * On SQLite (one host: the code is unpacked where the API took it) nothing is kept: `shared` is false.
 */
import { createHash } from 'node:crypto';
import { count, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { jsonMember, layersHold } from '../../db/sql.js';
import { write } from '../../db/store.js';
import { functionPackages, functions, functionVersions, lambdaLayerVersions } from '../../db/tables.js';
import type { HostFunctions } from '../../host/index.js';
import { isDigest } from '../../host/layers.js';
import { log } from '../../log.js';
import { CloudError } from '../errors.js';
import type { FunctionView } from './types.js';

/** A package's sha256 as hex (its address here and a layer's on the host) from Lambda's base64 (CodeSha256). */
export const hexOf = (base64: string): string => Buffer.from(base64, 'base64').toString('hex');

const any = async (q: Promise<{ n: number }[]>): Promise<boolean> => ((await q)[0]?.n ?? 0) > 0;

/**
 * Whether anything names the content `hex` as a layer: a layer version, or the layers of a function or of a published
 * version (by each layer's digest member: a tenant's text elsewhere in a row names nothing).
 */
export async function layerNamed(db: Db, hex: string): Promise<boolean> {
  return await any(db.select({ n: count() }).from(lambdaLayerVersions).where(eq(lambdaLayerVersions.digest, hex)).limit(1))
    || await any(db.select({ n: count() }).from(functions).where(layersHold(functions.layers, 'column', hex)).limit(1))
    || await any(db.select({ n: count() }).from(functionVersions).where(layersHold(functionVersions.config, 'layers', hex)).limit(1));
}

/** Whether a function or a published version runs the package `hex` as its code (its CodeSha256). */
async function codeNamed(db: Db, hex: string): Promise<boolean> {
  const base64 = Buffer.from(hex, 'hex').toString('base64');
  return await any(db.select({ n: count() }).from(functions).where(eq(functions.codeSha256, base64)).limit(1))
    || await any(db.select({ n: count() }).from(functionVersions).where(eq(jsonMember(functionVersions.config, 'codeSha256'), base64)).limit(1));
}

export class FunctionPackages {
  /** Code being taken from the database, per revision or layer: two invokes of a new function fetch it once. */
  private readonly taking = new Map<string, Promise<void>>();

  constructor(private readonly db: Db, private readonly host: HostFunctions, readonly shared: boolean) {}

  /**
   * A zip kept for the other hosts (`hex`: its sha256), in the transaction that writes the row naming it: the row never
   * names a package that is not there, and a release sees the row or runs before it (both under the write lock). A
   * package already kept is not sent again.
   */
  async keep(tx: Db, zip: Buffer, hex: string): Promise<void> {
    if (!this.shared) return;
    if (await any(tx.select({ n: count() }).from(functionPackages).where(eq(functionPackages.sha256, hex)).limit(1))) return;
    await tx.insert(functionPackages).values({ sha256: hex, zip, size: zip.length, createdAt: Date.now() }).onConflictDoNothing();
  }

  /** Packages nothing names any more (no function, version or layer version, nor a function's layers): dropped. */
  async release(hexes: Iterable<string>): Promise<void> {
    if (!this.shared) return;
    for (const hex of new Set(hexes)) {
      if (!isDigest(hex)) continue;
      await write(this.db, async (tx) => {
        if (await codeNamed(tx, hex) || await layerNamed(tx, hex)) return;
        await tx.delete(functionPackages).where(eq(functionPackages.sha256, hex));
      });
    }
  }

  /**
   * The version's code and its layers on this host: what is missing taken from the database (refused unless its hash
   * is the one asked for) and unpacked. On one host (nothing shared) the code is where the API unpacked it.
   */
  async present(v: FunctionView): Promise<void> {
    if (!this.shared) return;
    const wanted: [string, () => Promise<void>][] = [];
    if (!this.host.hasCode(v.accountId, v.name, v.revision)) {
      wanted.push([`code/${v.accountId}/${v.name}/${v.revision}`, async () => {
        await this.host.unpack(v.accountId, v.name, v.revision, await this.take(hexOf(v.codeSha256)));
      }]);
    }
    for (const l of v.layers ?? []) {
      if (this.host.hasLayer(l.digest)) continue;
      wanted.push([`layer/${l.digest}`, async () => {
        await this.host.unpackLayer?.(l.digest, await this.take(l.digest));
      }]);
    }
    await Promise.all(wanted.map(([key, fetch]) => this.once(key, fetch)));
  }

  private once(key: string, fetch: () => Promise<void>): Promise<void> {
    const running = this.taking.get(key);
    if (running) return running;
    const p = fetch().finally(() => this.taking.delete(key));
    this.taking.set(key, p);
    return p;
  }

  /** A package from the database, checked against its hash. */
  private async take(hex: string): Promise<Buffer> {
    const row = (await this.db.select({ zip: functionPackages.zip }).from(functionPackages).where(eq(functionPackages.sha256, hex)).limit(1))[0];
    if (!row) throw notReady();
    const zip = Buffer.from(row.zip);
    if (createHash('sha256').update(zip).digest('hex') !== hex) {
      log.error(`package ${hex} in the state database does not match its hash: not unpacked`);
      throw notReady();
    }
    return zip;
  }
}

/** A package this host cannot have (gone, or damaged): the function cannot start here until its code is given again. */
const notReady = (): CloudError => new CloudError('ResourceNotReadyException', 'The function\'s code could not be brought to the host that took this request (its package is not in the cloud\'s shared state: made before its hosts shared code, or damaged). Update the function\'s code (UpdateFunctionCode), publish again the versions you invoke, and try again.');
