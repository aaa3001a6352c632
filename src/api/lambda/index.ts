/**
 * Lambda's REST-JSON API (`/2015-03-31`, `/2020-06-30`, `/2021-10-31`): routes to the domain (src/cloud/functions.ts),
 * shapes its answers, and maps errors to Lambda's JSON errors through one table.
 */
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import type { FunctionInput, FunctionView } from '../../cloud/functions.js';
import { AuthError, verify, type Principal } from '../auth/sigv4.js';
import { log } from '../../log.js';
import { validateTags } from '../../cloud/tags.js';
import { base64, parseBody, type Body } from './body.js';

/** The one table from Lambda error codes to HTTP statuses; anything else is a 400. */
const statuses: Record<string, number> = {
  ResourceNotFoundException: 404, ResourceConflictException: 409, RequestTooLargeException: 413, RequestEntityTooLargeException: 413, TooManyRequestsException: 429,
  AccessDeniedException: 403, UnrecognizedClientException: 403, InvalidSignatureException: 403, ServiceException: 500,
  UnsupportedMediaTypeException: 415, UnknownOperationException: 404,
};

export function lambdaError(code: string, message: string, status = Object.hasOwn(statuses, code) ? statuses[code]! : 400): Response {
  return new Response(JSON.stringify({ __type: code, message, Message: message }), {
    status, headers: { 'content-type': 'application/json', 'x-amzn-errortype': code },
  });
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const lastModified = (t: number) => new Date(t).toISOString().replace('Z', '+0000');

/** FunctionConfiguration, as Lambda answers it. */
export function configShape(v: FunctionView) {
  return {
    FunctionName: v.name, FunctionArn: v.arn, Runtime: v.runtime, Role: v.role, Handler: v.handler, CodeSize: v.codeSize,
    Description: v.description, Timeout: v.timeoutSec, MemorySize: v.memoryMiB, LastModified: lastModified(v.lastModified),
    CodeSha256: v.codeSha256, Version: v.version, Environment: { Variables: v.environment }, TracingConfig: { Mode: 'PassThrough' },
    RevisionId: v.revision, State: 'Active', LastUpdateStatus: 'Successful', PackageType: 'Zip', Architectures: ['x86_64'],
    EphemeralStorage: { Size: 512 }, SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
    LoggingConfig: { LogFormat: 'Text', LogGroup: `/aws/lambda/${v.name}` },
  };
}

const MODE_TAG = 'pcloud:invoke-mode';

function input(b: Body): FunctionInput {
  const vars = b.Environment ? (b.Environment.Variables ?? new Map<string, string>()) : undefined;
  return {
    runtime: b.Runtime, handler: b.Handler, role: b.Role, description: b.Description, memoryMiB: b.MemorySize, timeoutSec: b.Timeout,
    environment: vars && record(vars), mode: b.Tags?.get(MODE_TAG),
  };
}

/**
 * A map as a record of own properties (Object.fromEntries defines them: `__proto__` is only ever a key, never the
 * prototype). A plain object still, for code that asks for its constructor (drizzle does).
 */
function record(map: Map<string, string>): Record<string, string> {
  return Object.fromEntries(map);
}

const tagList = (tags: Map<string, string>) => [...tags].map(([key, value]) => ({ key, value }));

type Handler = (ctx: { cloud: Cloud; accountId: string; m: string[]; q: URLSearchParams; body: Buffer; headers: Headers }) => Promise<Response> | Response;

function tagsOf(cloud: Cloud, arn: string): Record<string, string> {
  return record(new Map((cloud.tags.of([arn]).get(arn) ?? []).map((t) => [t.key, t.value])));
}

/** ListFunctions' MaxItems (1 to 10,000) and Marker (an offset pcloud handed out). */
function listPage(q: URLSearchParams): { start: number; max: number } {
  const int = (name: string, min: number, max: number, dflt: number) => {
    const v = q.get(name);
    if (v === null) return dflt;
    if (!/^\d{1,9}$/.test(v) || +v < min || +v > max) {
      throw new CloudError('InvalidParameterValueException', `${name} must be an integer from ${min} to ${max}`);
    }
    return +v;
  };
  return { max: int('MaxItems', 1, 10_000, 50), start: int('Marker', 0, 1e9, 0) };
}

const F = '([^/]+)';
const routes: [string, RegExp, Handler][] = [
  ['POST', /^\/2015-03-31\/functions\/?$/, async ({ cloud, accountId, body }) => {
    const b = parseBody('CreateFunction', body);
    if (b.PackageType === 'Image' || b.Code?.ImageUri) throw new CloudError('InvalidParameterValueException', 'Container image functions are not supported by pcloud: use a Zip package.');
    if (b.Architectures?.some((a) => a !== 'x86_64')) throw new CloudError('InvalidParameterValueException', 'Only the x86_64 architecture runs on this host.');
    if (b.Tags) validateTags(tagList(b.Tags));
    const v = await cloud.functions.create(accountId, b.FunctionName ?? '', input(b), base64(b.Code?.ZipFile, 'Code.ZipFile'), b.Publish ?? false);
    if (b.Tags?.size) cloud.tags.put(accountId, [cloud.functions.arn(accountId, v.name)], tagList(b.Tags));
    return json(configShape(v), 201);
  }],
  ['GET', /^\/2015-03-31\/functions\/?$/, ({ cloud, accountId, q }) => {
    const all = q.get('FunctionVersion') === 'ALL';
    const list = all ? cloud.functions.list(accountId).flatMap((f) => cloud.functions.versions(accountId, f.name)) : cloud.functions.list(accountId);
    const { start, max } = listPage(q);
    const page = list.slice(start, start + max);
    return json({ Functions: page.map(configShape), NextMarker: start + max < list.length ? String(start + max) : undefined });
  }],
  ['GET', new RegExp(`^/2015-03-31/functions/${F}/?$`), ({ cloud, accountId, m, q }) => {
    const v = cloud.functions.get(accountId, m[1]!, q.get('Qualifier') ?? undefined);
    return json({
      Configuration: configShape(v),
      Code: { RepositoryType: 'S3', Location: cloud.functions.codeLocation(v) },
      Tags: tagsOf(cloud, cloud.functions.arn(accountId, v.name)),
    });
  }],
  ['DELETE', new RegExp(`^/2015-03-31/functions/${F}/?$`), async ({ cloud, accountId, m, q }) => {
    const deleted = await cloud.functions.delete(accountId, m[1]!, q.get('Qualifier') ?? undefined);
    if (!q.get('Qualifier')) cloud.tags.removeAll([cloud.functions.arn(accountId, deleted)]);
    return new Response(null, { status: 204 });
  }],
  ['GET', new RegExp(`^/2015-03-31/functions/${F}/configuration/?$`), ({ cloud, accountId, m, q }) =>
    json(configShape(cloud.functions.get(accountId, m[1]!, q.get('Qualifier') ?? undefined)))],
  ['PUT', new RegExp(`^/2015-03-31/functions/${F}/configuration/?$`), async ({ cloud, accountId, m, body }) =>
    json(configShape(await cloud.functions.updateConfiguration(accountId, m[1]!, input(parseBody('UpdateFunctionConfiguration', body)))))],
  ['PUT', new RegExp(`^/2015-03-31/functions/${F}/code/?$`), async ({ cloud, accountId, m, body }) => {
    const b = parseBody('UpdateFunctionCode', body);
    return json(configShape(await cloud.functions.updateCode(accountId, m[1]!, base64(b.ZipFile, 'ZipFile'), b.Publish ?? false)));
  }],
  ['POST', new RegExp(`^/2015-03-31/functions/${F}/versions/?$`), async ({ cloud, accountId, m, body }) =>
    json(configShape(await cloud.functions.publish(accountId, m[1]!, parseBody('PublishVersion', body).Description ?? '')), 201)],
  ['GET', new RegExp(`^/2015-03-31/functions/${F}/versions/?$`), ({ cloud, accountId, m }) =>
    json({ Versions: cloud.functions.versions(accountId, m[1]!).map(configShape) })],
  ['GET', new RegExp(`^/2020-06-30/functions/${F}/code-signing-config/?$`), ({ cloud, accountId, m }) =>
    json({ FunctionName: cloud.functions.get(accountId, m[1]!).name })],
  ['POST', new RegExp(`^/2015-03-31/functions/${F}/invocations/?$`), async ({ cloud, accountId, m, q, body, headers }) => {
    const type = headers.get('x-amz-invocation-type') ?? 'RequestResponse';
    const res = await cloud.functions.invoke(accountId, m[1]!, q.get('Qualifier') ?? undefined, body, {
      type, tail: headers.get('x-amz-log-type') === 'Tail',
    });
    if (!res) return new Response(null, { status: type === 'Event' ? 202 : 204 });
    const out: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-requestid': res.requestId, 'x-amz-executed-version': res.version ?? '$LATEST' };
    if (res.functionError) out['x-amz-function-error'] = res.functionError;
    if (res.log) out['x-amz-log-result'] = res.log;
    return new Response(new Uint8Array(res.payload), { status: 200, headers: out });
  }],
  ['POST', new RegExp(`^/2021-10-31/functions/${F}/url/?$`), async ({ cloud, accountId, m, body }) => {
    const r = cloud.functions.createUrl(accountId, m[1]!, parseBody('CreateFunctionUrlConfig', body).AuthType);
    await cloud.functions.syncRoutes();
    return json({ FunctionUrl: cloud.functions.urlOf(r.urlId!), FunctionArn: cloud.functions.arn(accountId, r.name), AuthType: r.urlAuth, CreationTime: lastModified(r.urlCreatedAt!), InvokeMode: 'BUFFERED' }, 201);
  }],
  ['GET', new RegExp(`^/2021-10-31/functions/${F}/url/?$`), ({ cloud, accountId, m }) => {
    const r = cloud.functions.url(accountId, m[1]!);
    return json({ FunctionUrl: cloud.functions.urlOf(r.urlId!), FunctionArn: cloud.functions.arn(accountId, r.name), AuthType: r.urlAuth, CreationTime: lastModified(r.urlCreatedAt!), LastModifiedTime: lastModified(r.urlCreatedAt!), InvokeMode: 'BUFFERED' });
  }],
  ['DELETE', new RegExp(`^/2021-10-31/functions/${F}/url/?$`), async ({ cloud, accountId, m }) => {
    await cloud.functions.deleteUrl(accountId, m[1]!);
    return new Response(null, { status: 204 });
  }],
  // GetAccountSettings: the account's Lambda limits and what it uses of them.
  ['GET', /^\/2016-08-19\/account-settings\/?$/, ({ cloud, accountId }) => {
    const { limits: l, usage: u } = cloud.functions.accountSettings(accountId);
    return json({
      AccountLimit: {
        TotalCodeSize: l.totalCodeSize, CodeSizeZipped: l.codeSizeZipped, CodeSizeUnzipped: l.codeSizeUnzipped,
        ConcurrentExecutions: l.concurrentExecutions, UnreservedConcurrentExecutions: l.unreservedConcurrentExecutions,
      },
      AccountUsage: { TotalCodeSize: u.totalCodeSize, FunctionCount: u.functionCount },
    });
  }],
  ['GET', /^\/2017-03-31\/tags\/(.+)$/, ({ cloud, accountId, m }) => {
    const v = cloud.functions.get(accountId, m[1]!);
    return json({ Tags: tagsOf(cloud, cloud.functions.arn(accountId, v.name)) });
  }],
  // TagResource / UntagResource; the invoke-mode tag switches the function between per-request and warm.
  ['POST', /^\/2017-03-31\/tags\/(.+)$/, async ({ cloud, accountId, m, body }) => {
    const v = cloud.functions.get(accountId, m[1]!);
    const tags = parseBody('TagResource', body).Tags ?? new Map<string, string>();
    // The invoke mode is checked before any tag is stored: a refused request leaves no tag behind.
    const mode = tags.get(MODE_TAG);
    if (mode !== undefined) cloud.functions.checkConfiguration({ mode });
    cloud.tags.put(accountId, [cloud.functions.arn(accountId, v.name)], tagList(tags));
    if (mode !== undefined) await cloud.functions.updateConfiguration(accountId, v.name, { mode });
    return new Response(null, { status: 204 });
  }],
  ['DELETE', /^\/2017-03-31\/tags\/(.+)$/, async ({ cloud, accountId, m, q }) => {
    const v = cloud.functions.get(accountId, m[1]!);
    const keys = q.getAll('tagKeys');
    if (!keys.length) throw new CloudError('ValidationException', "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
    cloud.tags.remove(accountId, [cloud.functions.arn(accountId, v.name)], keys.map((key) => ({ key })));
    if (keys.includes(MODE_TAG)) await cloud.functions.updateConfiguration(accountId, v.name, { mode: 'per-request' });
    return new Response(null, { status: 204 });
  }],
];

/** Domain errors shared with EC2 (tags), in Lambda's words. */
const lambdaCodes = new Map([['InvalidParameterValue', 'InvalidParameterValueException'], ['TagLimitExceeded', 'InvalidParameterValueException']]);

/** A path segment, percent-decoded; bad %-encoding is the caller's error. */
function segment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new CloudError('InvalidParameterValueException', 'The request path is not validly percent-encoded.');
  }
}

