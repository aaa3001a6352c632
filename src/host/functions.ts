/**
 * Lambda functions on the host: each function version's code unpacked once under DATA/functions, and a socket unit
 * per function version: `systemd-socket-activate` on the function's UNIX socket, which starts the runtime shim per
 * connection (`--accept`: the request on fd 3, a process per invoke) or once for a warm worker that serves until it has
 * been idle (`--idle`) and exits 133; the unit manager then starts the activator again, listening (scale to zero).
 * The same socket units render to systemd `.socket`/`.service` files from the templates in systemd/.
 */
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { socketPath } from './sockets.js';
import { Owners } from './owners.js';
import { render, template } from './template.js';
import { execWord } from './units/render.js';
import { run } from './exec.js';
import type { UnitManager, UnitSpec } from './units/types.js';
import { isFinal } from './units/types.js';

export interface FunctionUnitOptions {
  /** `<account>-<name>-<version>`: the unit's instance name and the socket's file name. */
  key: string;
  functionName: string;
  version: string;
  arn: string;
  runtime: string;
  handler: string;
  codeDir: string;
  memoryMiB: number;
  timeoutSec: number;
  environment: Record<string, string>;
  mode: 'per-request' | 'warm';
  idleSec: number;
  region: string;
  /** A "fat lambda": the function is a VM's console (its VNC socket), served by the console proxy, not a runtime. */
  console?: { instanceId: string; vncPath: string; idleSec: number; stateFile: string };
}

export interface InvokeResult {
  status: number;
  payload: Buffer;
  functionError?: string;
  log?: string;
  requestId: string;
}

export const functionUnitName = (key: string) => `pcloud-fn@${key}`;

/** How many invokes of one per-request function may run at once (its unit's limits allow that many processes). */
const CONCURRENCY = Number(process.env.PCLOUD_LAMBDA_CONCURRENCY ?? 100);

/**
 * The Python functions run on: PCLOUD_PYTHON, else Debian's /usr/bin/python3 (the `python3` package), else whatever
 * `python3` is on PATH. Not PATH first: a version manager's shim there (pyenv's is a shell script) costs every
 * per-request invoke ~100 ms before Python even starts.
 */
export function pythonCommand(): string {
  return process.env.PCLOUD_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** The command a runtime's requests run: the shim for it, with the function's handler contract. */
export function runtimeCommand(o: FunctionUnitOptions, accept: boolean): string[] {
  if (o.console) {
    return [process.execPath, join(projectRoot(), 'dist/src/runtime/console-proxy.js'), `--vnc=${o.console.vncPath}`,
      `--instance=${o.console.instanceId}`, `--idle=${o.console.idleSec}`, `--state=${o.console.stateFile}`];
  }
  const args = [`--runtime=${o.runtime}`, `--code=${o.codeDir}`, `--handler=${o.handler}`, `--function=${o.functionName}`,
    `--version=${o.version}`, `--arn=${o.arn}`, `--memory=${o.memoryMiB}`, `--timeout=${o.timeoutSec}`, `--idle=${o.idleSec}`,
    ...(accept ? ['--accept'] : [])];
  if (o.runtime.startsWith('python3')) return [pythonCommand(), join(projectRoot(), 'src/runtime/python_shim.py'), ...args];
  // The function's memory is the heap it may use (a per-request unit holds many such processes at once).
  return [process.execPath, `--max-old-space-size=${o.memoryMiB}`, join(projectRoot(), 'dist/src/runtime/shim.js'), ...args];
}

/** What every function process sees besides the function's own variables (as Lambda sets them). */
export function lambdaEnvironment(o: FunctionUnitOptions): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: o.functionName, AWS_LAMBDA_FUNCTION_VERSION: o.version, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.memoryMiB),
    AWS_REGION: o.region, AWS_DEFAULT_REGION: o.region, AWS_EXECUTION_ENV: `AWS_Lambda_${o.runtime}`, LAMBDA_TASK_ROOT: o.codeDir,
    _HANDLER: o.handler, TZ: ':UTC', LANG: 'en_US.UTF-8', PATH: '/usr/local/bin:/usr/bin:/bin', PYTHONUNBUFFERED: '1',
    ...o.environment,
  };
}

/**
 * The function version as systemd units (systemd/pcloud-fn.socket and .service): the socket, and the service it
 * starts (a template, an instance per connection, when Accept=yes).
 */
