/**
 * One HTTP endpoint for every service. Each request is authenticated (SigV4) and routed by the service in its
 * credential scope (ec2, sts; lambda from the Lambda issue), falling back to the path.
 */
import { Hono } from 'hono';
import type { Cloud } from '../cloud/index.js';
import { log } from '../log.js';
import { AuthError, scopeOf, verify } from './auth/sigv4.js';
import { readBody } from './body.js';
import { setStrictShapes } from './model/strict.js';
import { ec2Error, handleEc2 } from './ec2/index.js';
import { sts } from './sts/index.js';
import { iam } from './iam/index.js';
import { handleQuery, queryError, type QueryService } from './query/endpoint.js';
import { iamAccess, iamChanges, stsAccess } from './query/access.js';
import { originOf } from './auth/origin.js';
import { hostJoinRoutes } from './hosts/join.js';
import { consoleRoutes } from './console/index.js';
import { dashboardRoutes } from './dashboard/index.js';
import { hostImageRoutes } from './hosts/images.js';
import { authorizeForNginx, handleLambda, lambdaError, lambdaPathPrefixes, relayUrlForNginx } from './lambda/index.js';
import { errorCodeOf, knownService, pcloudRoute, type ApiCall, type CallFacts } from './calls.js';
import { arnOf } from '../cloud/iam/identity.js';
import { requestId as newRequestId } from '../cloud/ids.js';

export const MAX_BODY = 1024 * 1024;
export const MAX_LAMBDA_BODY = 70 * 1024 * 1024;

function serviceOf(req: Request, path: string): string {
  const scope = scopeOf({ url: req.url, headers: req.headers });
  if (scope) return scope.service;
  if (lambdaPathPrefixes.has(path.split('/')[1] ?? '')) return 'lambda';
  return 'ec2';
}

/** IAM and STS as the endpoint serves them: each action authorized (query/access.ts). */
const iamService: QueryService = { ...iam, access: iamAccess, changes: iamChanges };
const stsService: QueryService = { ...sts, access: stsAccess };

function errorFor(service: string, code: string, message: string, status?: number): Response {
  if (service === 'sts') return queryError(sts, code, message, status);
  if (service === 'iam') return queryError(iam, code, message, status);
  if (service === 'lambda') return lambdaError(code, message, status);
  return ec2Error(code, message);
}

/**
 * A refused signature in the service's words: temporary credentials past their expiry are EC2's RequestExpired, Lambda's
 * ExpiredTokenException, STS's and IAM's ExpiredToken (each a code the SDKs refresh credentials on); a session token
 * that is not the key's is EC2's AuthFailure, Lambda's UnrecognizedClientException, STS's and IAM's
 * InvalidClientTokenId; anything else as before (EC2, STS, IAM: the code with 401; Lambda: UnrecognizedClientException).
 */
function authRefusal(service: string, { code, message }: AuthError): { code: string; message: string; status?: number } {
  const lambda = service === 'lambda';
  const query = service === 'sts' || service === 'iam';
  if (code === 'ExpiredToken') {
    if (lambda) return { code: 'ExpiredTokenException', message, status: 403 };
    if (query) return { code: 'ExpiredToken', message, status: 403 };
    return { code: 'RequestExpired', message: 'Request has expired.' };
  }
  if (code === 'InvalidClientTokenId') {
    if (lambda) return { code: 'UnrecognizedClientException', message, status: 403 };
    if (query) return { code: 'InvalidClientTokenId', message, status: 403 };
    return { code: 'AuthFailure', message: 'AWS was not able to validate the provided access credentials' };
  }
  return { code: lambda ? 'UnrecognizedClientException' : code, message, status: lambda ? 403 : 401 };
}

/** What the server notes of a request on its way: the service's facts, and who signed it. */
type CallRecord = CallFacts & { service: string; accountId?: string; principalArn?: string };

export interface AppOptions {
  /** Called with each request once it is answered (the access log, the metrics); what it throws is logged, no more. */
  onCall?: (call: ApiCall) => void;
}

const REQUEST_ID = 'x-amzn-requestid';

/** The request id the answer carries; one given to it when it has none (Lambda's answers but Invoke's, pcloud's routes). */
function requestIdOf(c: { res: Response }): string {
  const given = c.res.headers.get(REQUEST_ID);
  if (given) return given;
  const id = newRequestId();
  try {
    c.res.headers.set(REQUEST_ID, id);
  } catch {
    // A response whose headers are immutable (one fetch() returned): a copy that can take it.
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set(REQUEST_ID, id);
  }
  return id;
}

/** Whether the request is presigned (its parameters are then only those of its signed query), as verify() reads it. */
const presigned = (req: Request, url: URL) => !req.headers.get('authorization') && url.searchParams.has('X-Amz-Algorithm');

