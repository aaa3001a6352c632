/**
 * The runtime shim for nodejs20.x and provided.al2023 functions, started by socket activation with fd 3:
 * - `--accept` (per-request): fd 3 is one connection; load the handler (or start the bootstrap), then serve the
 *   connection's one request and exit (a connection closed before any request ends it too: a process started ahead
 *   of a request that never came, src/runtime/front.py).
 * - warm: fd 3 is the listening socket; serve until idle for `--idle` seconds, then exit 133 so the socket takes the
 *   next connection (scale to zero: systemd's socket unit, or the direct manager's activator listening again).
 * Requests are HTTP: `POST /invoke` from pcloud (and from nginx for the Invoke API), body = the event, answered with the
 * handler's result (`X-Amz-Function-Error: Unhandled` and Lambda's error object when it threw or timed out; with
 * `X-Amz-Log-Type: Tail`, the last 4 KB of the invocation's log base64 in `X-Amz-Log-Result`; Event: 202 at once); anything else with
 * `X-Pcloud-Url` from nginx is a function URL request, made into a payload 2.0 event and back into HTTP.
 * nodejs20.x runs `module.export` of the handler in-process (AWS's handler contract: event, context, optional callback);
 * provided.al2023 runs the code's `bootstrap` against a Lambda Runtime API this shim serves on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runtimeApiPort } from './sandbox-range.js';
import { format } from 'node:util';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    accept: { type: 'boolean', default: false }, runtime: { type: 'string' }, code: { type: 'string' }, handler: { type: 'string' },
    function: { type: 'string' }, version: { type: 'string', default: '$LATEST' }, arn: { type: 'string', default: '' },
    memory: { type: 'string', default: '128' }, timeout: { type: 'string', default: '3' }, idle: { type: 'string', default: '60' },
    credentials: { type: 'string', default: '' },
  },
});
const code = opt.code!;

/**
 * The file pcloud keeps the function's role credentials in (renewed before they expire), and the variables the SDKs
 * read them from (with AWS_CREDENTIAL_EXPIRATION, the JS SDK's environment credentials expire and are read again).
 */
const CREDENTIAL_VARS = [['AccessKeyId', 'AWS_ACCESS_KEY_ID'], ['SecretAccessKey', 'AWS_SECRET_ACCESS_KEY'], ['Token', 'AWS_SESSION_TOKEN'],
  ['Expiration', 'AWS_CREDENTIAL_EXPIRATION']] as const;
let credentialsStamp: string | undefined;

/**
 * The function's role credentials in the environment: read from --credentials before the handler loads and again
 * before each invoke when the file changed (one stat otherwise); none while there is no file.
 */
