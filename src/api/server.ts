/**
 * One HTTP endpoint for every service. Each request is authenticated (SigV4) and routed by the service in its
 * credential scope (ec2, sts; lambda from the Lambda issue), falling back to the path.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Cloud } from '../cloud/index.js';
import { log } from '../log.js';
import { AuthError, scopeOf, verify } from './auth/sigv4.js';
import { ec2Error, handleEc2 } from './ec2/index.js';
import { handleSts, stsError } from './sts/index.js';
import { consoleRoutes } from './console/index.js';
import { authorizeForNginx, handleLambda, lambdaError } from './lambda/index.js';

export const MAX_BODY = 1024 * 1024;
export const MAX_LAMBDA_BODY = 70 * 1024 * 1024;

function serviceOf(req: Request, path: string): string {
  const scope = scopeOf({ url: req.url, headers: req.headers });
  if (scope) return scope.service;
  if (/^\/20(15-03-31|20-06-30|21-10-31|17-03-31)\//.test(path)) return 'lambda';
  return 'ec2';
}

function errorFor(service: string, code: string, message: string, status?: number): Response {
  if (service === 'sts') return stsError(code, message, status);
  if (service === 'lambda') return lambdaError(code, message, status);
  return ec2Error(code, message);
}

export function createApp(cloud: Cloud): Hono {
  const app = new Hono();
  // Lambda takes deployment packages inline (base64 in JSON, up to 50 MB zipped as on AWS); everything else is small.
  const limit = (maxSize: number) => bodyLimit({
    maxSize,
    onError: (c) => {
      const res = errorFor(serviceOf(c.req.raw, c.req.path), 'RequestEntityTooLarge', `Request body exceeds the maximum of ${MAX_BODY} bytes`, 413);
      // The rest of the body is never read: the connection cannot carry another request.
      res.headers.set('connection', 'close');
      return res;
    },
  });
  const small = limit(MAX_BODY);
  const large = limit(MAX_LAMBDA_BODY);
  app.use('*', (c, next) => (serviceOf(c.req.raw, c.req.path) === 'lambda' ? large : small)(c, next));
  app.use('/pcloud/lambda/authorize/*', async (c, next) => (await authorizeForNginx(cloud, c.req.raw)) ?? next());
  // The certificate that verifies instance identity documents (their signature and pkcs7): public, as AWS's are.
  app.get('/pcloud/identity-certificate.pem', () =>
    new Response(cloud.metadata.identityCertificate(), { headers: { 'content-type': 'application/x-pem-file' } }));
  consoleRoutes(app, cloud);
  app.all('*', async (c) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    const service = serviceOf(req, url.pathname);
    const body = Buffer.from(await req.arrayBuffer());
    let principal;
    try {
      principal = verify({ method: req.method, url: url.pathname + url.search, headers: req.headers, body }, (id) => cloud.accounts.findKey(id));
    } catch (err) {
      if (err instanceof AuthError) {
        log.debug(`auth failed: ${err.message}`);
        return errorFor(service, service === 'lambda' ? 'UnrecognizedClientException' : err.code, err.message, service === 'lambda' ? 403 : 401);
      }
      throw err;
    }
    switch (service) {
      case 'ec2':
        if (req.method !== 'POST' && req.method !== 'GET') return ec2Error('InvalidAction', `Method ${req.method} is not allowed`);
        return handleEc2(cloud, principal, body.toString('utf8'), url.searchParams);
      case 'sts':
        return handleSts(principal, body.toString('utf8') || url.search.slice(1));
      case 'lambda':
        return handleLambda(cloud, principal, req.method, url, req.headers, body);
      default:
        return errorFor(service, 'UnknownOperationException', `The service '${service}' is not served by this endpoint yet`, 404);
    }
  });
  app.onError((err, c) => {
    log.error(`unhandled: ${err.stack ?? err}`);
    return errorFor(serviceOf(c.req.raw, c.req.path), 'InternalError', 'An internal error has occurred', 500);
  });
  return app;
}
