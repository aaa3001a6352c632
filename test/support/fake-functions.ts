/**
 * A test double of the function host (src/host/functions.ts), for Lambda API tests without units or runtimes: code is
 * "unpacked" as the zip itself in a temp dir, units are names in a set, an invoke echoes its payload with the function's
 * environment. Never used outside test/.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FunctionUnitOptions, HostFunctions, InvokeResult, RelayAnswer, RelayRequest } from '../../src/host/index.js';

export class FakeFunctionHost implements HostFunctions {
  /** Units running, by key; with the options each was last ensured with. */
  readonly units = new Map<string, FunctionUnitOptions>();
  /** Revisions unpacked, as `account/name/revision`. */
  readonly unpacked: string[] = [];
  /** When set, the next unpack fails with it (the host refusing a package). */
  failNextUnpack?: Error;

  constructor(private readonly dir: string) {}

  socketPath(key: string): string {
    return join(this.dir, 'run', `${key}.sock`);
  }

  codeDir(accountId: string, name: string, revision: string): string {
    return join(this.dir, 'functions', accountId, name, revision);
  }

  async unpack(accountId: string, name: string, revision: string, zip: Buffer): Promise<string> {
    if (this.failNextUnpack) {
      const err = this.failNextUnpack;
      this.failNextUnpack = undefined;
      throw err;
    }
    const dir = this.codeDir(accountId, name, revision);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.zip'), zip);
    this.unpacked.push(`${accountId}/${name}/${revision}`);
    return dir;
  }

  hasCode(accountId: string, name: string, revision: string): boolean {
    return existsSync(this.codeDir(accountId, name, revision));
  }

  /** Layers it takes none of. */
  hasLayer(): boolean {
    return false;
  }

  async codeAccounts(): Promise<string[]> {
    return await readdir(join(this.dir, 'functions')).catch(() => []);
  }

  async codeNames(accountId: string): Promise<string[]> {
    return await readdir(join(this.dir, 'functions', accountId)).catch(() => []);
  }

  /** Keys the next ensure was told to check again (another host changed them). */
  readonly rechecked: string[] = [];
  recheck(keys: Iterable<string>): void {
    this.rechecked.push(...keys);
  }

  async removeCode(accountId: string, name?: string): Promise<void> {
    await rm(name ? join(this.dir, 'functions', accountId, name) : join(this.dir, 'functions', accountId), { recursive: true, force: true });
  }

  async ensure(o: FunctionUnitOptions): Promise<void> {
    this.units.set(o.key, o);
  }

  async stop(key: string): Promise<void> {
    this.units.delete(key);
  }

  async list(): Promise<string[]> {
    return [...this.units.keys()];
  }

  async invoke(key: string, payload: Buffer, opts: { requestId: string }): Promise<InvokeResult> {
    const o = this.units.get(key);
    if (!o) throw new Error(`no unit ${key}`);
    return { status: 200, payload: Buffer.from(JSON.stringify({ event: payload.toString(), environment: o.environment })), requestId: opts.requestId };
  }

  /** A URL's request relayed: answered with what reached the unit (its method, path, headers and body). */
  async relay(key: string, req: RelayRequest): Promise<RelayAnswer> {
    if (!this.units.has(key)) throw new Error(`no unit ${key}`);
    const seen = { key, method: req.method, path: req.path, headers: req.headers, body: req.body.toString() };
    return { status: 200, headers: [['content-type', 'application/json']], body: Readable.from([Buffer.from(JSON.stringify(seen))]) };
  }
}

/** Invokes that answer only when released (a handler still running), or fail once when told to. */
export class HeldFunctionHost extends FakeFunctionHost {
  hold = false;
  failNext = false;
  readonly waiting: (() => void)[] = [];
  override async invoke(key: string, payload: Buffer, opts: { requestId: string }): Promise<InvokeResult> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('the runtime went away');
    }
    if (this.hold) await new Promise<void>((r) => this.waiting.push(r));
    return super.invoke(key, payload, opts);
  }
  /** A URL's request held as an invoke is (its answer begins once released). */
  override async relay(key: string, req: RelayRequest): Promise<RelayAnswer> {
    if (this.hold) await new Promise<void>((r) => this.waiting.push(r));
    return super.relay(key, req);
  }
  release(): void {
    for (const r of this.waiting.splice(0)) r();
  }
}
