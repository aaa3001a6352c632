/**
 * The secrets pcloud signs with (IMDSv2 tokens, console tokens, instance identity documents), one row per purpose in
 * the database's `signing_keys`, so that every `pcloud serve` on one database signs and checks with the same key: a
 * token one server issued is good on any other. A key is made once: each server offers its own with INSERT … ON
 * CONFLICT DO NOTHING and then reads the row back, so two servers starting at once agree on whichever got in first.
 *
 * Before keys lived here they were files under the data dir's keys/: a key with no row yet is taken from its file
 * (which is left in place), so an upgrade keeps IMDS tokens, console tokens and the identity certificate valid.
 *
 * Keys never change once made (a server keeps what it read). Rotation, later: rows named `PURPOSE@N`, signing with the
 * newest and checking with every one younger than the longest token's life.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { signingKeys } from '../db/tables.js';
import { log } from '../log.js';

/**
 * The purposes keys are kept for (row names), and the files under keys/ each was kept in before. The instance
 * identity is a key and its certificate, one row: `{"key": PEM, "cert": PEM}`.
 */
const LEGACY_FILES = {
  'imds-token': ['imds-token.key'],
  'console-token': ['console-token.key'],
  'imds-identity': ['identity.key.pem', 'identity.crt.pem'],
  // The dashboard's sessions (dashboard.ts): never kept in a file.
  'dashboard-session': [],
} as const;

export type KeyPurpose = keyof typeof LEGACY_FILES;

export class SigningKeys {
  private readonly known = new Map<KeyPurpose, Buffer>();

  constructor(
    private readonly db: Db,
    /** The data dir's keys/, where keys made before this table may still be (read once, never written). */
    private readonly legacyDir?: string,
  ) {}

  /** The key for `purpose`: the row's, else this server's offer (its old key file's, or `make()`) once stored. */
  async get(purpose: KeyPurpose, make: () => Buffer | Promise<Buffer>): Promise<Buffer> {
    const hit = this.known.get(purpose);
    if (hit) return hit;
    const key = (await this.read(purpose)) ?? (await this.offer(purpose, this.legacy(purpose) ?? await make()));
    this.known.set(purpose, key);
    return key;
  }

  private async read(purpose: KeyPurpose): Promise<Buffer | undefined> {
    const row = (await this.db.select({ key: signingKeys.key }).from(signingKeys).where(eq(signingKeys.name, purpose)).limit(1))[0];
    return row ? Buffer.from(row.key, 'base64') : undefined;
  }

  /** Store `key` unless another server stored one first; the stored one either way. */
  private async offer(purpose: KeyPurpose, key: Buffer): Promise<Buffer> {
    if (key.length === 0) throw new Error(`refusing an empty ${purpose} key`);
    await this.db.insert(signingKeys).values({ name: purpose, key: key.toString('base64'), createdAt: Date.now() }).onConflictDoNothing();
    return (await this.read(purpose))!;
  }

  /** The key an older pcloud kept in a file for this purpose, if there is one and it is not empty. */
  private legacy(purpose: KeyPurpose): Buffer | undefined {
    if (!this.legacyDir || LEGACY_FILES[purpose].length === 0) return undefined;
    const paths = LEGACY_FILES[purpose].map((f) => join(this.legacyDir!, f));
    if (!paths.every((p) => existsSync(p))) return undefined;
    // Only a file of pcloud's own as it made them (0600, this user's): a link, or a file another user wrote or could
    // have written, is no key to sign every account's tokens with.
    const bad = paths.find((p) => {
      const st = lstatSync(p);
      return !st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0;
    });
    if (bad) {
      log.warn(`signing keys: ${purpose}'s old key file is not pcloud's own (a link, another user's, or writable by others): a new key is made`);
      return undefined;
    }
    const parts = paths.map((p) => readFileSync(p));
    if (parts.some((b) => b.length === 0)) return undefined;
    return purpose === 'imds-identity' ? Buffer.from(JSON.stringify({ key: parts[0]!.toString(), cert: parts[1]!.toString() })) : parts[0];
  }
}
