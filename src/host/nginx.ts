/**
 * pcloud's nginx: rendered from the templates in nginx/ into DATA/run/nginx, run as the `pcloud-nginx` unit, and
 * reloaded (SIGHUP: new workers take the new routes, old ones finish their requests) whenever the functions change.
 *
 * nginx asks pcloud's API whether each request may through (auth_request). That endpoint answers nginx only: each
 * driver makes a random secret, written into nginx.conf (mode 0600) for the auth subrequest's X-Pcloud-Authorizer
 * header, and `authorizes()` compares what a request presents with it in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fill, loadTemplate } from './template.js';
import { nginxToken } from './nginx-syntax.js';
import { log } from '../log.js';
import { run } from './exec.js';
import type { UnitManager, UnitSpec } from './units/types.js';
import { isFinal } from './units/types.js';
import { SERVICE_RESTART } from './units/restart.js';
import { hostPortOf } from './ports.js';
import { InvocationLog, invocationLogPath, type NginxInvocation } from './invocation-log.js';

export interface FunctionRoute {
  accountId: string;
  name: string;
  socket: string;
  urlId?: string;
  urlAuth?: string;
  /** A fat lambda: its URL is a VM's console (a page and a websocket), not a handler. */
  console?: boolean;
  /**
   * The function's reserved concurrency: its URLs' requests then go through pcloud's API, which counts them with its
   * Invokes (0: every one answered 429, Lambda's throttle).
   */
  reserved?: number;
  /** How it runs (per-request or warm): what its invocations are reported with. */
  mode?: string;
}

/** What applies to every route. */
export interface RouteOptions {
  /** Invocations an account may have running at once (Invoke and function URLs together; limit_conn). */
  concurrency: number;
}

export const NGINX_UNIT = 'pcloud-nginx';

/** The header that carries the authorizer secret on nginx's auth subrequests (pcloud.conf). */
export const AUTHORIZER_HEADER = 'x-pcloud-authorizer';

const template = (name: string) => loadTemplate(`nginx/${name}`);

const reloads = { ok: 0, failed: 0 };
/** The reloads this process has asked of its nginx (whichever driver), by how they ended: nginx serving the new routes, or not. */
export const nginxReloads = (): { ok: number; failed: number } => ({ ...reloads });

/**
 * functions.conf: Invoke (one location for every function: pcloud's authorizer names the signer's function) and each
 * function's URL. A URL with a value nginx cannot take is left out (and logged): one function never breaks the others.
 */
export async function renderRoutes(routes: FunctionRoute[], options: RouteOptions): Promise<string> {
  const [invoke, url, consoleUrl, throttled, relayed] = await Promise.all([
    template('function-invoke.conf'), template('function-url.conf'), template('function-console.conf'), template('function-url-throttled.conf'),
    template('function-url-relayed.conf'),
  ]);
  if (!Number.isSafeInteger(options.concurrency) || options.concurrency < 1) throw new Error(`nginx: ${options.concurrency} is not a number of invocations`);
  const concurrency = options.concurrency;
  const urls = routes.flatMap((r) => {
    if (!r.urlId) return [];
    try {
      const reserved = r.reserved;
      if (reserved !== undefined && (!Number.isSafeInteger(reserved) || reserved < 0)) throw new Error(`${reserved} is not a number of invocations`);
      // A reserved concurrency is counted by pcloud's API, across every server (function-url-relayed.conf); 0 throttles all.
      const page = r.console ? consoleUrl : reserved === 0 ? throttled : reserved !== undefined ? relayed : url;
      return [fill(page, {
        accountId: nginxToken(r.accountId, 'An account id'), name: nginxToken(r.name, 'A function name'), socket: nginxToken(r.socket, 'A function socket'),
        urlId: nginxToken(r.urlId, 'A function URL id'), urlAuth: nginxToken(r.urlAuth ?? 'AWS_IAM', 'A function URL auth type'), concurrency,
        mode: nginxToken(r.mode ?? 'per-request', 'A function mode'),
      })];
    } catch (err) {
      log.warn(`nginx: no URL for function ${JSON.stringify(r.name.slice(0, 64))}: ${(err as Error).message}`);
      return [];
    }
  });
  return [fill(invoke, { concurrency }), ...urls].join('\n');
}