export async function systemdFunctionUnits(o: FunctionUnitOptions, socket: string): Promise<{ socket: [string, string]; service: [string, string] }> {
  const accept = o.mode === 'per-request' && !o.console;
  const vars = {
    functionName: o.functionName, version: o.version, runtime: o.runtime, mode: o.mode, socket, accept: accept ? 'yes' : 'no',
    maxConnections: CONCURRENCY, exec: runtimeCommand(o, accept).map(execWord).join(' '),
    environment: Object.entries(lambdaEnvironment(o)).map(([k, v]) => `Environment=${execWord(`${k}=${v}`)}`).join('\n'),
    memoryMax: (o.memoryMiB + 64) * 2 ** 20, runtimeMax: `${o.timeoutSec + (accept ? 5 : 24 * 3600)}s`,
    // Handlers run as a user of their own, in a read-only system; a console proxy must reach the VM's VNC socket (root's).
    sandbox: o.console ? 'NoNewPrivileges=yes' : ['DynamicUser=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes'].join('\n'),
  };
  const base = `pcloud-fn-${o.key}`;
  return {
    socket: [`${base}.socket`, render(await template('systemd/pcloud-fn.socket'), vars)],
    service: [accept ? `${base}@.service` : `${base}.service`, render(await template('systemd/pcloud-fn.service'), vars)],
  };
}

export class FunctionHost {
  /** Under systemd, function units are host-wide names: recorded as this data dir's (owners.ts). */
  private readonly owners: Owners;

  constructor(private readonly units: UnitManager, private readonly dataDir: string, private readonly runDir: string) {
    this.owners = new Owners('units', dataDir);
  }

  socketPath(key: string): string {
    return socketPath(join(this.runDir, 'lambda', `${key}.sock`));
  }

  codeDir(accountId: string, name: string, revision: string): string {
    return join(this.dataDir, 'functions', accountId, name, revision);
  }

