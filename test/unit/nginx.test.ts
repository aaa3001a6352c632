/**
 * pcloud's nginx configuration, checked by nginx itself (`nginx -t`) and run for real: hostile values never reach it
 * (a route that cannot be written is left out, the others stay), and the auth subrequest carries this server's secret
 * whatever header a client sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NginxDriver, renderMain, renderRoutes, type FunctionRoute } from '../../src/host/nginx.js';
import { NginxValueError } from '../../src/host/nginx-syntax.js';
import type { UnitSpec } from '../../src/host/units/types.js';
import { FakeUnits } from '../support/fake-host.js';
import { HOSTILE, NUL } from '../support/hostile.js';

const route = (over: Partial<FunctionRoute> = {}): FunctionRoute => ({
  accountId: '111122223333', name: 'hello', arn: 'arn:aws:lambda:us-east-1:111122223333:function:hello',
  socket: '/run/pcloud/lambda/111122223333-hello-latest.sock', urlId: '0123456789abcdef0123456789abcdef', urlAuth: 'NONE', ...over,
});

describe('nginx configuration', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'pcloud-nginx-t-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const check = async (routes: string, listen = '127.0.0.1:9') => {
    writeFileSync(join(dir, 'nginx.conf'), await renderMain({ prefix: dir, listen, api: 'http://127.0.0.1:9', workers: 1, authorizerSecret: 'f'.repeat(64) }));
    writeFileSync(join(dir, 'functions.conf'), routes);
    return spawnSync('nginx', ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { encoding: 'utf8' });
  };

  it('passes nginx -t with every kind of route', async () => {
    const text = await renderRoutes([route(), route({ name: 'console', arn: 'arn:aws:lambda:us-east-1:111122223333:function:console', console: true, urlId: 'ab'.repeat(16) }),
      route({ name: 'nourl', arn: 'arn:aws:lambda:us-east-1:111122223333:function:nourl', urlId: undefined, urlAuth: undefined })]);
    expect(text).toContain('location /url/0123456789abcdef0123456789abcdef/ {');
    expect(text).toContain('auth_request /_pcloud_auth/url/111122223333/hello/NONE;');
    expect(text).toContain('location = /2015-03-31/functions/nourl/invocations {');
    const res = await check(text);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });

  it('leaves out a route with a hostile value in any field, keeps the others, and nginx -t still passes', async () => {
    for (const field of ['accountId', 'name', 'arn', 'socket', 'urlId', 'urlAuth'] as const) {
      for (const [label, v] of Object.entries({ ...HOSTILE, NUL })) {
        if (field === 'urlId' && v === '') continue; // no URL: the route stays, without one
        const text = await renderRoutes([route({ [field]: v, name: field === 'name' ? v : 'bad' }), route()]);
        expect(text, `${field} ${label}`).not.toContain('/bad/');
        if (v) expect(text).not.toContain(v);
        expect(text.match(/location = \/2015-03-31\/functions\/arn/g)).toHaveLength(1);
        expect(text).toContain('location = /2015-03-31/functions/hello/invocations {');
      }
    }
    expect((await check(await renderRoutes([route({ name: HOSTILE.braces! }), route()]))).status).toBe(0);
  });

  it('listens on an IPv6 address too', async () => {
    expect((await check('', '[::1]:9')).status).toBe(0);
  });

  it('refuses a main configuration value outside nginx\'s token alphabet', async () => {
    for (const v of [...Object.values(HOSTILE), NUL].filter((x) => x !== HOSTILE.empty)) {
      await expect(renderMain({ prefix: `/tmp/${v}`, listen: '127.0.0.1:9', api: 'http://127.0.0.1:9', workers: 1, authorizerSecret: 'f' })).rejects.toThrow(NginxValueError);
    }
    await expect(renderMain({ prefix: '/tmp', listen: '127.0.0.1:9', api: 'http://127.0.0.1:9', workers: 1, authorizerSecret: 'f;' })).rejects.toThrow(NginxValueError);
  });
});

/** A unit manager that really runs the nginx unit (the rest as FakeUnits keeps it). */
class SpawnUnits extends FakeUnits {
  child?: ChildProcess;
  override async start(spec: UnitSpec): Promise<void> {
    await super.start(spec);
    this.child = spawn(spec.exec[0]!, spec.exec.slice(1), { stdio: 'ignore' });
  }
  override async signal(name: string, signal: string): Promise<void> {
    await super.signal(name, signal);
    this.child?.kill(signal as NodeJS.Signals);
  }
  override async stop(name: string) {
    const c = this.child;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGQUIT');
      await exited;
    }
    return super.stop(name);
  }
}

