/**
 * Lambda functions on the host: each function version's code unpacked once under DATA/functions (function-code.ts),
 * its layers' (layers.ts), and socket units
 * per function version (described once, unitSpecs(); the unit manager renders them, units/types.ts' SocketSection):
 * - warm: the function's UNIX socket starts the runtime shim once, a worker that serves until it has been idle
 *   (`--idle`) and exits 133; the socket then takes the next connection (scale to zero).
 * - per request, a process per invoke with the request on its fd 3, its runtime and handler loaded before it comes:
 *   - Python forks (runtimeServing's `prefork`): the function's socket starts one sandboxed process that loads the
 *     handler and forks a child per connection (python_shim.py), and exits 133 when idle.
 *   - Node and provided cannot fork: they are started one request ahead. The function's socket starts its front
 *     (src/runtime/front.py, pcloud's own code, no tenant's), which keeps one connection made ahead to the function's
 *     runtime socket (Accept: every connection starts the shim in a sandbox of its own, which loads the handler and
 *     waits for the connection's one request), relays each request to such a process and connects the next. The front
 *     exits 133 when idle and closes the connection ahead (its process exits unused).
 *   Either way nothing runs when idle, and no module state of one request reaches another.
 *
 * Handlers never run as root: the unit's sandbox (units/types.ts' UnitSandbox) is a DynamicUser= in a read-only system
 * with the data dir hidden under systemd, a bubblewrap sandbox as a user of its own under the direct manager
 * (sandbox.ts, sandbox-users.ts). Either way the code is read-only at /var/task and /tmp is private.
 *
 * A function's role credentials (a session minted for it) are never in its unit's description (argv, unit files and
 * the manager's spec are readable by more than root): they are a file (credentialsFile()) in a directory of their own
 * under a root-only one, which only that function version's sandbox is shown (read-only, at the same path). The shims
 * read it before loading the handler and again before each invoke when it changed, into the process's environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), so a renewal reaches a warm or forking runtime without
 * a restart.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../log.js';
import { KeyedQueue } from '../serial.js';
import { projectRoot } from '../paths.js';
import { socketPath } from './sockets.js';
import { CodeStore } from './function-code.js';
import { LayerStore } from './layers.js';
import { CREDENTIALS_ROOT } from './sandbox.js';
import { endpointPort, SandboxNet } from './sandbox-net.js';
import { SandboxUsers } from './sandbox-users.js';
import { unitFingerprint } from './units/fingerprint.js';
import type { UnitManager, UnitSpec } from './units/types.js';
import { isFinal } from './units/types.js';
import type { FunctionUnitOptions, InvokeResult, SessionCredentials } from './types.js';
import type { HostFunctions } from './index.js';
import { relayOnce, type RelayAnswer, type RelayRequest } from './function-relay.js';
import { CREDENTIALS_FILE, credentialsText, pythonCommand, runtimeCommand, runtimeFiles, runtimeServing, lambdaEnvironment } from './function-runtime.js';
export type { FunctionUnitOptions, InvokeResult } from './types.js';



export const functionUnitName = (key: string) => `pcloud-fn-${key}`;

/** A per-request function's front (front.py), on the function's socket; functionUnitName's unit runs its handlers. */
export const functionFrontName = (key: string) => `pcloud-fnfront-${key}`;

/** How many of a per-request function's processes are started ahead of the requests that will use them. */
const AHEAD = 1;

/** How long a function's unit may take to start. */
const START_SEC = 10;

/**
 * The name the direct manager's function units had before issue 13 (systemd's had today's): such a unit, still
 * running after an upgrade, is listed, and taken down (with the sandbox user it held) when its key is stopped or
 * started again.
 */
const legacyUnitName = (key: string) => `pcloud-fn@${key}`;

/** How the host runs functions (config.ts: PCLOUD_LAMBDA_CONCURRENCY, PCLOUD_LAMBDA_CPU_PERCENT, PCLOUD_PYTHON, ...). */
export interface FunctionHostOptions {
  /** How many invokes of one per-request function may run at once (its unit's limits allow that many processes). */
  concurrency: number;
  /** The CPU one function (all its invokes) may take, in percent of one CPU. */
  cpuPercent: number;
  /** The interpreter of Python functions (pythonCommand's choice unless said). */
  python?: string;
  /** The host-wide record of sandbox users (sandbox-users.ts' default unless said). */
  sandboxUidDir?: string;
}