export async function handleLambda(cloud: Cloud, principal: Principal, method: string, url: URL, headers: Headers, body: Buffer): Promise<Response> {
  for (const [verb, re, handler] of routes) {
    const m = re.exec(url.pathname);
    if (!m || verb !== method) continue;
    try {
      return await handler({ cloud, accountId: principal.accountId, m: [m[0], ...m.slice(1).map((x) => segment(x ?? ''))], q: url.searchParams, body, headers });
    } catch (err) {
      if (err instanceof CloudError) return lambdaError(lambdaCodes.get(err.code) ?? err.code, err.message);
      log.error(`lambda ${method} ${url.pathname}: ${(err as Error).stack}`);
      return lambdaError('ServiceException', 'An internal error has occurred');
    }
  }
  return lambdaError('UnknownOperationException', `No route for ${method} ${url.pathname}`);
}

/**
 * nginx's auth_request: may this request through, and where to? nginx names what it asks in the path, and passes the
 * original method, URI and headers (not the body): a SigV4 signature over them, with the payload hash the client
 * declared in x-amz-content-sha256 (the runtime shim checks the body against it). 204 lets it through; 401/403 stop it.
 *
 * - `/pcloud/lambda/authorize/invoke`: an Invoke (nginx/function-invoke.conf), by any key. The function is the one the
 *   URI names in the SIGNER's account: its socket and account go back to nginx (X-Pcloud-Socket, X-Pcloud-Account);
 *   with no socket nginx hands the request to this API, which answers it as it answers any Invoke (a published
 *   version; a name the account does not have, another account's ARN: refused the same whatever others hold).
 * - `/pcloud/lambda/authorize/url/ACCOUNT/NAME/AUTHTYPE`: a function URL, signed by a key of its account (or open
 *   where its auth type is NONE).
 *
 * Only this server's nginx may ask (its secret in X-Pcloud-Authorizer, src/host/nginx.ts). Anyone else gets
 * undefined: the endpoint is not there for them (the caller answers as for any unknown path), whether the function
 * exists or not, and nothing is started.
 */
