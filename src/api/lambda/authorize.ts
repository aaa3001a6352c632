/** nginx's questions to pcloud's API (auth_request): may a request through to a function, and to which socket. */
import type { Cloud } from '../../cloud/index.js';
import { isIP } from 'node:net';
import { AuthError, verify, type Principal } from '../auth/sigv4.js';
import { originContext } from '../auth/origin.js';
import { functionArn } from './access.js';
import { log } from '../../log.js';

/**
 * nginx's auth_request: may this request through, and where to? nginx names what it asks in the path, and passes the
 * original method, URI and headers (not the body): a SigV4 signature over them, with the payload hash the client
 * declared in x-amz-content-sha256 (the runtime shim checks the body against it). 204 lets it through; 401/403 stop it.
 *
 * - `/pcloud/lambda/authorize/invoke`: an Invoke (nginx/function-invoke.conf), by any key. The function is the one the
 *   URI names in the SIGNER's account: its socket and account go back to nginx (X-Pcloud-Socket, X-Pcloud-Account);
 *   with no socket nginx hands the request to this API, which answers it as it answers any Invoke (a published
 *   version; a name the account does not have, another account's ARN: refused the same whatever others hold).
 * - `/pcloud/lambda/authorize/url/ACCOUNT/NAME/AUTHTYPE/URLID`: a function URL, signed by a key of its account (or open
 *   where its auth type is NONE).
 *
 * Only this server's nginx may ask (its secret in X-Pcloud-Authorizer, src/host/nginx.ts). Anyone else gets
 * undefined: the endpoint is not there for them (the caller answers as for any unknown path), whether the function
 * exists or not, and nothing is started.
 */
export async function authorizeForNginx(cloud: Cloud, req: Request): Promise<Response | undefined> {
  if (!cloud.functions.nginx?.authorizes(req.headers)) return undefined;
  const [kind, accountId, name, auth, routedUrlId] = new URL(req.url).pathname.slice('/pcloud/lambda/authorize/'.length).split('/');
  if (kind === 'invoke') {
    const principal = await signedBy(cloud, req);
    if (!principal) return new Response(null, { status: 401 });
    const signer = principal.accountId;
    // The FunctionName and Qualifier as the client sent them (anything else: for the API to answer).
    let target: { ref: string; qualifier?: string } | undefined;
    try {
      const uri = new URL(req.headers.get('x-original-uri') ?? '', 'http://nginx');
      const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(uri.pathname);
      if (m) target = { ref: decodeURIComponent(m[1]!), qualifier: uri.searchParams.get('Qualifier') ?? undefined };
    } catch (err) {
      if (!(err instanceof URIError || err instanceof TypeError)) throw err;
    }
    // A user or role session its policies do not allow lambda:InvokeFunction gets no socket: the API answers it
    // (AccessDeniedException in AWS's words, as to any Invoke it refuses).
    const to = target && (await mayInvoke(cloud, principal, req, 'lambda:InvokeFunction', functionArn(principal.region, signer, target.ref, target.qualifier)))
      && await cloud.functions.invokeSocket(signer, target.ref, target.qualifier);
    // nginx/function-invoke.conf takes them ($upstream_http_x_pcloud_socket, $upstream_http_x_pcloud_account), and the
    // function it names in the line it reports the invocation with ($upstream_http_x_pcloud_function: src/host/invocation-log.ts).
    return new Response(null, {
      status: 204,
      headers: to ? { 'x-pcloud-socket': to.socket, 'x-pcloud-account': signer, 'x-pcloud-function': `${signer}/${to.name}/${to.mode}` } : {},
    });
  }
  if (kind !== 'url' || !accountId || !name) return new Response(null, { status: 403 });
  // AWS_IAM: signed by the function's account, or by another its resource policy allows lambda:InvokeFunctionUrl.
  // And a user or role session only as far as its own policies allow lambda:InvokeFunctionUrl on the function.
  const principal = auth === 'NONE' ? undefined : await signedBy(cloud, req);
  const signer = principal?.accountId;
  // The URL nginx routed the request to (its location's, in the path it asks): not read from the client's raw URI,
  // which nginx normalized before choosing the location (/url/A/../B/ is B's).
  const urlId = routedUrlId !== undefined && /^[0-9a-f]{32}$/.test(routedUrlId) ? routedUrlId : undefined;
  const allowed = auth === 'NONE' || (principal !== undefined
    && (signer === accountId || (urlId !== undefined && (await cloud.functions.urlAllows(accountId, name, urlId, principal.accountId))))
    && (await mayInvoke(cloud, principal, req, 'lambda:InvokeFunctionUrl', cloud.functions.arn(accountId, name), new Map([['lambda:FunctionUrlAuthType', 'AWS_IAM']]))));
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

/**
 * Whether the signer's identity policies allow the action on the function (root: always). The client's address is
 * the one nginx gives (nginx/pcloud.conf sets X-Pcloud-Client-IP over any a client sent).
 */
async function mayInvoke(cloud: Cloud, principal: Principal, req: Request, action: string, arn: string | undefined, extra?: ReadonlyMap<string, string>): Promise<boolean> {
  if (principal.identity.kind === 'root') return true;
  const context = originContext(principal, { sourceIp: nginxClient(req), secure: false });
  for (const [k, v] of extra ?? []) context.set(k, v);
  return (await cloud.iam.authorize(principal.identity, { action, resources: [{ arn: arn ?? '*' }], context })).allowed;
}

/** The client's address as nginx passes it, if it is an address. */
function nginxClient(req: Request): string | undefined {
  const ip = req.headers.get('x-pcloud-client-ip') ?? undefined;
  return ip !== undefined && isIP(ip) ? ip : undefined;
}

/** Who signed the original request (as nginx describes it) with a valid SigV4 signature, if anyone. */
async function signedBy(cloud: Cloud, req: Request): Promise<Principal | undefined> {
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
    const principal = await verify({ method: req.headers.get('x-original-method') ?? 'GET', url: req.headers.get('x-original-uri') ?? '/', headers, body: Buffer.alloc(0), payload: 'declared' },
      (k) => cloud.iam.findKey(k), Date.now(), { regions: [cloud.config.region] });
    return principal;
  } catch (err) {
    if (err instanceof AuthError) {
      log.debug(`nginx authorize: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}