/** What a version's units run by, apart from its session (renewed in its file, never a reason to start them again). */
const startedAs = (o: FunctionUnitOptions): string => JSON.stringify({ ...o, credentials: undefined });

export const DEFAULT_FUNCTION_HOST: FunctionHostOptions = { concurrency: 100, cpuPercent: 100 };

export class FunctionHost implements HostFunctions {
  private readonly python: string;
  private readonly layerStore: LayerStore;
  /** Each revision's code (function-code.ts). */
  private readonly code: CodeStore;

  constructor(
    private readonly units: UnitManager,
    private readonly dataDir: string,
    private readonly runDir: string,
    private readonly opts: FunctionHostOptions = DEFAULT_FUNCTION_HOST,
  ) {
    this.python = pythonCommand(opts.python);
    this.layerStore = new LayerStore(dataDir);
    this.code = new CodeStore(dataDir);
  }

  socketPath(key: string): string {
    return socketPath(join(this.runDir, 'lambda', `${key}.sock`));
  }

  /** A per-request function's runtime socket (its front's only: a connection starts a runtime process). */
  runtimeSocketPath(key: string): string {
    return socketPath(join(this.runDir, 'lambda', `${key}.run.sock`));
  }

  codeDir(accountId: string, name: string, revision: string): string {
    return this.code.dir(accountId, name, revision);
  }

  unpack(accountId: string, name: string, revision: string, zip: Buffer, max?: number): Promise<string> {
    return this.code.unpack(accountId, name, revision, zip, max);
  }

  hasCode(accountId: string, name: string, revision: string): boolean {
    return this.code.has(accountId, name, revision);
  }

  codeAccounts(): Promise<string[]> {
    return this.code.accounts();
  }

  codeNames(accountId: string): Promise<string[]> {
    return this.code.names(accountId);
  }

  codeBytes(accountId: string, name: string, revision: string): Promise<number> {
    return this.code.bytes(accountId, name, revision);
  }

  removeCode(accountId: string, name?: string): Promise<void> {
    return this.code.remove(accountId, name);
  }

  hasLayer(digest: string): boolean {
    return this.layerStore.has(digest);
  }

  unpackLayer(digest: string, zip: Buffer): Promise<number> {
    return this.layerStore.unpack(digest, zip);
  }

  layerDigests(): Promise<string[]> {
    return this.layerStore.digests();
  }

  removeLayer(digest: string): Promise<void> {
    return this.layerStore.remove(digest);
  }

  /** Where the function versions' credentials are: root's only (each version's directory is shown to its sandbox only). */
  private get credentialsRoot(): string {
    return join(this.runDir, 'lambda', 'credentials');
  }

  /** A function version's credentials file, in a directory of its own (what its sandbox is shown). */
  credentialsFile(key: string): string {
    return join(this.credentialsRoot, key, CREDENTIALS_FILE);
  }

  /** What was last written to each version's credentials file (its access key id), so an unchanged one is not rewritten. */
  private readonly written = new Map<string, string>();

  /**
   * The version's credentials file as `c` says, or gone (undefined): the renewer's call, taken in turn with the
   * version's starts and stops, and nothing for a version stopped since (its directory stays gone).
   */
  renewCredentials(key: string, c: SessionCredentials | undefined): Promise<void> {
    return this.unitChanges.run(key, async () => {
      if (this.stopped.delete(key)) return;
      await this.writeCredentials(key, c);
    });
  }

  /**
   * The version's credentials file as `c` says (replaced whole: a reader sees the old file or the new, never half of
   * one), or gone (undefined). Its directory is readable (the sandbox's user reads it through the bind), the one above
   * root's only: on the host nobody else reaches it.
   */
  private async writeCredentials(key: string, c: SessionCredentials | undefined): Promise<void> {
    // ('' once its directory is there without credentials.)
    if (this.written.get(key) === (c?.accessKeyId ?? '')) return;
    const file = this.credentialsFile(key);
    // The directory is there even without credentials: the sandbox binds it.
    await mkdir(this.credentialsRoot, { recursive: true, mode: 0o700 });
    await chmod(this.credentialsRoot, 0o700);
    await mkdir(join(this.credentialsRoot, key), { recursive: true, mode: 0o755 });
    if (!c) {
      await rm(file, { force: true });
      this.written.set(key, '');
      return;
    }
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(tmp, credentialsText(c), { mode: 0o644 });
    await rename(tmp, file);
    this.written.set(key, c.accessKeyId);
  }

