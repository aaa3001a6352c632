/**
 * Function code on the host: each revision's deployment package unpacked once under DATA/functions/ACCOUNT/NAME/
 * REVISION (a revision's code never changes), read-only to its sandbox at /var/task (functions.ts binds it).
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { unpackPackage } from './code-package.js';
import { LayerStore } from './layers.js';

export class CodeStore {
  constructor(private readonly dataDir: string) {}

  private get root(): string {
    return join(this.dataDir, 'functions');
  }

  dir(accountId: string, name: string, revision: string): string {
    return join(this.root, accountId, name, revision);
  }

  /**
   * Unpack a deployment package (zip) once per revision. A package over Lambda's unzipped size (`max`), or otherwise
   * unusable, throws PackageRefused and leaves nothing.
   */
  async unpack(accountId: string, name: string, revision: string, zip: Buffer, max?: number): Promise<string> {
    const dir = this.dir(accountId, name, revision);
    if (existsSync(dir)) return dir;
    await unpackPackage(zip, dir, max);
    return dir;
  }

  has(accountId: string, name: string, revision: string): boolean {
    return existsSync(this.dir(accountId, name, revision));
  }

  /** The accounts with code here. */
  accounts(): Promise<string[]> {
    return dirsIn(this.root);
  }

  /** The functions of an account with code here (names as stored). */
  names(accountId: string): Promise<string[]> {
    return dirsIn(join(this.root, accountId));
  }

  /** The bytes a revision's code unzipped to (counted with its layers against Lambda's 250 MB). */
  bytes(accountId: string, name: string, revision: string): Promise<number> {
    return LayerStore.treeBytes(this.dir(accountId, name, revision));
  }

  /** A function's code (every revision), or an account's. */
  async remove(accountId: string, name?: string): Promise<void> {
    await rm(name ? join(this.root, accountId, name) : join(this.root, accountId), { recursive: true, force: true });
  }
}

/** The directories in dir (none if it is not there). */
async function dirsIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}