function credentials(): void {
  if (!opt.credentials) return;
  let stamp = '';
  try {
    const st = statSync(opt.credentials, { bigint: true });
    stamp = `${st.ino}:${st.mtimeNs}:${st.size}`;
  } catch { /* no file: no credentials */ }
  if (stamp === credentialsStamp) return;
  credentialsStamp = stamp;
  let values: Record<string, unknown> = {};
  if (stamp) {
    try {
      values = JSON.parse(readFileSync(opt.credentials, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      process.stderr.write(`pcloud shim: the function's credentials could not be read: ${(err as Error).name}\n`);
    }
  }
  for (const [k, v] of CREDENTIAL_VARS) {
    const value = values?.[k];
    if (typeof value === 'string') process.env[v] = value;
    else delete process.env[v];
  }
}
credentials();
const timeoutMs = Number(opt.timeout) * 1000;

interface Outcome { payload: Buffer; error?: 'Unhandled'; log: string }
type Invoker = (event: Buffer, requestId: string, deadline: number, log: (s: string) => void) => Promise<{ result: Buffer; error?: boolean }>;

// ------------------------------------------------------------------ nodejs20.x

let nodeHandler: ((event: unknown, context: unknown, cb?: (err: unknown, res: unknown) => void) => unknown) | undefined;

async function loadNodeHandler(): Promise<NonNullable<typeof nodeHandler>> {
  if (nodeHandler) return nodeHandler;
  const dot = opt.handler!.lastIndexOf('.');
  const [file, fn] = [opt.handler!.slice(0, dot), opt.handler!.slice(dot + 1)];
  const path = ['.mjs', '.cjs', '.js'].map((ext) => join(code, file + ext)).find((p) => existsSync(p));
  if (!path) throw Object.assign(new Error(`Cannot find module '${file}'`), { name: 'Runtime.ImportModuleError' });
  const mod = await import(pathToFileURL(path).href) as Record<string, unknown> & { default?: Record<string, unknown> };
  const h = (mod[fn] ?? mod.default?.[fn]) as typeof nodeHandler;
  if (typeof h !== 'function') throw Object.assign(new Error(`${opt.handler} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  nodeHandler = h;
  return h;
}

const errorObject = (err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  return { errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') };
};

const invokeNode: Invoker = async (event, requestId, deadline, log) => {
  const context = {
    functionName: opt.function, functionVersion: opt.version, invokedFunctionArn: opt.arn, memoryLimitInMB: opt.memory,
    awsRequestId: requestId, logGroupName: `/aws/lambda/${opt.function}`, logStreamName: `pcloud/${process.pid}`,
    callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG' } as const;
  const saved = { ...console };
  for (const [m, level] of Object.entries(levels)) {
    (console as unknown as Record<string, (...a: unknown[]) => void>)[m] = (...a: unknown[]) => log(`${new Date().toISOString()}\t${requestId}\t${level}\t${format(...a)}\n`);
  }
  try {
    const h = await loadNodeHandler();
    const parsed: unknown = event.length ? JSON.parse(event.toString()) : {};
    const result = await new Promise((resolve, reject) => {
      // A handler's callback may fail with any value (Lambda answers a string as it is): passed on as given.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      const ret = h(parsed, context, (err, res) => (err ? reject(err) : resolve(res)));
      if (ret && typeof (ret as Promise<unknown>).then === 'function') (ret as Promise<unknown>).then(resolve, reject);
      else if (h.length < 3) resolve(ret);
    });
    return { result: Buffer.from(result === undefined ? 'null' : JSON.stringify(result)) };
  } catch (err) {
    const e = errorObject(err);
    log(`${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify(e)}\n`);
    return { result: Buffer.from(JSON.stringify(e)), error: true };
  } finally {
    Object.assign(console, saved);
  }
};

// ------------------------------------------------------------------ provided.al2023: a Runtime API for bootstrap

interface Pending { id: string; event: Buffer; deadline: number; done: (r: { result: Buffer; error?: boolean }) => void }
const queue: Pending[] = [];
const waiting: ServerResponse[] = [];
const inflight = new Map<string, Pending>();
let bootstrap: ChildProcess | undefined;
let runtimeApi: string | undefined;

function hand(res: ServerResponse, p: Pending): void {
  inflight.set(p.id, p);
  res.writeHead(200, {
    'content-type': 'application/json', 'lambda-runtime-aws-request-id': p.id, 'lambda-runtime-deadline-ms': String(p.deadline),
    'lambda-runtime-invoked-function-arn': opt.arn, 'lambda-runtime-trace-id': `Root=1-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
  });
  res.end(p.event);
}

/**
 * The Runtime API's address: the port that is this process's uid (the one port of the host its user may reach, and no
 * other function's: src/host/sandbox-net.ts) on a loopback address of its own, so the invokes of one function running
 * at once each have theirs; outside the sandbox range, any port of 127.0.0.1.
 */
async function listenRuntimeApi(api: Server): Promise<string> {
  const port = runtimeApiPort(process.getuid?.() ?? 0);
  // A loopback with no 127/8 route but 127.0.0.1 (EADDRNOTAVAIL) takes 127.0.0.1 from then on.
  let anyLoopback = port !== 0;
  for (let attempt = 0; ; attempt++) {
    const host = anyLoopback ? `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}` : '127.0.0.1';
    try {
      await new Promise<void>((resolve, reject) => {
        api.once('error', reject);
        api.listen(port, host, () => { api.off('error', reject); resolve(); });
      });
      return `${host}:${(api.address() as AddressInfo).port}`;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRNOTAVAIL' && anyLoopback) anyLoopback = false;
      // Its port held on every address tried (another user's socket bound to it on all addresses): said, not hidden.
      else if (code !== 'EADDRINUSE' || attempt >= 20) throw new Error(`the Runtime API cannot listen on port ${port}: ${code ?? String(err)}`, { cause: err });
    }
  }
}

async function startRuntimeApi(log: (s: string) => void): Promise<void> {
  if (runtimeApi) return;
  const api = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
        const p = queue.shift();
        if (p) hand(res, p);
        else waiting.push(res);
        return;
      }
      const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      const p = m ? inflight.get(m[1]!) : undefined;
      if (req.method === 'POST' && m && p) {
        inflight.delete(p.id);
        p.done({ result: Buffer.concat(chunks), error: m[2] === 'error' });
        res.writeHead(202).end('{"status":"OK"}');
        return;
      }
      if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
        const body = Buffer.concat(chunks);
        for (const q of queue.splice(0)) q.done({ result: body, error: true });
        res.writeHead(202).end('{"status":"OK"}');
        return;
      }
      res.writeHead(404).end();
    });
  });
  runtimeApi = await listenRuntimeApi(api);
  const path = join(code, 'bootstrap');
  bootstrap = spawn(path, [], {
    cwd: code, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AWS_LAMBDA_RUNTIME_API: runtimeApi, LAMBDA_TASK_ROOT: code, _HANDLER: opt.handler },
  });
  bootstrap.stdout!.on('data', (d: Buffer) => log(d.toString()));
  bootstrap.stderr!.on('data', (d: Buffer) => log(d.toString()));
  bootstrap.on('error', (err) => failAll(`Runtime.InvalidEntrypoint`, err.message));
  bootstrap.on('exit', (c, s) => failAll('Runtime.ExitError', `RequestId: exited with ${s ?? `error: exit status ${c}`}`));
}