export function createApp(cloud: Cloud, opts: AppOptions = {}): Hono {
  const app = new Hono();
  if (cloud.config.strictShapes) setStrictShapes(true);
  // The credential scope's region must be this cloud's (IAM's and STS's global endpoints are signed for us-east-1, as on AWS).
  const regions = [cloud.config.region];
  const globalRegions = [...new Set([cloud.config.region, 'us-east-1'])];
  // Lambda takes deployment packages inline (base64 in JSON, up to 50 MB zipped as on AWS); everything else is small.
  const bodies = new WeakMap<Request, Buffer>();
  const calls = new WeakMap<Request, CallRecord>();
  /** Answer the error, noting its code for the access log. */
  const refuse = (req: Request, service: string, code: string, message: string, status?: number) => {
    const call = calls.get(req);
    if (call) call.errorCode = code;
    return errorFor(service, code, message, status);
  };
  // Every request, once answered: its request id on the answer, and the call handed to onCall.
  app.use('*', async (c, next) => {
    const start = performance.now();
    const route = pcloudRoute(c.req.path);
    const call: CallRecord = route ? { service: 'pcloud', action: route.action } : { service: knownService(serviceOf(c.req.raw, c.req.path)) };
    calls.set(c.req.raw, call);
    await next();
    const requestId = requestIdOf(c);
    if (!opts.onCall) return;
    try {
      opts.onCall({
        requestId, service: call.service, action: call.action, status: c.res.status,
        errorCode: call.errorCode ?? (c.res.status >= 400 ? errorCodeOf(c.res.headers.get('x-amzn-errortype')) : undefined),
        ms: performance.now() - start, accountId: call.accountId, principalArn: call.principalArn,
        sourceIp: originOf((c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket).sourceIp,
      });
    } catch (err) {
      log.error(`the access log or metrics failed: ${(err as Error).message}`);
    }
  });
  // Before the body is read whole: a relayed function URL's request takes its own (url-relay.ts).
  app.all('/pcloud/lambda/url-relay', async (c, next) =>
    (await relayUrlForNginx(cloud, c.req.raw, (c.env as { incoming?: AsyncIterable<Uint8Array> } | undefined)?.incoming ?? c.req.raw.body)) ?? next());
  app.use('*', async (c, next) => {
    const service = serviceOf(c.req.raw, c.req.path);
    // The large limit only for a key pcloud knows: no one else makes it buffer 70 MB before the signature is checked.
    const key = scopeOf({ url: c.req.url, headers: c.req.raw.headers })?.accessKeyId;
    const max = service === 'lambda' && key && (await cloud.iam.findKey(key)) ? MAX_LAMBDA_BODY : MAX_BODY;
    const read = await readBody((c.env as { incoming?: AsyncIterable<Uint8Array> } | undefined)?.incoming ?? c.req.raw.body, max);
    if ('tooLarge' in read) {
      const res = refuse(c.req.raw, service, 'RequestEntityTooLarge', `Request body exceeds the maximum of ${max} bytes`, 413);
      // Read to its end, the connection carries the next request; a body past the drain bound is not read on.
      if (!read.drained) res.headers.set('connection', 'close');
      return res;
    }
    bodies.set(c.req.raw, read.body);
    await next();
  });
  app.use('/pcloud/lambda/authorize/*', async (c, next) => (await authorizeForNginx(cloud, c.req.raw)) ?? next());
  // The certificate that verifies instance identity documents (their signature and pkcs7): public, as AWS's are.
  app.get('/pcloud/identity-certificate.pem', async () =>
    new Response((await cloud.metadata.identityCertificate()), { headers: { 'content-type': 'application/x-pem-file' } }));
  consoleRoutes(app, cloud);
  hostJoinRoutes(app, cloud, (req) => bodies.get(req));
  hostImageRoutes(app, cloud);
  dashboardRoutes(app, cloud);
  app.all('*', async (c) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    const service = serviceOf(req, url.pathname);
    const body = bodies.get(req) ?? Buffer.alloc(0);
    const call = calls.get(req) ?? { service };
    // Who is asking from where (aws:SourceIp): the socket's peer, as @hono/node-server hands it over.
    const origin = originOf((c.env as { incoming?: { socket?: { remoteAddress?: string; encrypted?: boolean } } } | undefined)?.incoming?.socket);
    let principal;
    try {
      principal = await verify({ method: req.method, url: url.pathname + url.search, headers: req.headers, body }, (id) => cloud.iam.findKey(id),
        Date.now(), { regions: service === 'sts' || service === 'iam' ? globalRegions : regions });
    } catch (err) {
      if (err instanceof AuthError) {
        log.debug(`auth failed: ${err.message}`);
        const r = authRefusal(service, err);
        return refuse(req, service, r.code, r.message, r.status);
      }
      throw err;
    }
    call.accountId = principal.accountId;
    call.principalArn = arnOf(principal.identity);
    // Last used (at most once a minute per key) is written beside the request, never in its way.
    if (!principal.temporary) void cloud.accounts.used(principal.accessKeyId, principal.service, principal.region).catch((err: unknown) => log.warn(`last used of ${principal.accessKeyId}: ${(err as Error).message}`));
    // A session token (GetSessionToken: a user's or root's temporary credentials) calls no IAM action without MFA,
    // which pcloud has not: as AWS, its token is refused there (else a stolen token makes itself a lasting key).
    if (service === 'iam' && principal.temporary && principal.identity.kind !== 'assumed-role') {
      return refuse(req, service, 'InvalidClientTokenId', 'The security token included in the request is invalid', 403);
    }
    switch (service) {
      case 'ec2':
        if (req.method !== 'POST' && req.method !== 'GET') return refuse(req, service, 'InvalidAction', `Method ${req.method} is not allowed`);
        // A presigned request carries its parameters in the signed query; a body (signed as empty) adds none.
        return handleEc2(cloud, principal, presigned(req, url) ? '' : body.toString('utf8'), url.searchParams, origin, call);
      case 'sts':
      case 'iam':
        return handleQuery(service === 'sts' ? stsService : iamService, cloud, principal, (!presigned(req, url) && body.toString('utf8')) || url.search.slice(1), origin, call);
      case 'lambda':
        return handleLambda(cloud, principal, req.method, url, req.headers, body, origin, call);
      default:
        return refuse(req, service, 'UnknownOperationException', `The service '${service}' is not served by this endpoint yet`, 404);
    }
  });
  app.onError((err, c) => {
    log.error(`unhandled: ${err.stack ?? err}`);
    return refuse(c.req.raw, serviceOf(c.req.raw, c.req.path), 'InternalError', 'An internal error has occurred', 500);
  });
  return app;
}
