/**
 * A function URL's request that nginx hands pcloud's API to count (nginx/function-url-relayed.conf: a function with a
 * reserved concurrency, whose URL requests and Invokes share its slots across every server): counted, relayed to the
 * function's socket, its answer (read whole by the domain) sent back to nginx.
 *
 * Only this server's nginx may ask (its secret in X-Pcloud-Authorizer). It has authorized the request (auth_request)
 * and names the function (X-Pcloud-Function), the URL (X-Pcloud-Url), the client's URI (X-Original-URI) and Host
 * (X-Pcloud-Host); neither the secret nor what names the function reaches it. Anyone else gets undefined: the route is
 * not there for them.
 */
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import { ReservedConcurrencyExceeded } from '../../cloud/functions/concurrency.js';
import { SYNC_PAYLOAD_MAX } from '../../cloud/functions/types.js';
import { log } from '../../log.js';
import { readBody } from '../body.js';
import { lambdaError } from './errors.js';

/** What nginx tells the API, kept from the function (the Host the API was asked under is the API's own). */
const FROM_NGINX = new Set(['x-pcloud-authorizer', 'x-pcloud-function', 'x-original-uri', 'x-pcloud-host', 'host']);

/** Statuses that carry no body (HTTP's own rule, which Response enforces). */
const NO_BODY = new Set([204, 205, 304]);

/** An answer of a function URL's own (as nginx answers an unknown URL, and as Lambda answers a failed function). */
const urlAnswer = (status: number, message: string) =>
  new Response(JSON.stringify({ Message: message }), { status, headers: { 'content-type': 'application/json' } });

export async function relayUrlForNginx(cloud: Cloud, req: Request, incoming: AsyncIterable<Uint8Array> | null): Promise<Response | undefined> {
  if (!cloud.functions.nginx?.authorizes(req.headers)) return undefined;
  const fn = /^(\d{12})\/([^/]+)$/.exec(req.headers.get('x-pcloud-function') ?? '');
  const urlId = req.headers.get('x-pcloud-url') ?? '';
  if (!fn || !/^[0-9a-f]{32}$/.test(urlId)) return urlAnswer(404, 'Not Found');
  // The path under the URL as the client sent it (/url/ID/rest?query: the function sees /rest?query, as nginx passes it).
  const rest = /^\/url\/[^/?]*(\/[^]*)$/.exec(req.headers.get('x-original-uri') ?? '')?.[1] ?? '/';
  // (nginx takes no more than this: client_max_body_size.)
  const read = await readBody(incoming, SYNC_PAYLOAD_MAX);
  if ('tooLarge' in read) return urlAnswer(413, `Request must be smaller than ${SYNC_PAYLOAD_MAX} bytes for the InvokeFunction operation`);
  const headers: [string, string][] = [];
  req.headers.forEach((v, k) => { if (!FROM_NGINX.has(k)) headers.push([k, v]); });
  const host = req.headers.get('x-pcloud-host');
  if (host) headers.push(['host', host]);
  try {
    const answer = await cloud.functions.relayUrl(fn[1]!, fn[2]!, urlId, { method: req.method, path: rest, headers, body: read.body });
    return new Response(NO_BODY.has(answer.status) ? null : new Uint8Array(answer.body), { status: answer.status, headers: answer.headers });
  } catch (err) {
    // Throttled as nginx throttles a URL past the account's invocations (nginx/pcloud.conf's @throttled).
    if (err instanceof ReservedConcurrencyExceeded) return lambdaError(err.code, err.message, 429, { Reason: err.reason });
    if (err instanceof CloudError && err.code === 'TooManyRequestsException') return lambdaError(err.code, err.message, 429);
    if (err instanceof CloudError && err.code === 'ResourceNotFoundException') return urlAnswer(404, 'Not Found');
    log.warn(`function URL of ${fn[2]}: ${(err as Error).message}`);
    return urlAnswer(502, 'Internal Server Error');
  }
}
