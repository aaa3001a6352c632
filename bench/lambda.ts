/**
 * (f) Lambda invoke latency through pcloud's nginx, next to a direct call to the same function socket in the same run:
 * cold (per-request function: a runtime process of its own for every invoke, invokes back to back) and warm (a warm
 * worker already running), and warm invokes per second through nginx. nodejs20.x and python3.12 handlers returning
 * their event. Per request, also invokes a moment apart (`spaced`, 250 ms): Node's processes are started one request
 * ahead (src/runtime/front.py), so back to back each invoke waits for the start of its process, begun when the one
 * before came; spaced, it has started.
 */
import aws4 from 'aws4';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_CREDS, startServer } from './launch.js';
import { socketPath } from '../src/host/sockets.js';
import { freePort, round, summary } from './lib.js';
import { lambdaRole } from '../test/support/roles.js';

function zip(file: string, text: string): string {
  const d = mkdtempSync(join(tmpdir(), 'pcloud-bench-fn-'));
  writeFileSync(join(d, file), text);
  execFileSync('zip', ['-q', 'p.zip', file], { cwd: d });
  return readFileSync(join(d, 'p.zip')).toString('base64');
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function call(opts: http.RequestOptions, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A signed Lambda API call (as the SDKs send it, with the payload hash header). */
function lambda(endpoint: string, method: string, path: string, body: string, extra: Record<string, string> = {}) {
  const u = new URL(endpoint);
  const signed = aws4.sign({
    host: u.host, method, path, body, service: 'lambda', region: 'us-east-1',
    headers: { 'content-type': 'application/json', 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'), ...extra },
  }, BENCH_CREDS);
  return call({ host: u.hostname, port: u.port, method, path, headers: signed.headers, agent }, body);
}

/** The same invoke straight to the function's socket (what nginx proxies to). */
function direct(socket: string, body: string) {
  return call({ socketPath: socket, method: 'POST', path: '/invoke', headers: { 'content-type': 'application/json', connection: 'close' }, agent: false }, body);
}

async function timed(fn: () => Promise<{ status: number }>, n: number, pauseMs = 0): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    const t = process.hrtime.bigint();
    const r = await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.status !== 200) throw new Error(`invoke answered ${r.status}`);
  }
  return out;
}

export async function benchLambda(opts: { dataDir: string; runs: number; seconds: number }) {
  const port = await freePort();
  const server = await startServer(opts.dataDir, { PCLOUD_LAMBDA_LISTEN: `127.0.0.1:${port}`, PCLOUD_LAMBDA_IDLE_SEC: '600' });
  const nginx = `http://127.0.0.1:${port}`;
  const stamp = Date.now().toString(36);
  const fns = {
    node: { runtime: 'nodejs20.x', handler: 'index.handler', code: zip('index.mjs', 'export const handler = async (e) => e;') },
    python: { runtime: 'python3.12', handler: 'app.handler', code: zip('app.py', 'def handler(e, c):\n    return e\n') },
  };
  // How busy the host was (1-minute load average at the start and the end): figures from a busy host are not an idle one's.
  const loadAverage = { start: round(loadavg()[0]!), end: 0 };
  const results: Record<string, unknown> = {};
  try {
    // The functions' execution role, a real one (made through IAM, as a user makes it).
    const role = await lambdaRole(server.endpoint, BENCH_CREDS, 'bench-lambda');
    for (const [lang, f] of Object.entries(fns)) {
      for (const mode of ['per-request', 'warm'] as const) {
        const name = `bench-${lang}-${mode}-${stamp}`;
        const created = await lambda(server.endpoint, 'POST', '/2015-03-31/functions', JSON.stringify({
          FunctionName: name, Runtime: f.runtime, Handler: f.handler, Role: role,
          Code: { ZipFile: f.code }, Tags: { 'pcloud:invoke-mode': mode },
        }));
        if (created.status !== 201) throw new Error(`CreateFunction ${created.status}: ${created.body}`);
        const arn = (JSON.parse(created.body) as { FunctionArn: string }).FunctionArn;
        const socket = socketPath(join(opts.dataDir, 'run/lambda', `${arn.split(':')[4]}-${name}-latest.sock`));
        const payload = '{"hello":"bench"}';
        const path = `/2015-03-31/functions/${name}/invocations`;
        // One first invoke starts the unit (and, warm, the worker).
        await lambda(server.endpoint, 'POST', path, payload);
        const viaNginx = await timed(() => lambda(nginx, 'POST', path, payload), opts.runs);
        const viaSocket = await timed(() => direct(socket, payload), opts.runs);
        const row: Record<string, unknown> = {
          nginx: summary(viaNginx), socket: summary(viaSocket),
          overheadP50Ms: round(summary(viaNginx).p50 - summary(viaSocket).p50),
        };
        if (mode === 'per-request') row.spacedNginx = summary(await timed(() => lambda(nginx, 'POST', path, payload), opts.runs, 250));
        if (mode === 'warm') {
          // Invokes per second through nginx, 16 at a time.
          let done = 0;
          const until = Date.now() + opts.seconds * 1000;
          await Promise.all(Array.from({ length: 16 }, async () => {
            while (Date.now() < until) {
              const r = await lambda(nginx, 'POST', path, payload);
              if (r.status === 200) done++;
            }
          }));
          row.invokesPerSecond = round(done / opts.seconds, 0);
        }
        results[`${lang} ${mode === 'per-request' ? 'cold (per-request)' : 'warm'}`] = row;
        await lambda(server.endpoint, 'DELETE', `/2015-03-31/functions/${name}`, '');
      }
    }
  } finally {
    await server.stop();
  }
  loadAverage.end = round(loadavg()[0]!);
  return { loadAverage, results };
}