export async function authorizeForNginx(cloud: Cloud, req: Request): Promise<Response | undefined> {
  if (!cloud.functions.nginx?.authorizes(req.headers)) return undefined;
  const [kind, accountId, name, auth] = new URL(req.url).pathname.slice('/pcloud/lambda/authorize/'.length).split('/');
  if (kind === 'invoke') {
    const signer = signedBy(cloud, req);
    if (!signer) return new Response(null, { status: 401 });
    // The FunctionName and Qualifier as the client sent them (anything else: for the API to answer).
    let target: { ref: string; qualifier?: string } | undefined;
    try {
      const uri = new URL(req.headers.get('x-original-uri') ?? '', 'http://nginx');
      const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(uri.pathname);
      if (m) target = { ref: decodeURIComponent(m[1]!), qualifier: uri.searchParams.get('Qualifier') ?? undefined };
    } catch (err) {
      if (!(err instanceof URIError || err instanceof TypeError)) throw err;
    }
    const socket = target && await cloud.functions.invokeSocket(signer, target.ref, target.qualifier);
    // nginx/function-invoke.conf takes them ($upstream_http_x_pcloud_socket, $upstream_http_x_pcloud_account).
    return new Response(null, { status: 204, headers: socket ? { 'x-pcloud-socket': socket, 'x-pcloud-account': signer } : {} });
  }
  if (kind !== 'url' || !accountId || !name) return new Response(null, { status: 403 });
  const allowed = auth === 'NONE' ? true : signedBy(cloud, req) === accountId;
  if (!allowed) return new Response(null, { status: 401 });
  // A function URL that is a VM's console starts the VM first (a fat lambda).
  try {
    await cloud.functions.opening(accountId, name);
  } catch (err) {
    log.warn(`opening ${name}: ${(err as Error).message}`);
    return new Response(null, { status: 403 });
  }
  return new Response(null, { status: 204 });
}

/** The account whose key signed the original request (as nginx describes it) with a valid SigV4 signature, if any. */
function signedBy(cloud: Cloud, req: Request): string | undefined {
  const headers = new Headers(req.headers);
  const length = req.headers.get('x-original-content-length');
  if (length) headers.set('content-length', length);
  else headers.delete('content-length');
  try {
    // nginx does not pass the body here: a request with one must declare its signed hash (a body-less GET, e.g. a
    // presigned console URL, is checked as it is).
    if (Number(length ?? 0) > 0 && !req.headers.get('x-amz-content-sha256')) {
      throw new AuthError('SignatureDoesNotMatch', 'Through nginx, sign the payload hash (x-amz-content-sha256), or call the API endpoint');
    }
    // The body stays with nginx: the signature covers the hash the client declared, which the runtime shim checks.
    const principal = verify({ method: req.headers.get('x-original-method') ?? 'GET', url: req.headers.get('x-original-uri') ?? '/', headers, body: Buffer.alloc(0), payload: 'declared' },
      (k) => cloud.accounts.findKey(k), Date.now(), { regions: [cloud.config.region] });
    return principal.accountId;
  } catch (err) {
    if (err instanceof AuthError) {
      log.debug(`nginx authorize: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}