  /** The version's credentials and their directory gone (its units are). */
  private async dropCredentials(key: string): Promise<void> {
    this.written.delete(key);
    await rm(join(this.credentialsRoot, key), { recursive: true, force: true });
  }

  /** The function version's units, in the order they start: unit(), and a per-request function's front after it. */
  unitSpecs(o: FunctionUnitOptions): UnitSpec[] {
    return runtimeServing(o) === 'accept' ? [this.unit(o), this.frontUnit(o)] : [this.unit(o)];
  }

  /**
   * The function version's runtime unit: its socket, and the runtime it starts in the sandbox (a console proxy,
   * pcloud's own code that must reach the VM's VNC socket, root's, and write its state file, runs as root without new
   * privileges). Per request started ahead (`accept`), the socket is the front's runtime socket: a process per
   * connection; per request forking (`prefork`), the function's socket, its one service forking.
   * Limits: Lambda's per invoke (accept: each process of the socket: the function's memory, and its timeout as a
   * backstop of the shim's own, after the time a process started ahead may wait: the front's idle time; prefork: the
   * parent kills a child past its timeout and bounds each child's memory), and the unit's as a whole (warm: the one worker; per request: up to
   * `concurrency` invokes at once, and the processes started ahead).
   */
  unit(o: FunctionUnitOptions): UnitSpec {
    const serving = runtimeServing(o);
    const accept = serving === 'accept';
    const perRequest = serving !== 'serve';
    const { cpuPercent } = this.opts;
    const most = this.invokesAtOnce(o);
    const concurrency = most + (accept ? AHEAD : 0);
    const limits = { memoryMaxBytes: (o.memoryMiB * (perRequest ? concurrency : 1) + 64) * 2 ** 20, tasksMax: perRequest ? 64 * concurrency : 512, cpuQuotaPercent: cpuPercent };
    return {
      name: functionUnitName(o.key),
      description: `pcloud function ${o.functionName}:${o.version} (${o.runtime}, ${o.mode})`,
      exec: runtimeCommand(o, serving, this.python, most, o.console ? undefined : `${CREDENTIALS_ROOT}/${CREDENTIALS_FILE}`),
      env: lambdaEnvironment(o),
      type: 'simple',
      startTimeoutSec: START_SEC,
      stopTimeoutSec: 5,
      killSignal: 'SIGTERM',
      // A warm worker that has been idle exits 133: started again (on the next connection).
      restartForceExitStatus: [133],
      limits,
      socket: {
        listen: accept ? this.runtimeSocketPath(o.key) : this.socketPath(o.key), accept, mode: 0o600, maxConnections: concurrency,
        // Forking, the one service holds every invoke (each child's own memory is bounded by the shim: RLIMIT_DATA).
        serviceLimits: serving === 'prefork' ? limits : { memoryMaxBytes: (o.memoryMiB + 64) * 2 ** 20, tasksMax: 64, cpuQuotaPercent: cpuPercent },
        serviceRuntimeMaxSec: o.timeoutSec + (accept ? 5 + o.idleSec + START_SEC : 24 * 3600),
      },
      ...(o.console ? { noNewPrivileges: true } : {
        sandbox: {
          code: o.codeDir, readOnly: runtimeFiles(o, this.python), credentials: join(this.credentialsRoot, o.key), hidden: [this.dataDir],
          ...(o.layers?.length ? { opt: this.layerStore.optPath(o.layers) } : {}),
        },
      }),
    };
  }

  /**
   * A per-request function's front (front.py) on the function's socket: pcloud's own code, no tenant's (it relays bytes
   * and never reads them), as root (the runtime socket is root's) without new privileges. It bounds the function's
   * invokes at once (`concurrency`; under both managers) and exits 133 when idle.
   */
  frontUnit(o: FunctionUnitOptions): UnitSpec {
    const { cpuPercent } = this.opts;
    const concurrency = this.invokesAtOnce(o);
    const limits = { memoryMaxBytes: 64 * 2 ** 20, tasksMax: concurrency + 16, cpuQuotaPercent: cpuPercent };
    return {
      name: functionFrontName(o.key),
      description: `pcloud function ${o.functionName}:${o.version} (${o.runtime}, per-request front)`,
      exec: [this.python, '-I', '-S', join(projectRoot(), 'src/runtime/front.py'), `--workers=${this.runtimeSocketPath(o.key)}`,
        `--concurrency=${concurrency}`, `--idle=${o.idleSec}`, `--timeout=${o.timeoutSec}`],
      type: 'simple',
      startTimeoutSec: START_SEC,
      stopTimeoutSec: 5,
      killSignal: 'SIGTERM',
      restartForceExitStatus: [133],
      limits,
      socket: { listen: this.socketPath(o.key), accept: false, mode: 0o600, serviceLimits: limits },
      noNewPrivileges: true,
    };
  }