describe('nginx for real: the auth subrequest carries the secret', () => {
  let dir: string;
  let units: SpawnUnits;
  let driver: NginxDriver;
  let api: Server;
  let fn: Server;
  const asked: IncomingHttpHeaders[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcloud-nginx-run-'));
    // pcloud's API stand-in: records what the authorization endpoint is asked, lets everything through.
    api = createServer((req, res) => {
      if (req.url?.startsWith('/pcloud/lambda/authorize/')) asked.push(req.headers);
      res.writeHead(204).end();
    }).listen(0, '127.0.0.1');
    fn = createServer((req, res) => {
      if (req.url === '/slow') void held.then(() => res.end('slow done'));
      else res.end(`function saw ${req.url}`);
    }).listen(join(dir, 'fn.sock'));
    await Promise.all([api, fn].map((s) => new Promise((r) => s.once('listening', r))));
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    units = new SpawnUnits();
    driver = new NginxDriver(units, join(dir, 'nginx'), `127.0.0.1:${port}`, `http://127.0.0.1:${(api.address() as AddressInfo).port}`);
    await driver.start([route({ socket: join(dir, 'fn.sock') })]);
  });
  afterAll(async () => {
    await driver?.stop();
    api?.close();
    fn?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the configuration for root only', () => {
    expect(statSync(join(dir, 'nginx', 'nginx.conf')).mode & 0o777).toBe(0o600);
  });

  it('replaces a client\'s guessed secret with the real one, and the route works', async () => {
    const res = await fetch(`${driver.baseUrl}/url/${route().urlId}/x`, { headers: { 'x-pcloud-authorizer': 'guessed' } });
    expect(await res.text()).toBe('function saw /x');
    expect(asked).toHaveLength(1);
    expect(asked[0]!['x-pcloud-authorizer']).not.toBe('guessed');
    expect(driver.authorizes(new Headers(asked[0] as Record<string, string>))).toBe(true);
    expect(driver.authorizes(new Headers({ 'x-pcloud-authorizer': 'guessed' }))).toBe(false);
    expect(driver.authorizes(new Headers())).toBe(false);
  });

  it('a reload returns once no worker from before takes connections: a new route answers at once, a request in flight finishes', async () => {
    const master = readFileSync(join(dir, 'nginx', 'nginx.pid'), 'utf8').trim();
    const workers = () => readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').split(/\s+/).filter(Boolean);
    const title = (pid: string) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return 'gone'; } };
    const before = workers();
    expect(before.length).toBeGreaterThan(0);
    const slow = fetch(`${driver.baseUrl}/url/${route().urlId}/slow`).then((r) => r.text());
    while (asked.length < 2) await new Promise((r) => setTimeout(r, 5));
    const socket = join(dir, 'fn.sock');
    await driver.sync([route({ socket }), route({ name: 'second', arn: 'arn:aws:lambda:us-east-1:111122223333:function:second', urlId: 'cd'.repeat(16), socket })]);
    for (const pid of before) expect(title(pid)).toMatch(/shutting down|^gone$|^$/);
    expect(await (await fetch(`${driver.baseUrl}/url/${'cd'.repeat(16)}/new`)).text()).toBe('function saw /new');
    release();
    expect(await slow).toBe('slow done');
  });

  it('keeps the auth location internal', async () => {
    const n = asked.length;
    const res = await fetch(`${driver.baseUrl}/_pcloud_auth/url/111122223333/hello/NONE`);
    expect(res.status).toBe(404);
    expect(asked).toHaveLength(n);
  });
});
