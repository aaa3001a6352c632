/**
 * Lambda functions on the host: each function version's code unpacked once under DATA/functions, and a socket unit
 * per function version: `systemd-socket-activate` on the function's UNIX socket, which starts the runtime shim per
 * connection (`--accept`: the request on fd 3, a process per invoke) or once for a warm worker that serves until it has
 * been idle (`--idle`) and exits 133; the unit manager then starts the activator again, listening (scale to zero).
 * The same socket units render to systemd `.socket`/`.service` files from the templates in systemd/.
 *
 * Handlers never run as root: under systemd, the service is a DynamicUser= in a read-only system with the data dir
 * hidden (systemd/pcloud-fn.service); under the direct manager, the runtime runs in a bubblewrap sandbox as a user of
 * its own (sandbox.ts, sandbox-users.ts). Either way the code is read-only at /var/task and /tmp is private.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../log.js';
import { isPlainPath } from './host-path.js';
import { projectRoot } from '../paths.js';
import { socketPath } from './sockets.js';
import { Owners } from './owners.js';
import { fill, loadTemplate } from './template.js';
import { systemd } from './units/render.js';
import { run } from './exec.js';
import { unpackPackage } from './code-package.js';
import { passwdFiles, programPrefix, sandboxCommand, TASK_ROOT } from './sandbox.js';
import { seccompProgram } from './sandbox-seccomp.js';
import { SandboxUsers } from './sandbox-users.js';
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

/** The CPU one function (all its invokes) may take, in percent of one CPU. */
const CPU_PERCENT = ((v) => (Number.isInteger(v) && v > 0 ? v : 100))(Number(process.env.PCLOUD_LAMBDA_CPU_PERCENT ?? 100));

/**
 * The Python functions run on: PCLOUD_PYTHON, else Debian's /usr/bin/python3 (the `python3` package), else whatever
 * `python3` is on PATH. Not PATH first: a version manager's shim there (pyenv's is a shell script) costs every
 * per-request invoke ~100 ms before Python even starts.
 */
export function pythonCommand(): string {
  return process.env.PCLOUD_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/**
 * The command a runtime's requests run: the shim for it, with the function's handler contract (the code where the
 * sandbox shows it: TASK_ROOT).
 */
export function runtimeCommand(o: FunctionUnitOptions, accept: boolean): string[] {
  if (o.console) {
    return [process.execPath, join(projectRoot(), 'dist/src/runtime/console-proxy.js'), `--vnc=${o.console.vncPath}`,
      `--instance=${o.console.instanceId}`, `--idle=${o.console.idleSec}`, `--state=${o.console.stateFile}`];
  }
  const args = [`--runtime=${o.runtime}`, `--code=${TASK_ROOT}`, `--handler=${o.handler}`, `--function=${o.functionName}`,
    `--version=${o.version}`, `--arn=${o.arn}`, `--memory=${o.memoryMiB}`, `--timeout=${o.timeoutSec}`, `--idle=${o.idleSec}`,
    ...(accept ? ['--accept'] : [])];
  if (o.runtime.startsWith('python3')) return [pythonCommand(), join(projectRoot(), 'src/runtime/python_shim.py'), ...args];
  // The function's memory is the heap it may use (a per-request unit holds many such processes at once).
  return [process.execPath, `--max-old-space-size=${o.memoryMiB}`, join(projectRoot(), 'dist/src/runtime/shim.js'), ...args];
}

/** What of the host a runtime's sandbox must show besides /usr (read-only): the shim, and the interpreter if elsewhere. */
export function runtimeFiles(o: FunctionUnitOptions): string[] {
  const root = projectRoot();
  if (o.runtime.startsWith('python3')) return [join(root, 'src/runtime'), ...programPrefix(pythonCommand())];
  // dist/src/runtime/shim.js is ESM by the project's package.json.
  return [join(root, 'package.json'), join(root, 'dist/src/runtime'), ...programPrefix(process.execPath)];
}

/** What every function process sees besides the function's own variables (as Lambda sets them). */
export function lambdaEnvironment(o: FunctionUnitOptions): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: o.functionName, AWS_LAMBDA_FUNCTION_VERSION: o.version, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.memoryMiB),
    AWS_REGION: o.region, AWS_DEFAULT_REGION: o.region, AWS_EXECUTION_ENV: `AWS_Lambda_${o.runtime}`, LAMBDA_TASK_ROOT: TASK_ROOT,
    _HANDLER: o.handler, TZ: ':UTC', LANG: 'en_US.UTF-8', PATH: '/usr/local/bin:/usr/bin:/bin', PYTHONUNBUFFERED: '1',
    ...o.environment,
  };
}