  /**
   * How many invokes of a version its unit runs at once: the host's bound, or the function's reserved concurrency where
   * lower (0 is never reached: the domain throttles those invokes before they get here; one keeps the unit valid).
   */
  private invokesAtOnce(o: FunctionUnitOptions): number {
    return o.reservedConcurrency === undefined ? this.opts.concurrency : Math.max(1, Math.min(this.opts.concurrency, o.reservedConcurrency));
  }

  /** The function's unit running and its socket listening (started on first use). */
  async ensure(o: FunctionUnitOptions): Promise<void> {
    const wanted = startedAs(o);
    // One change of a version's units at a time, in the order asked: invokes that come at once to a cold function (or as
    // another server's change is followed) would each take down what the other just started, and a stop asked after a
    // start would be undone by it.
    await this.unitChanges.run(o.key, async () => {
      this.stopped.delete(o.key);
      // Its credentials first (unchanged: nothing written): its processes read them when they start.
      if (!o.console) await this.writeCredentials(o.key, o.credentials);
      // Every invoke asks: once started by this process with these options and its socket still there, nothing to check
      // (no unit manager round trip on the invoke path). Other options (a change, or an invoke that read them before
      // it) are checked against the units.
      if (this.started.get(o.key) === wanted && existsSync(this.socketPath(o.key))) return;
      await this.ensureUnit(o);
      this.started.set(o.key, wanted);
    });
  }

  /** Function units this process has started (or found running) since it started, with the options they run by. */
  private readonly started = new Map<string, string>();
  /** Versions this process stopped since (the renewer's next write for one is dropped: it stopped). */
  private readonly stopped = new Set<string>();
  /** Starts and stops of each version's units, one at a time, in the order they came. */
  private readonly unitChanges = new KeyedQueue();

  recheck(keys: Iterable<string>): void {
    // In turn: a start under way when the change is followed does not count it as checked once it ends.
    for (const key of keys) {
      this.started.delete(key);
      void this.unitChanges.run(key, () => Promise.resolve(this.started.delete(key)));
    }
  }

  /** The host's filter of handlers' traffic (sandbox-net.ts): written before they run, kept, its ports withdrawn at close. */
  private readonly net = new SandboxNet();
  close(): Promise<void> { return this.net.close(); }
  keepNetwork(): Promise<void> { return this.net.keep(); }

  /**
   * The function's unit running as this pcloud would start it: one found running from another description or
   * rendering (an older pcloud's: units/fingerprint.ts) is started again; the fingerprint is recorded beside the socket.
   */
  private async ensureUnit(o: FunctionUnitOptions): Promise<void> {
    // What of the host's network handlers reach (sandbox-net.ts): written before any runs, and for those found running.
    await this.net.ensure([endpointPort(o.endpoint), o.nginxPort]);
    const specs = this.unitSpecs(o);
    const stamp = specs.map(unitFingerprint).join('\n');
    const running = await Promise.all(specs.map(async (spec) => {
      const st = await this.units.status(spec.name);
      return st !== undefined && !isFinal(st.state);
    }));
    if (running.every(Boolean) && (await readFile(this.specStamp(o.key), 'utf8').catch(() => '')) === stamp) return;
    await this.takeDown(o.key);
    // Its /opt: its layers merged once, before its first start.
    await this.layerStore.opt(o.layers ?? []);
    await mkdir(join(this.runDir, 'lambda'), { recursive: true });
    try {
      for (const spec of specs) await this.units.start(spec);
      await writeFile(this.specStamp(o.key), stamp);
    } catch (err) {
      // Nothing stays of units that never started: the units (and the manager's files, sandbox user), sockets and stamp.
      await this.takeDown(o.key).catch((e) => log.warn(`cleaning up function unit ${functionUnitName(o.key)}: ${(e as Error).message}`));
      throw err;
    }
  }

  /** Where the fingerprint of the unit a function's socket was started with is kept. */
  private specStamp(key: string): string {
    return join(this.runDir, 'lambda', `${key}.unit`);
  }