/** Why the bootstrap is gone, once it is (a request after that fails at once, as one waiting then did). */
let ended: { errorType: string; errorMessage: string } | undefined;

function failAll(errorType: string, errorMessage: string): void {
  ended ??= { errorType, errorMessage };
  for (const p of [...queue.splice(0), ...inflight.values()]) p.done({ result: Buffer.from(JSON.stringify({ errorType, errorMessage })), error: true });
  inflight.clear();
}

let currentLog: (s: string) => void = (s) => process.stdout.write(s);
const invokeProvided: Invoker = async (event, requestId, deadline, log) => {
  currentLog = log;
  await startRuntimeApi((s) => currentLog(s));
  if (ended) return { result: Buffer.from(JSON.stringify(ended)), error: true };
  return new Promise((done) => {
    const p: Pending = { id: requestId, event, deadline, done };
    const w = waiting.shift();
    if (w) hand(w, p);
    else queue.push(p);
  });
};

// ------------------------------------------------------------------ serving

const invoke: Invoker = opt.runtime === 'provided.al2023' ? invokeProvided : invokeNode;
let active = 0;
let lastDone = Date.now();

async function run(event: Buffer, requestId: string): Promise<Outcome> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let log = '';
  const write = (s: string) => { log += s; process.stdout.write(s); };
  write(`START RequestId: ${requestId} Version: ${opt.version}\n`);
  credentials();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<{ result: Buffer; error: true; timeout: true }>((resolve) => {
    timer = setTimeout(() => resolve({
      result: Buffer.from(JSON.stringify({ errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds` })),
      error: true, timeout: true,
    }), timeoutMs);
  });
  const out = await Promise.race([invoke(event, requestId, deadline, write), timedOut]);
  clearTimeout(timer);
  const ms = Date.now() - started;
  write(`END RequestId: ${requestId}\n`);
  write(`REPORT RequestId: ${requestId}\tDuration: ${ms.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(ms))} ms\tMemory Size: ${opt.memory} MB\tMax Memory Used: ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB\t\n`);
  if ('timeout' in out) {
    // The handler is still running: this process cannot be trusted with another request.
    setTimeout(() => process.exit(opt.accept ? 1 : 133), 10);
  }
  return { payload: out.result, error: out.error ? 'Unhandled' : undefined, log };
}

/** A function URL request as Lambda's payload format 2.0 event. */
function urlEvent(req: IncomingMessage, body: Buffer, requestId: string): Buffer {
  const url = new URL(req.url ?? '/', 'http://function-url');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !k.startsWith('x-pcloud-')) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const text = /^(text\/|application\/(json|xml|x-www-form-urlencoded))/.test(headers['content-type'] ?? 'text/plain');
  const now = new Date();
  return Buffer.from(JSON.stringify({
    version: '2.0', routeKey: '$default', rawPath: url.pathname, rawQueryString: url.search.slice(1), headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    requestContext: {
      accountId: 'anonymous', apiId: String(req.headers['x-pcloud-url']), domainName: headers.host ?? '', domainPrefix: String(req.headers['x-pcloud-url']),
      http: { method: req.method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: String(req.headers['x-real-ip'] ?? ''), userAgent: headers['user-agent'] ?? '' },
      requestId, routeKey: '$default', stage: '$default', time: now.toUTCString(), timeEpoch: now.getTime(),
    },
    body: body.length ? (text ? body.toString() : body.toString('base64')) : undefined,
    isBase64Encoded: body.length > 0 && !text,
  }));
}

/** The handler's answer to a function URL, as HTTP (Lambda's rules: an object with statusCode is a response). */
function urlResponse(res: ServerResponse, out: Outcome): void {
  if (out.error) {
    res.writeHead(502, { 'content-type': 'application/json' }).end('{"Message":"Internal Server Error"}');
    return;
  }
  let v: unknown;
  try { v = JSON.parse(out.payload.toString()); } catch { v = out.payload.toString(); }
  if (v && typeof v === 'object' && 'statusCode' in v) {
    const r = v as { statusCode: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean; cookies?: string[] };
    // The handler's headers, but pcloud's own (X-Pcloud-*: the cold-start word is this shim's to give).
    const own = Object.entries(r.headers ?? {}).filter(([k]) => !k.toLowerCase().startsWith('x-pcloud-'));
    const headers: Record<string, string | string[]> = { 'content-type': 'application/json', ...Object.fromEntries(own) };
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    res.writeHead(r.statusCode, headers).end(r.body === undefined ? '' : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8'));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(typeof v === 'string' ? v : JSON.stringify(v));
}

/**
 * Whether this process has answered yet: its first answer carries `X-Pcloud-Cold-Start: 1` (a warm worker just started,
 * or a per-request process, whose one answer it is), which pcloud counts as a cold start (invocation-stats.ts).
 */
let answered = false;

/** Answers one request (an Invoke, or a function URL's request through nginx) with the function's result. */
async function answer(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
  const requestId = String(req.headers['x-pcloud-request-id'] ?? randomUUID());
  if (!answered) {
    answered = true;
    res.setHeader('x-pcloud-cold-start', '1');
  }
  if (opt.accept) res.setHeader('connection', 'close');
  try {
    // A body signed with its hash (SigV4 through nginx's auth_request) must be the body that was signed.
    const declared = req.headers['x-amz-content-sha256'];
    if (typeof declared === 'string' && /^[0-9a-f]{64}$/.test(declared) && createHash('sha256').update(body).digest('hex') !== declared) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"__type":"InvalidSignatureException","message":"The payload does not match its signed hash"}');
      return;
    }
    if (req.headers['x-pcloud-url']) {
      urlResponse(res, await run(urlEvent(req, body, requestId), requestId));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    // Lambda's Invoke answer, headers and all (pcloud's API passes them on; nginx serves them as they are).
    const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    const base = { 'x-amzn-requestid': requestId, 'x-amz-executed-version': opt.version };
    if (type === 'DryRun') { res.writeHead(204, base).end(); return; }
    if (type === 'Event') { res.writeHead(202, base).end(); await run(body, requestId); return; }
    const out = await run(body, requestId);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...base };
    if (out.error) headers['x-amz-function-error'] = out.error;
    if (req.headers['x-amz-log-type'] === 'Tail') headers['x-amz-log-result'] = Buffer.from(out.log).subarray(-4096).toString('base64');
    res.writeHead(200, headers).end(out.payload);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(errorObject(err)));
  }
}

let requested = false;
const server = createServer((req, res) => {
  requested = true;
  active++;
  const chunks: Buffer[] = [];
  // Per request, the process ends once its answer is out and its handler done (an Event's runs after its 202).
  let [handled, closed] = [false, false];
  const ended = () => { if (opt.accept && handled && closed) setImmediate(() => process.exit(0)); };
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => void answer(req, res, Buffer.concat(chunks)).finally(() => { handled = true; ended(); }));
  // A request that never came whole is not handled.
  req.on('close', () => { if (!req.complete) { handled = true; ended(); } });
  res.on('close', () => {
    active--;
    lastDone = Date.now();
    closed = true;
    ended();
  });
});

if (opt.accept) {
  // The runtime ready before the request comes: this process may have been started ahead of it (front.py). A handler
  // that fails to load fails again, as the invoke's error, when the request runs it.
  if (opt.runtime === 'provided.al2023') await startRuntimeApi((s) => currentLog(s)).catch(() => undefined);
  else await loadNodeHandler().catch(() => undefined);
  const conn = new Socket({ fd: 3, readable: true, writable: true });
  // Closed before any request came (the front leaving while idle): nothing to serve.
  conn.on('close', () => { if (!requested) process.exit(0); });
  server.emit('connection', conn);
} else {
  server.listen({ fd: 3 });
  const idleMs = Number(opt.idle) * 1000;
  setInterval(() => {
    if (active === 0 && Date.now() - lastDone > idleMs) {
      bootstrap?.kill('SIGTERM');
      process.exit(133);
    }
  }, Math.min(1000, idleMs / 4)).unref();
}