/** nginx's main configuration (nginx/pcloud.conf): every value one nginx token, the secret included. */
export async function renderMain(o: { prefix: string; listen: string; api: string; workers: number; authorizerSecret: string }): Promise<string> {
  return fill(await template('pcloud.conf'), {
    invocationLog: nginxToken(invocationLogPath(o.prefix), 'The invocation log socket (in the data dir)'),
    prefix: nginxToken(o.prefix, 'The nginx directory (in the data dir)'), listen: nginxToken(o.listen, 'The Lambda listen address'),
    api: nginxToken(o.api, "pcloud's API address"), workers: o.workers, authorizerSecret: nginxToken(o.authorizerSecret, 'The authorizer secret'),
  });
}

/** Routes written before the domain's first sync gives its limits: one invocation at once per account, not more than it allows. */
const UNTIL_SYNCED: RouteOptions = { concurrency: 1 };

const digest = (s: string) => createHash('sha256').update(s).digest();

export class NginxDriver {
  private last?: string;
  /** Each routes file ends with its generation, which nginx answers at /_pcloud_generation once it serves it. */
  private generation = 0;

  constructor(
    private readonly units: UnitManager,
    private readonly prefix: string,
    readonly listen: string,
    /** pcloud's own API, which nginx asks to authorize each request. */
    private readonly api: string,
    /** What nginx presents on its auth subrequests: made afresh by each process (start() writes it for nginx). */
    private readonly authorizerSecret = randomBytes(32).toString('hex'),
  ) {}

  /** Whether a request to the authorization endpoint comes from this server's nginx: its secret, compared in constant time. */
  authorizes(headers: Headers): boolean {
    return timingSafeEqual(digest(headers.get(AUTHORIZER_HEADER) ?? ''), digest(this.authorizerSecret));
  }

  /** The port it listens on (PCLOUD_LAMBDA_LISTEN's). */
  get port(): number {
    return hostPortOf(this.listen, 'PCLOUD_LAMBDA_LISTEN').port;
  }

  get baseUrl(): string {
    return `http://${this.listen}`;
  }

  private get conf(): string {
    return join(this.prefix, 'nginx.conf');
  }

  unit(): UnitSpec {
    return {
      name: NGINX_UNIT, description: 'pcloud nginx (function URLs and Invoke)',
      exec: ['nginx', '-p', this.prefix, '-c', this.conf, '-e', join(this.prefix, 'error.log')],
      type: 'simple', startTimeoutSec: 10, stopTimeoutSec: 10, killSignal: 'SIGQUIT',
      // Restarted with backoff if it dies; its port is host-wide: refused while another server holds it.
      restart: SERVICE_RESTART, ports: [hostPortOf(this.listen, 'PCLOUD_LAMBDA_LISTEN')],
    };
  }

  private invocationLog?: InvocationLog;
  private invocationListener?: (i: NginxInvocation) => void;

  /** Told of every request nginx serves from a function's socket (invocation-log.ts), from its next start(). */
  onInvocation(listener: (i: NginxInvocation) => void): void {
    this.invocationListener = listener;
  }

  /** The socket nginx reports invocations to, closed (nginx itself runs on: units outlive the server). */
  close(): void {
    this.invocationLog?.close();
    this.invocationLog = undefined;
  }