  /**
   * The function's unit stopped and forgotten (an older pcloud's too), its socket and stamp gone. Removed even when its
   * manager knows no state of it: a start that failed early may have left the manager's files (its sandbox user).
   */
  private async takeDown(key: string): Promise<void> {
    // The front first: it stops starting runtime processes.
    const front = await this.units.status(functionFrontName(key));
    if (front) {
      if (!isFinal(front.state)) await this.units.stop(front.name);
      await this.units.remove(front.name);
    }
    const name = functionUnitName(key);
    const st = await this.units.status(name);
    if (st && !isFinal(st.state)) await this.units.stop(name);
    await this.units.remove(name);
    const legacy = await this.units.status(legacyUnitName(key));
    if (legacy) {
      if (!isFinal(legacy.state)) await this.units.stop(legacyUnitName(key));
      await this.units.remove(legacyUnitName(key));
      await this.releaseLegacySandbox(key);
    }
    await rm(this.socketPath(key), { force: true });
    await rm(this.runtimeSocketPath(key), { force: true });
    await rm(this.specStamp(key), { force: true });
  }

  /** The user (and passwd files) a function's unit held under its pre-issue-13 name: units now hold their own. */
  private async releaseLegacySandbox(key: string): Promise<void> {
    const uid = await new SandboxUsers(this.dataDir, this.opts.sandboxUidDir).release(key);
    if (uid === undefined) return;
    const dir = join(this.runDir, 'lambda', 'sandbox');
    await rm(join(dir, `passwd-${uid}`), { force: true });
    await rm(join(dir, `group-${uid}`), { force: true });
  }

  async stop(key: string): Promise<void> {
    await this.unitChanges.run(key, async () => {
      this.started.delete(key);
      this.stopped.add(key);
      // (Forgotten once the renewer has asked, or a start came; the oldest go past this many.)
      if (this.stopped.size > 10_000) this.stopped.delete(this.stopped.values().next().value!);
      await this.takeDown(key);
      await this.dropCredentials(key);
    });
  }

  /** Every function unit there is (reconcile). */
  async list(): Promise<string[]> {
    const keys = new Set<string>();
    for (const prefix of [functionUnitName(''), functionFrontName(''), legacyUnitName('')]) {
      for (const u of await this.units.list(prefix)) keys.add(u.name.slice(prefix.length));
    }
    return [...keys];
  }

  /**
   * One invoke over the function's socket. The socket may be missing or refuse for a moment (the unit starting, or a
   * warm worker's activator starting again): that is retried for up to 5 s (connecting).
   */
  invoke(key: string, payload: Buffer, opts: { requestId: string; tail: boolean; timeoutSec: number }): Promise<InvokeResult> {
    return this.connecting(key, () => this.once(key, payload, opts));
  }

  /** A function URL's request on the function's socket (function-relay.ts), retried as an invoke is. */
  relay(key: string, req: RelayRequest, opts: { timeoutSec: number }): Promise<RelayAnswer> {
    return this.connecting(key, () => relayOnce(this.socketPath(key), req, (opts.timeoutSec + 10) * 1000));
  }

  /** A call on the function's socket, again while the socket is missing or refuses, for up to 5 s. */
  private async connecting<T>(key: string, call: () => Promise<T>): Promise<T> {
    const until = Date.now() + 5000;
    for (;;) {
      try {
        return await call();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > until) {
          // Its unit may have ended behind our back: the next invoke looks again.
          this.started.delete(key);
          throw err;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  private once(key: string, payload: Buffer, opts: { requestId: string; tail: boolean; timeoutSec: number }): Promise<InvokeResult> {
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.socketPath(key), method: 'POST', path: '/invoke', agent: false,
        headers: {
          'content-type': 'application/json', 'content-length': payload.length, 'x-pcloud-request-id': opts.requestId,
          ...(opts.tail ? { 'x-amz-log-type': 'Tail' } : {}), connection: 'close',
        },
        timeout: (opts.timeoutSec + 10) * 1000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({
          status: res.statusCode ?? 500, payload: Buffer.concat(chunks), requestId: opts.requestId,
          functionError: res.headers['x-amz-function-error'] as string | undefined,
          log: res.headers['x-amz-log-result'] as string | undefined,
          ...(res.headers['x-pcloud-cold-start'] === '1' ? { coldStart: true } : {}),
        }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('the function did not answer')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** The function's log (what its processes wrote), for tests and `pcloud logs`. */
  async logs(key: string, maxBytes = 64 * 1024): Promise<string> {
    return (await this.units.logs(functionUnitName(key), maxBytes)).toString();
  }
}
