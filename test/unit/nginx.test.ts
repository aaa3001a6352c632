/**
 * pcloud's nginx configuration, checked by nginx itself (`nginx -t`) and run for real: hostile values never reach it
 * (a route that cannot be written is left out, the others stay), the auth subrequest carries this server's secret
 * whatever header a client sent, an Invoke goes where the authorizer says (the signer's function, or pcloud's API),
 * and an account's invocations at once are capped (429 in Lambda's form), each account on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer, get, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NginxDriver, renderMain, renderRoutes, type FunctionRoute } from '../../src/host/nginx.js';
import { NginxValueError } from '../../src/host/nginx-syntax.js';
import { invocationLogPath, type NginxInvocation } from '../../src/host/invocation-log.js';
import { waitFor } from '../support/wait.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { SpawnUnits } from '../support/spawn-units.js';
import { FAST_TIER } from '../support/tier.js';

const OPTIONS = { concurrency: 100 };
const route = (over: Partial<FunctionRoute> = {}): FunctionRoute => ({
  accountId: '111122223333', name: 'hello',
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

  const everyKind = () => renderRoutes([route(), route({ name: 'console', console: true, urlId: 'ab'.repeat(16) }), route({ name: 'nourl', urlId: undefined, urlAuth: undefined }),
    route({ name: 'reserved', urlId: 'cd'.repeat(16), reserved: 3 }), route({ name: 'stopped', urlId: 'ef'.repeat(16), reserved: 0 })], { concurrency: 7 });

  it('routes every kind of function: URLs, the console, one Invoke location capped per account', async () => {
    const text = await everyKind();
    expect(text).toContain('location /url/0123456789abcdef0123456789abcdef/ {');
    expect(text).toContain('auth_request /_pcloud_auth/url/111122223333/hello/NONE/0123456789abcdef0123456789abcdef;');
    // One Invoke location for every function of every account (the authorizer names the signer's), capped per account.
    expect(text.match(/location ~ \^\/2015-03-31\/functions\//g)).toHaveLength(1);
    expect(text).not.toContain('nourl');
    expect(text.match(/limit_conn pcloud_accounts 7;/g)).toHaveLength(3);
    // A URL of a function with a reserved concurrency goes through pcloud's API, which counts it (no socket here); 0: throttled.
    const reserved = text.slice(text.indexOf(`location /url/${'cd'.repeat(16)}/`));
    expect(reserved.slice(0, reserved.indexOf('\n}'))).toMatch(/proxy_set_header X-Pcloud-Function 111122223333\/reserved;[^]*proxy_pass \$pcloud_url_relay;$/);
    expect(text.match(/proxy_pass \$pcloud_url_relay;/g)).toHaveLength(1);
    expect(text).toContain(`location /url/${'ef'.repeat(16)}/ {\n  default_type application/json;\n  return 429`);
  });

  it.skipIf(FAST_TIER)('passes nginx -t with every kind of route', async () => {
    const res = await check(await everyKind());
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });

  it('leaves out a URL with a hostile value in any field, keeps the others (a URL to its socket, or relayed through the API)', async () => {
    const cases = (['accountId', 'name', 'socket', 'urlId', 'urlAuth', 'mode'] as const).flatMap((field) => [undefined, 2].map((reserved) => ({ field, reserved })));
    for (const { field, reserved } of cases) {
      for (const [label, v] of Object.entries({ ...HOSTILE, NUL })) {
        if (field === 'urlId' && v === '') continue; // no URL: nothing to route
        const bad = route({ [field]: v, name: field === 'name' ? v : 'bad', urlId: field === 'urlId' ? v : 'ba'.repeat(16), reserved });
        const text = await renderRoutes([bad, route()], OPTIONS);
        expect(text, `${field} ${label} ${reserved}`).not.toContain('/bad/');
        expect(text, `${field} ${label} ${reserved}`).not.toContain('baba');
        if (v) expect(text).not.toContain(v);
        expect(text).toContain('location /url/0123456789abcdef0123456789abcdef/ {');
      }
    }
  });

  it.skipIf(FAST_TIER)('with a hostile name left out, nginx -t still passes', async () => {
    expect((await check(await renderRoutes([route({ name: HOSTILE.braces! }), route()], OPTIONS))).status).toBe(0);
  });

  it('refuses a concurrency that is not a whole number of invocations', async () => {
    for (const concurrency of [0, -1, 1.5, NaN, Infinity]) await expect(renderRoutes([route()], { concurrency })).rejects.toThrow(/not a number of invocations/);
  });

  it.skipIf(FAST_TIER)('listens on an IPv6 address too', async () => {
    expect((await check(await renderRoutes([], OPTIONS), '[::1]:9')).status).toBe(0);
  });

  it('refuses a main configuration value outside nginx\'s token alphabet', async () => {
    for (const v of [...Object.values(HOSTILE), NUL].filter((x) => x !== HOSTILE.empty)) {
      await expect(renderMain({ prefix: `/tmp/${v}`, listen: '127.0.0.1:9', api: 'http://127.0.0.1:9', workers: 1, authorizerSecret: 'f' })).rejects.toThrow(NginxValueError);
    }
    await expect(renderMain({ prefix: '/tmp', listen: '127.0.0.1:9', api: 'http://127.0.0.1:9', workers: 1, authorizerSecret: 'f;' })).rejects.toThrow(NginxValueError);
  });
});

describe.skipIf(FAST_TIER)('nginx for real: the auth subrequest carries the secret', () => {
  let dir: string;
  let units: SpawnUnits;
  let driver: NginxDriver;
  let api: Server;
  let fn: Server;
  let fn2: Server;
  const asked: IncomingHttpHeaders[] = [];
  const askedPaths: string[] = [];
  const apiSaw: { url: string; authorizer: unknown; host: unknown }[] = [];
  const relayed: { headers: IncomingHttpHeaders; body: string }[] = [];
  const arrived: string[] = [];
  const reported: NginxInvocation[] = [];
  const sockets = new Map<string, string>();
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let releaseInvokes!: () => void;
  const invokesHeld = new Promise<void>((r) => { releaseInvokes = r; });
  // nginx reports a request that reached a function once it has logged it, after the answer, so a test's report can
  // come in during the next one: a test counting reports first waits for every earlier one.
  const everyArrivalReported = () =>
    waitFor('every request that reached a function reported', () => reported.length >= arrived.length, 5000);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcloud-nginx-run-'));
    // pcloud's API stand-in: records what the authorization endpoint is asked, lets every URL through; an Invoke's
    // signer is the x-test-signer header here, and its function the one of that name in its account (none: no socket).
    api = createServer((req, res) => {
      if (req.url === '/pcloud/lambda/authorize/invoke') {
        asked.push(req.headers);
        const signer = String(req.headers['x-test-signer'] ?? '');
        if (!signer) return res.writeHead(401).end();
        const name = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(String(req.headers['x-original-uri']))?.[1] ?? '';
        const socket = sockets.get(`${signer}/${name}`);
        return res.writeHead(204, socket ? { 'x-pcloud-socket': socket, 'x-pcloud-account': signer, 'x-pcloud-function': `${signer}/${name}/warm` } : {}).end();
      }
      if (req.url?.startsWith('/pcloud/lambda/authorize/')) {
        asked.push(req.headers);
        askedPaths.push(req.url);
        return res.writeHead(req.headers['x-test-deny'] ? 401 : 204).end();
      }
      // A relayed function URL's request: what reached the API.
      if (req.url === '/pcloud/lambda/url-relay') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          relayed.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
          res.writeHead(200).end('relayed');
        });
        return;
      }
      // The API answering an Invoke itself.
      apiSaw.push({ url: req.url!, authorizer: req.headers['x-pcloud-authorizer'], host: req.headers.host });
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"__type":"ResourceNotFoundException"}');
    }).listen(0, '127.0.0.1');
    const fnServer = (label: string) => createServer((req, res) => {
      arrived.push(`${label} ${req.url}`);
      if (req.url === '/slow') void held.then(() => res.end('slow done'));
      else if (req.headers['x-test-hold']) void invokesHeld.then(() => res.end(`${label} done`));
      else if (req.url === '/cold') res.writeHead(200, { 'x-pcloud-cold-start': '1' }).end(`${label} cold`);
      // A function asking nginx to redirect internally (to the auth endpoint, which would carry the secret).
      else if (req.url === '/accel') res.writeHead(200, { 'x-accel-redirect': '/_pcloud_auth/url/111122223333/hello/NONE/x' }).end(`${label} accel`);
      else res.end(`${label} saw ${req.url}`);
    });
    fn = fnServer('function').listen(join(dir, 'fn.sock'));
    fn2 = fnServer('other').listen(join(dir, 'fn2.sock'));
    // Two accounts, each with a function named `same`.
    sockets.set('111122223333/same', join(dir, 'fn.sock'));
    sockets.set('444455556666/same', join(dir, 'fn2.sock'));
    await Promise.all([api, fn, fn2].map((s) => new Promise((r) => s.once('listening', r))));
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    units = new SpawnUnits();
    driver = new NginxDriver(units, join(dir, 'nginx'), `127.0.0.1:${port}`, `http://127.0.0.1:${(api.address() as AddressInfo).port}`);
    driver.onInvocation((i) => reported.push(i));
    await driver.start([route({ socket: join(dir, 'fn.sock'), mode: 'warm' })], OPTIONS);
  });
  afterAll(async () => {
    driver?.close();
    await driver?.stop();
    api?.close();
    fn?.close();
    fn2?.close();
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
    await driver.sync([route({ socket }), route({ name: 'second', urlId: 'cd'.repeat(16), socket })], OPTIONS);
    for (const pid of before) expect(title(pid)).toMatch(/shutting down|^gone$|^$/);
    expect(await (await fetch(`${driver.baseUrl}/url/${'cd'.repeat(16)}/new`)).text()).toBe('function saw /new');
    release();
    expect(await slow).toBe('slow done');
    await everyArrivalReported();
  });

  it('reports each request that reached a function (URL and Invoke) to pcloud, the cold-start word kept from the client; none that did not', async () => {
    await everyArrivalReported();
    const n = reported.length;
    const url = await fetch(`${driver.baseUrl}/url/${route().urlId}/cold`);
    expect([await url.text(), url.headers.get('x-pcloud-cold-start')]).toEqual(['function cold', null]);
    const invoke = await fetch(`${driver.baseUrl}/2015-03-31/functions/same/invocations`, { method: 'POST', body: '{}', headers: { 'x-test-signer': '444455556666' } });
    expect([await invoke.text(), invoke.headers.get('x-pcloud-cold-start')]).toEqual(['other saw /invoke', null]);
    // Refused at the proxy, and handed to pcloud's API (which counts its own): not reported.
    expect((await fetch(`${driver.baseUrl}/2015-03-31/functions/same/invocations`, { method: 'POST', body: '{}' })).status).toBe(403);
    expect((await fetch(`${driver.baseUrl}/2015-03-31/functions/same/invocations`, { method: 'POST', body: '{}', headers: { 'x-test-signer': '777788889999' } })).status).toBe(404);
    await waitFor('two reports', () => reported.length >= n + 2, 5000);
    await new Promise((r) => setTimeout(r, 200));
    // By account: two workers may log them in either order.
    const got = reported.slice(n).sort((x, y) => x.accountId.localeCompare(y.accountId));
    expect(got.map(({ seconds: _, ...r }) => r)).toEqual([
      // (The reload above synced this route again without a mode: per-request, the default.)
      { accountId: '111122223333', name: 'hello', mode: 'per-request', status: 200, coldStart: true },
      { accountId: '444455556666', name: 'same', mode: 'warm', status: 200, coldStart: false },
    ]);
    for (const r of got) expect(r.seconds).toBeGreaterThanOrEqual(0);
    expect(statSync(invocationLogPath(join(dir, 'nginx'))).mode & 0o777).toBe(0o600);
  });

  it('passes on a function\'s X-Accel-Redirect, never obeys it (no internal redirect to the auth endpoint)', async () => {
    const n = asked.length;
    const res = await fetch(`${driver.baseUrl}/url/${route().urlId}/accel`);
    expect([res.status, await res.text()]).toEqual([200, 'function accel']);
    // The URL's own authorization only.
    expect(asked).toHaveLength(n + 1);
  });

  it('asks about the URL it routes to, named in the auth path: /url/A/../B/ is B\'s, whatever the raw URI says', async () => {
    const socket = join(dir, 'fn.sock');
    const [a, b] = ['aa'.repeat(16), 'bb'.repeat(16)];
    await driver.sync([route({ socket }), route({ name: 'a', urlId: a, socket }), route({ name: 'b', urlId: b, socket })], OPTIONS);
    const n = askedPaths.length;
    // Sent as written (fetch would normalize it first).
    const status = await new Promise<number>((resolve, reject) => {
      get({ host: '127.0.0.1', port: driver.port, path: `/url/${a}/../${b}/x` }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    expect(status).toBe(200);
    expect(askedPaths.slice(n)).toEqual([`/pcloud/lambda/authorize/url/111122223333/b/NONE/${b}`]);
  });

  it('keeps the auth location internal', async () => {
    const n = asked.length;
    const res = await fetch(`${driver.baseUrl}/_pcloud_auth/url/111122223333/hello/NONE`);
    expect(res.status).toBe(404);
    expect(asked).toHaveLength(n);
  });

  const invokeVia = (name: string, signer?: string, extra: Record<string, string> = {}, query = '') =>
    fetch(`${driver.baseUrl}/2015-03-31/functions/${name}/invocations${query}`, { method: 'POST', body: '{}', headers: { ...(signer ? { 'x-test-signer': signer } : {}), ...extra } });

  it('routes an Invoke by name to the signer\'s function: two accounts with the same name each reach their own', async () => {
    expect(await (await invokeVia('same', '111122223333')).text()).toBe('function saw /invoke');
    expect(await (await invokeVia('same', '444455556666')).text()).toBe('other saw /invoke');
    // By ARN (encoded, as SDKs send it) the same location takes it.
    expect((await invokeVia('arn%3Aaws%3Alambda%3Aus-east-1%3A444455556666%3Afunction%3Asame', '444455556666')).status).toBe(404);
  });

  it('hands an Invoke with no socket to pcloud\'s API (its original URI, Host, no secret), and stops an unsigned one at the proxy', async () => {
    const n = apiSaw.length;
    const res = await invokeVia('same', '777788889999', { 'x-pcloud-authorizer': 'client' }, '?x=1');
    expect([res.status, await res.text()]).toEqual([404, '{"__type":"ResourceNotFoundException"}']);
    expect(apiSaw.slice(n)).toEqual([{ url: '/2015-03-31/functions/same/invocations?x=1', authorizer: undefined, host: new URL(driver.baseUrl).host }]);
    const unsigned = await invokeVia('same');
    expect([unsigned.status, unsigned.headers.get('x-amzn-errortype')]).toEqual([403, 'UnrecognizedClientException']);
    expect(apiSaw).toHaveLength(n + 1);
  });

  it('caps an account\'s invocations at once, Invoke and URLs together: one more is 429 in Lambda\'s form; another account goes on', async () => {
    await driver.sync([route({ socket: join(dir, 'fn.sock') })], { concurrency: 2 });
    const before = arrived.length;
    const running = [invokeVia('same', '111122223333', { 'x-test-hold': '1' }), invokeVia('same', '111122223333', { 'x-test-hold': '1' })];
    while (arrived.length < before + 2) await new Promise((r) => setTimeout(r, 5));
    const third = await invokeVia('same', '111122223333', { 'x-test-hold': '1' });
    expect([third.status, third.headers.get('x-amzn-errortype'), third.headers.get('content-type')]).toEqual([429, 'TooManyRequestsException', 'application/json']);
    expect(JSON.parse(await third.text())).toMatchObject({ __type: 'TooManyRequestsException', message: 'Rate Exceeded.' });
    // The account's function URL counts in the same limit.
    expect((await fetch(`${driver.baseUrl}/url/${route().urlId}/x`)).status).toBe(429);
    // Another account is not held back by it.
    expect(await (await invokeVia('same', '444455556666')).text()).toBe('other saw /invoke');
    expect(arrived).toHaveLength(before + 3);
    releaseInvokes();
    expect(await Promise.all(running.map(async (r) => (await r).text()))).toEqual(['function done', 'function done']);
    // Once they end, the account invokes again.
    expect(await (await invokeVia('same', '111122223333')).text()).toBe('function saw /invoke');
  });

  it('hands a URL of a function with a reserved concurrency to pcloud\'s API to count: the secret, the function, the URL, the client\'s URI and Host (its own such headers replaced), not reported by nginx (the API reports it); 0 throttles every one', async () => {
    await driver.sync([route({ socket: join(dir, 'fn.sock'), reserved: 1, mode: 'warm' })], { concurrency: 5 });
    const url = `${driver.baseUrl}/url/${route().urlId}`;
    await everyArrivalReported();
    const [arrivedBefore, reportedBefore] = [arrived.length, reported.length];
    const res = await fetch(`${url}/a/b?c=%2e%2e&d`, {
      method: 'POST', body: 'the payload',
      headers: { 'x-pcloud-authorizer': 'guessed', 'x-pcloud-function': '999999999999/other', 'x-pcloud-url': 'ff'.repeat(16), 'x-original-uri': '/elsewhere', 'x-client': 'kept' },
    });
    expect([res.status, await res.text()]).toEqual([200, 'relayed']);
    const saw = relayed.at(-1)!;
    expect(driver.authorizes(new Headers({ 'x-pcloud-authorizer': String(saw.headers['x-pcloud-authorizer']) }))).toBe(true);
    const h = saw.headers;
    expect({ ...saw, headers: { fn: h['x-pcloud-function'], url: h['x-pcloud-url'], uri: h['x-original-uri'], client: h['x-client'], host: h['x-pcloud-host'] } }).toEqual({
      headers: { fn: '111122223333/hello', url: route().urlId, uri: `/url/${route().urlId}/a/b?c=%2e%2e&d`, client: 'kept', host: new URL(driver.baseUrl).host },
      body: 'the payload',
    });
    // Not to the function's socket: the API relays it there, and reports it (an answer the API made itself is no invocation).
    expect(arrived).toHaveLength(arrivedBefore);
    await fetch(`${driver.baseUrl}/url/${route().urlId}/x`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 300));
    expect(reported).toHaveLength(reportedBefore);
    // Refused at the proxy, it never reaches the API.
    const n = relayed.length;
    expect((await fetch(`${url}/x`, { headers: { 'x-test-deny': '1' } })).status).toBe(403);
    expect(relayed).toHaveLength(n);
    await driver.sync([route({ socket: join(dir, 'fn.sock'), reserved: 0 })], { concurrency: 5 });
    const throttled = await fetch(`${url}/x`);
    expect([throttled.status, await throttled.json()]).toEqual([429, { Message: 'Rate Exceeded.' }]);
    expect(arrived).toHaveLength(arrivedBefore);
    expect(relayed).toHaveLength(n);
  });
});