  /** Write the configuration, check it, and run nginx (or reload the one running). */
  async start(routes: FunctionRoute[], options: RouteOptions = UNTIL_SYNCED): Promise<void> {
    await mkdir(this.prefix, { recursive: true });
    // Bound before nginx starts or reloads: from its first request on, someone listens.
    if (this.invocationListener && !this.invocationLog) {
      const listener = this.invocationListener;
      this.invocationLog = InvocationLog.open(invocationLogPath(this.prefix), (i) => listener(i));
    }
    const main = await renderMain({
      prefix: this.prefix, listen: this.listen, api: this.api, workers: Math.min(4, cpus().length), authorizerSecret: this.authorizerSecret,
    });
    // Only root reads it (it holds the secret): written aside with that mode, then renamed over the old one.
    await writeFile(`${this.conf}.tmp`, main, { mode: 0o600 });
    await chmod(`${this.conf}.tmp`, 0o600);
    await rename(`${this.conf}.tmp`, this.conf);
    await this.writeRoutes(await renderRoutes(routes, options));
    await this.check();
    const st = await this.units.status(NGINX_UNIT);
    if (st && !isFinal(st.state)) {
      await this.reload();
      return;
    }
    if (st) await this.units.remove(NGINX_UNIT);
    await this.units.start(this.unit());
    await this.live();
  }

  /** New routes: rewritten, checked, and nginx reloaded; unchanged routes touch nothing. */
  async sync(routes: FunctionRoute[], options: RouteOptions): Promise<void> {
    const text = await renderRoutes(routes, options);
    if (text === this.last) return;
    await this.writeRoutes(text);
    await this.check();
    await this.reload();
  }

  /**
   * SIGHUP, and wait until nginx serves the routes last written and only them: new workers answer the new
   * generation, and every worker from before has stopped accepting connections (until it does, on a busy host, a new
   * request can still land on one and miss a route it was just given).
   */
  private async reload(): Promise<void> {
    try {
      const old = await this.acceptingWorkers();
      await this.units.signal(NGINX_UNIT, 'SIGHUP');
      await this.live(old);
      reloads.ok++;
    } catch (err) {
      reloads.failed++;
      throw err;
    }
  }

  /** Wait until nginx serves the routes last written (a reload takes some tens of milliseconds). */
  private async live(oldWorkers: Set<number> = new Set()): Promise<void> {
    const want = String(this.generation);
    for (let i = 0; i < 250; i++) {
      const got = await fetch(`${this.baseUrl}/_pcloud_generation`).then((r) => r.text(), () => '');
      if (got === want) {
        const now = await this.acceptingWorkers();
        if (![...oldWorkers].some((pid) => now.has(pid))) return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`nginx did not take routes generation ${want}`);
  }

  /** nginx's worker processes that accept connections: its master's children, but those shutting down (gone or not). */
  private async acceptingWorkers(): Promise<Set<number>> {
    const master = (await readFile(join(this.prefix, 'nginx.pid'), 'utf8').catch(() => '')).trim();
    if (!/^\d+$/.test(master)) return new Set();
    const children = (await readFile(`/proc/${master}/task/${master}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean);
    const accepting = new Set<number>();
    for (const pid of children) {
      const title = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (title.includes('worker process') && !title.includes('shutting down')) accepting.add(Number(pid));
    }
    return accepting;
  }

  async stop(): Promise<void> {
    await this.units.stop(NGINX_UNIT);
  }

  private async writeRoutes(text: string): Promise<void> {
    const file = join(this.prefix, 'functions.conf');
    this.generation++;
    await writeFile(`${file}.tmp`, `${text}\nlocation = /_pcloud_generation {\n  return 200 "${this.generation}";\n}\n`);
    await rename(`${file}.tmp`, file);
    this.last = text;
  }

  private async check(): Promise<void> {
    const res = await run('nginx', ['-t', '-q', '-p', this.prefix, '-c', this.conf, '-e', join(this.prefix, 'error.log')], { reject: false });
    if (res.exitCode !== 0) throw new Error(`nginx configuration rejected: ${res.stderr.trim()}`);
  }
}
