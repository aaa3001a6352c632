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
import { fill, loadTemplate, type Escaped } from './template.js';
import { nginxToken } from './nginx-syntax.js';
import { log } from '../log.js';
import { run } from './exec.js';
import type { UnitManager, UnitSpec } from './units/types.js';
import { isFinal } from './units/types.js';
import { SERVICE_RESTART } from './units/restart.js';
import { hostPortOf } from './ports.js';

export interface FunctionRoute {
  accountId: string;
  name: string;
  arn: string;
  socket: string;
  urlId?: string;
  urlAuth?: string;
  /** A fat lambda: its URL is a VM's console (a page and a websocket), not a handler. */
  console?: boolean;
}

export const NGINX_UNIT = 'pcloud-nginx';

/** The header that carries the authorizer secret on nginx's auth subrequests (pcloud.conf). */
export const AUTHORIZER_HEADER = 'x-pcloud-authorizer';

const template = (name: string) => loadTemplate(`nginx/${name}`);

/**
 * functions.conf: each function's Invoke location (by ARN, and by name where no other account has the name) and URL.
 * A route with a value nginx cannot take is left out (and logged): one function never breaks the others' routes.
 */
export async function renderRoutes(routes: FunctionRoute[]): Promise<string> {
  const [byArn, byName, url, consoleUrl] = await Promise.all([template('function.conf'), template('function-name.conf'), template('function-url.conf'), template('function-console.conf')]);
  const count = new Map<string, number>();
  for (const r of routes) count.set(r.name, (count.get(r.name) ?? 0) + 1);
  return routes.flatMap((r) => {
    try {
      const vars: Record<string, Escaped<'nginx'>> = {
        accountId: nginxToken(r.accountId, 'An account id'), name: nginxToken(r.name, 'A function name'), arn: nginxToken(r.arn, 'A function ARN'),
        socket: nginxToken(r.socket, 'A function socket'),
      };
      const parts = [fill(byArn, vars), count.get(r.name) === 1 ? fill(byName, vars) : ''];
      if (r.urlId) {
        const withUrl = { ...vars, urlId: nginxToken(r.urlId, 'A function URL id'), urlAuth: nginxToken(r.urlAuth ?? 'AWS_IAM', 'A function URL auth type') };
        parts.push(fill(r.console ? consoleUrl : url, withUrl));
      }
      return [parts.join('')];
    } catch (err) {
      log.warn(`nginx: no route for function ${JSON.stringify(r.name.slice(0, 64))}: ${(err as Error).message}`);
      return [];
    }
  }).join('\n');
}

/** nginx's main configuration (nginx/pcloud.conf): every value one nginx token, the secret included. */
export async function renderMain(o: { prefix: string; listen: string; api: string; workers: number; authorizerSecret: string }): Promise<string> {
  return fill(await template('pcloud.conf'), {
    prefix: nginxToken(o.prefix, 'The nginx directory (in the data dir)'), listen: nginxToken(o.listen, 'The Lambda listen address'),
    api: nginxToken(o.api, "pcloud's API address"), workers: o.workers, authorizerSecret: nginxToken(o.authorizerSecret, 'The authorizer secret'),
  });
}

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

  /** Write the configuration, check it, and run nginx (or reload the one running). */
  async start(routes: FunctionRoute[]): Promise<void> {
    await mkdir(this.prefix, { recursive: true });
    const main = await renderMain({
      prefix: this.prefix, listen: this.listen, api: this.api, workers: Math.min(4, cpus().length), authorizerSecret: this.authorizerSecret,
    });
    // Only root reads it (it holds the secret): written aside with that mode, then renamed over the old one.
    await writeFile(`${this.conf}.tmp`, main, { mode: 0o600 });
    await chmod(`${this.conf}.tmp`, 0o600);
    await rename(`${this.conf}.tmp`, this.conf);
    await this.writeRoutes(await renderRoutes(routes));
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
  async sync(routes: FunctionRoute[]): Promise<void> {
    const text = await renderRoutes(routes);
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
    const old = await this.acceptingWorkers();
    await this.units.signal(NGINX_UNIT, 'SIGHUP');
    await this.live(old);
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