  /** Unpack a deployment package (zip) once per revision; a revision's code never changes. */
  async unpack(accountId: string, name: string, revision: string, zip: Buffer): Promise<string> {
    const dir = this.codeDir(accountId, name, revision);
    if (existsSync(dir)) return dir;
    const tmp = `${dir}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, '.package.zip'), zip);
    try {
      const res = await run('unzip', ['-q', '-o', join(tmp, '.package.zip'), '-d', tmp], { reject: false });
      // unzip: 1 is a warning (e.g. a stray path component it refused); more is an unusable archive.
      if (res.exitCode > 1) throw new Error(`Could not unzip uploaded file: ${res.stderr.trim().split('\n').pop()}`);
    } finally {
      await rm(join(tmp, '.package.zip'), { force: true });
    }
    await rename(tmp, dir);
    return dir;
  }

  async removeCode(accountId: string, name?: string): Promise<void> {
    await rm(name ? join(this.dataDir, 'functions', accountId, name) : join(this.dataDir, 'functions', accountId), { recursive: true, force: true });
  }

  unit(o: FunctionUnitOptions): UnitSpec {
    const accept = o.mode === 'per-request' && !o.console;
    const env = lambdaEnvironment(o);
    return {
      name: functionUnitName(o.key),
      description: `pcloud function ${o.functionName}:${o.version} (${o.runtime}, ${o.mode})`,
      exec: ['systemd-socket-activate', '-l', this.socketPath(o.key), ...(accept ? ['--accept'] : []),
        ...Object.entries(env).map(([k, v]) => `--setenv=${k}=${v}`), '--', ...runtimeCommand(o, accept)],
      type: 'simple',
      startTimeoutSec: 10,
      stopTimeoutSec: 5,
      killSignal: 'SIGTERM',
      // A warm worker that has been idle exits 133: the activator starts listening again.
      restartForceExitStatus: accept ? undefined : [133],
      // Warm: the one worker's memory. Per request: each invoke is a process of its own, up to CONCURRENCY at once.
      limits: { memoryMaxBytes: (o.memoryMiB * (accept ? CONCURRENCY : 1) + 64) * 2 ** 20, tasksMax: accept ? 64 * CONCURRENCY : 512 },
    };
  }

  /** Where systemd socket units of functions are written (runtime units: gone at reboot, as the sockets are). */
  private readonly systemdDir = process.env.PCLOUD_SYSTEMD_UNIT_DIR ?? '/run/systemd/system';

  /** The function's socket unit running and its socket listening (started on first use). */
  async ensure(o: FunctionUnitOptions): Promise<void> {
    // Every invoke asks: once started by this process and its socket still there, nothing to check (no unit manager
    // round trip, no systemctl, on the invoke path).
    if (this.started.has(o.key) && existsSync(this.socketPath(o.key))) return;
    if (this.units.kind === 'systemd') await this.ensureSocketUnit(o);
    else await this.ensureActivator(o);
    this.started.add(o.key);
  }

  /** Function units this process has started (or found running) since it started. */
  private readonly started = new Set<string>();

  private async ensureActivator(o: FunctionUnitOptions): Promise<void> {
    const name = functionUnitName(o.key);
    const st = await this.units.status(name);
    if (!st || isFinal(st.state)) {
      await mkdir(join(this.runDir, 'lambda'), { recursive: true });
      if (st) await this.units.remove(name);
      await rm(this.socketPath(o.key), { force: true });
      await this.units.start(this.unit(o));
    }
  }

  /**
   * Under systemd, the function is a real `.socket` unit with its service (a template when Accept=yes), written from
   * the templates in systemd/ and started; systemd listens and starts the shim per connection or per idle period.
   */
  private async ensureSocketUnit(o: FunctionUnitOptions): Promise<void> {
    const base = `pcloud-fn-${o.key}`;
    if ((await run('systemctl', ['is-active', `${base}.socket`], { reject: false })).stdout.trim() === 'active') return;
    await mkdir(join(this.runDir, 'lambda'), { recursive: true });
    const units = await systemdFunctionUnits(o, this.socketPath(o.key));
    await this.owners.claim(base);
    for (const [file, text] of [units.socket, units.service]) await writeFile(join(this.systemdDir, file), text);
    await run('systemctl', ['daemon-reload']);
    await run('systemctl', ['start', `${base}.socket`]);
  }

  private async stopSocketUnit(key: string): Promise<void> {
    const base = `pcloud-fn-${key}`;
    await run('systemctl', ['stop', `${base}.socket`, `${base}.service`, `${base}@*.service`], { reject: false });
    const files = [`${base}.socket`, `${base}.service`, `${base}@.service`].map((f) => join(this.systemdDir, f)).filter((f) => existsSync(f));
    for (const f of files) await rm(f, { force: true });
    if (files.length) await run('systemctl', ['daemon-reload']);
    await rm(this.socketPath(key), { force: true });
    await this.owners.release(base);
  }

  async stop(key: string): Promise<void> {
    this.started.delete(key);
    if (this.units.kind === 'systemd') return this.stopSocketUnit(key);
    const name = functionUnitName(key);
    await this.units.stop(name);
    await this.units.remove(name);
    await rm(this.socketPath(key), { force: true });
  }

  /** Every function unit there is (reconcile). */
  async list(): Promise<string[]> {
    if (this.units.kind === 'systemd') {
      const out = (await run('systemctl', ['list-units', '--all', '--plain', '--no-legend', 'pcloud-fn-*.socket'], { reject: false })).stdout;
      const bases = out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean).map((u) => u.replace(/\.socket$/, ''));
      return (await this.owners.mine(bases)).map((b) => b.slice('pcloud-fn-'.length));
    }
    return (await this.units.list('pcloud-fn@')).map((u) => u.name.slice('pcloud-fn@'.length));
  }

  /**
   * One invoke over the function's socket. The socket may be missing or refuse for a moment (the unit starting, or a
   * warm worker's activator starting again): that is retried for up to 5 s.
   */
  async invoke(key: string, payload: Buffer, opts: { requestId: string; tail: boolean; timeoutSec: number }): Promise<InvokeResult> {
    const until = Date.now() + 5000;
    for (;;) {
      try {
        return await this.once(key, payload, opts);
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
    if (this.units.kind === 'systemd') {
      const res = await run('journalctl', ['-u', `pcloud-fn-${key}*`, '-o', 'cat', '--no-pager', '-n', '2000'], { reject: false });
      return res.stdout.slice(-maxBytes);
    }
    return (await this.units.logs(functionUnitName(key), maxBytes)).toString();
  }
}
