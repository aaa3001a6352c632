/**
 * pcloud's nginx: rendered from the templates in nginx/ into DATA/run/nginx, run as the `pcloud-nginx` unit, and
 * reloaded (SIGHUP: new workers take the new routes, old ones finish their requests) whenever the functions change.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { render, template as loadTemplate } from './template.js';
import { run } from './exec.js';
import type { UnitManager, UnitSpec } from './units/types.js';
import { isFinal } from './units/types.js';

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

const template = (name: string) => loadTemplate(`nginx/${name}`);

/** functions.conf: each function's Invoke location (by ARN, and by name where no other account has the name) and URL. */
export async function renderRoutes(routes: FunctionRoute[]): Promise<string> {
  const [byArn, byName, url, consoleUrl] = await Promise.all([template('function.conf'), template('function-name.conf'), template('function-url.conf'), template('function-console.conf')]);
  const count = new Map<string, number>();
  for (const r of routes) count.set(r.name, (count.get(r.name) ?? 0) + 1);
  return routes.map((r) => {
    const vars = { ...r, urlId: r.urlId ?? '', urlAuth: r.urlAuth ?? '' };
    const { console: isConsole, ...plain } = vars;
    const urlConf = isConsole ? consoleUrl : url;
    return [render(byArn, plain), count.get(r.name) === 1 ? render(byName, plain) : '', r.urlId ? render(urlConf, plain) : ''].join('');
  }).join('\n');
}

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
  ) {}

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
    };
  }

  /** Write the configuration, check it, and run nginx (or reload the one running). */
  async start(routes: FunctionRoute[]): Promise<void> {
    await mkdir(this.prefix, { recursive: true });
    const main = render(await template('pcloud.conf'), {
      prefix: this.prefix, listen: this.listen, api: this.api, workers: Math.min(4, cpus().length),
    });
    await writeFile(this.conf, main);
    await this.writeRoutes(await renderRoutes(routes));
    await this.check();
    const st = await this.units.status(NGINX_UNIT);
    if (st && !isFinal(st.state)) {
      await this.units.signal(NGINX_UNIT, 'SIGHUP');
      await this.live();
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
    await this.units.signal(NGINX_UNIT, 'SIGHUP');
    await this.live();
  }

  /** Wait until nginx serves the routes last written (a reload takes some tens of milliseconds). */
  private async live(): Promise<void> {
    const want = String(this.generation);
    for (let i = 0; i < 250; i++) {
      const got = await fetch(`${this.baseUrl}/_pcloud_generation`).then((r) => r.text(), () => '');
      if (got === want) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`nginx did not take routes generation ${want}`);
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