/** A host path as a unit file's path setting takes it (plain characters only: pcloud makes these paths, never tenants). */
function unitPath(path: string): string {
  if (!isPlainPath(path)) throw new Error(`Function units cannot name the path ${JSON.stringify(path)}: use a data dir whose path has only letters, digits and /._@+-`);
  return path;
}

/**
 * The sandbox of a handler's service under systemd: a user of its own, a read-only system, nothing of the host's
 * homes, devices, kernel knobs or pcloud's data (the data dir an empty read-only tmpfs, /run/pcloud gone), seccomp,
 * only UNIX and IP sockets, no namespaces; the code read-only at TASK_ROOT, the runtime's files read-only.
 */
function systemdSandbox(o: FunctionUnitOptions, dataDir: string | undefined): [string, string][] {
  return [
    // Homes as empty read-only tmpfs dirs (ProtectHome=tmpfs's are writable; =yes would hide a project under /root).
    'DynamicUser=yes', 'ProtectSystem=strict', 'TemporaryFileSystem=/home:ro /root:ro /run/user:ro', 'PrivateTmp=yes', 'PrivateDevices=yes', 'PrivateIPC=yes', 'NoNewPrivileges=yes',
    'ProtectKernelTunables=yes', 'ProtectKernelModules=yes', 'ProtectKernelLogs=yes', 'ProtectControlGroups=yes', 'ProtectClock=yes',
    'ProtectHostname=yes', 'ProtectProc=invisible', 'RestrictNamespaces=yes', 'RestrictSUIDSGID=yes', 'RestrictRealtime=yes', 'LockPersonality=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6', 'SystemCallFilter=@system-service', 'SystemCallErrorNumber=EPERM',
    'SystemCallArchitectures=native', 'CapabilityBoundingSet=', 'AmbientCapabilities=', 'UMask=0077',
    ...(dataDir ? [`TemporaryFileSystem=${unitPath(dataDir)}:ro`] : []), 'InaccessiblePaths=-/run/pcloud',
    `BindReadOnlyPaths=${unitPath(o.codeDir)}:${TASK_ROOT}`, ...runtimeFiles(o).map((p) => `BindReadOnlyPaths=${unitPath(p)}`),
    `WorkingDirectory=${TASK_ROOT}`,
  ].map((l): [string, string] => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}

/**
 * The function version as systemd units (systemd/pcloud-fn.socket and .service): the socket, and the service it
 * starts (a template, an instance per connection, when Accept=yes). dataDir: hidden from the handler.
 */
export async function systemdFunctionUnits(o: FunctionUnitOptions, socket: string, dataDir?: string): Promise<{ socket: [string, string]; service: [string, string] }> {
  const accept = o.mode === 'per-request' && !o.console;
  const vars = {
    functionName: systemd.value(o.functionName), version: systemd.value(o.version), runtime: systemd.value(o.runtime), mode: systemd.value(o.mode),
    socket: systemd.value(socket), accept: systemd.value(accept ? 'yes' : 'no'), maxConnections: CONCURRENCY,
    exec: systemd.exec(runtimeCommand(o, accept)), environment: systemd.environment(lambdaEnvironment(o)),
    memoryMax: (o.memoryMiB + 64) * 2 ** 20, cpuQuota: CPU_PERCENT, runtimeMax: systemd.value(`${o.timeoutSec + (accept ? 5 : 24 * 3600)}s`),
    // Handlers run as a user of their own, in a read-only system; a console proxy (pcloud's own code, not a tenant's)
    // must reach the VM's VNC socket (root's) and write its state file: root, without new privileges.
    sandbox: systemd.settings(o.console ? [['NoNewPrivileges', 'yes']] : systemdSandbox(o, dataDir)),
  };
  const base = `pcloud-fn-${o.key}`;
  return {
    socket: [`${base}.socket`, fill(await loadTemplate('systemd/pcloud-fn.socket'), vars)],
    service: [accept ? `${base}@.service` : `${base}.service`, fill(await loadTemplate('systemd/pcloud-fn.service'), vars)],
  };
}

export class FunctionHost {
  /** Under systemd, function units are host-wide names: recorded as this data dir's (owners.ts). */
  private readonly owners: Owners;

  /** The direct manager's sandbox users (under systemd: DynamicUser=). */
  private readonly users: SandboxUsers;

  constructor(private readonly units: UnitManager, private readonly dataDir: string, private readonly runDir: string) {
    this.owners = new Owners('units', dataDir);
    this.users = new SandboxUsers(dataDir);
  }

  socketPath(key: string): string {
    return socketPath(join(this.runDir, 'lambda', `${key}.sock`));
  }

  codeDir(accountId: string, name: string, revision: string): string {
    return join(this.dataDir, 'functions', accountId, name, revision);
  }

  /**
   * Unpack a deployment package (zip) once per revision; a revision's code never changes. A package over Lambda's
   * unzipped size, or otherwise unusable, throws PackageRefused and leaves nothing.
   */
  async unpack(accountId: string, name: string, revision: string, zip: Buffer): Promise<string> {
    const dir = this.codeDir(accountId, name, revision);
    if (existsSync(dir)) return dir;
    await unpackPackage(zip, dir);
    return dir;
  }

  async removeCode(accountId: string, name?: string): Promise<void> {
    await rm(name ? join(this.dataDir, 'functions', accountId, name) : join(this.dataDir, 'functions', accountId), { recursive: true, force: true });
  }

  /**
   * The direct manager's unit: the activator on the function's socket, starting the runtime in its sandbox (box: the
   * function's user and the seccomp program). A console proxy is pcloud's own code and runs as the server does.
   */
  unit(o: FunctionUnitOptions, box?: { uid: number; seccomp: string; passwd: string; group: string }): UnitSpec {
    const accept = o.mode === 'per-request' && !o.console;
    const env = lambdaEnvironment(o);
    if (!o.console && !box) throw new Error('a function runs only in its sandbox');
    const command = o.console || !box ? runtimeCommand(o, accept)
      : sandboxCommand({ ...box, codeDir: o.codeDir, readOnly: runtimeFiles(o), env, command: runtimeCommand(o, accept) });
    return {
      name: functionUnitName(o.key),
      description: `pcloud function ${o.functionName}:${o.version} (${o.runtime}, ${o.mode})`,
      exec: ['systemd-socket-activate', '-l', this.socketPath(o.key), ...(accept ? ['--accept'] : []),
        ...(o.console ? Object.entries(env).map(([k, v]) => `--setenv=${k}=${v}`) : []), '--', ...command],
      type: 'simple',
      startTimeoutSec: 10,
      stopTimeoutSec: 5,
      killSignal: 'SIGTERM',
      // A warm worker that has been idle exits 133: the activator starts listening again.
      restartForceExitStatus: accept ? undefined : [133],
      // Warm: the one worker's memory. Per request: each invoke is a process of its own, up to CONCURRENCY at once.
      limits: { memoryMaxBytes: (o.memoryMiB * (accept ? CONCURRENCY : 1) + 64) * 2 ** 20, tasksMax: accept ? 64 * CONCURRENCY : 512, cpuQuotaPercent: CPU_PERCENT },
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

  /**
   * The function's activator running as this pcloud would start it: a unit found running with another spec (an older
   * pcloud's, e.g. from before handlers were sandboxed) is started again; the spec started is recorded beside the socket.
   */
  private async ensureActivator(o: FunctionUnitOptions): Promise<void> {
    const name = functionUnitName(o.key);
    await mkdir(join(this.runDir, 'lambda'), { recursive: true });
    const box = o.console ? undefined : await this.sandbox(o.key);
    const spec = this.unit(o, box);
    const stamp = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    let st = await this.units.status(name);
    if (st && !isFinal(st.state)) {
      if ((await readFile(this.specStamp(o.key), 'utf8').catch(() => '')) === stamp) return;
      st = await this.units.stop(name);
    }
    if (st) await this.units.remove(name);
    await rm(this.socketPath(o.key), { force: true });
    try {
      await this.units.start(spec);
      await writeFile(this.specStamp(o.key), stamp);
    } catch (err) {
      // Nothing stays of a unit that never started: its unit and its dir, socket, spec stamp and sandbox user.
      await this.stop(o.key).catch((e) => log.warn(`cleaning up function unit ${name}: ${(e as Error).message}`));
      throw err;
    }
  }

  /** Where the hash of the unit spec a function's activator was started with is kept. */
  private specStamp(key: string): string {
    return join(this.runDir, 'lambda', `${key}.unit`);
  }

  /** A function's sandbox under the direct manager: its user (claimed), /etc/passwd naming it, the seccomp program. */
  private async sandbox(key: string): Promise<{ uid: number; seccomp: string; passwd: string; group: string }> {
    const dir = join(this.runDir, 'lambda', 'sandbox');
    const seccomp = await seccompProgram(dir);
    const uid = await this.users.claim(key);
    const files = passwdFiles(uid);
    const [passwd, group] = [join(dir, `passwd-${uid}`), join(dir, `group-${uid}`)];
    await writeFile(passwd, files.passwd, { mode: 0o644 });
    await writeFile(group, files.group, { mode: 0o644 });
    return { uid, seccomp, passwd, group };
  }

  /** The function's user free again, and its passwd files gone. */
  private async releaseSandbox(key: string): Promise<void> {
    const uid = await this.users.release(key);
    if (uid === undefined) return;
    const dir = join(this.runDir, 'lambda', 'sandbox');
    await rm(join(dir, `passwd-${uid}`), { force: true });
    await rm(join(dir, `group-${uid}`), { force: true });
  }

  /**
   * Under systemd, the function is a real `.socket` unit with its service (a template when Accept=yes), written from
   * the templates in systemd/ and started; systemd listens and starts the shim per connection or per idle period.
   */
  private async ensureSocketUnit(o: FunctionUnitOptions): Promise<void> {
    const base = `pcloud-fn-${o.key}`;
    const units = await systemdFunctionUnits(o, this.socketPath(o.key), this.dataDir);
    if ((await run('systemctl', ['is-active', `${base}.socket`], { reject: false })).stdout.trim() === 'active') {
      // Running from these very unit files: nothing to do. Other files (an older pcloud's): stopped and written anew.
      const same = await Promise.all([units.socket, units.service].map(([file, text]) =>
        readFile(join(this.systemdDir, file), 'utf8').then((t) => t === text, () => false)));
      if (same.every(Boolean)) return;
      await run('systemctl', ['stop', `${base}.socket`, `${base}.service`, `${base}@*.service`], { reject: false });
    }
    await mkdir(join(this.runDir, 'lambda'), { recursive: true });
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
    await rm(this.specStamp(key), { force: true });
    await this.releaseSandbox(key);
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
